package threading

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeSubject(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Richiesta dati", "richiesta dati"},
		{"Re: Richiesta dati", "richiesta dati"},
		{"RE: R: I: Fwd: Fw: Inoltro: AW: WG: SV: VS: Rif: Richiesta dati", "richiesta dati"},
		{"R: [2026-000123] Richiesta  dati", "richiesta dati"},
		{"Richiesta dati [2026-000123]", "richiesta dati"},
		{"[EXT] RE: Re: [2026-000123] Richiesta dati", "richiesta dati"},
		{"[External] [SPAM] Re:   Richiesta\tdati ", "richiesta dati"},
		{"Re[2]: Re(3): Richiesta dati", "richiesta dati"},
		{"RE : Richiesta dati", "richiesta dati"},
		{"Re：Richiesta dati", "richiesta dati"},
		{"POSTA CERTIFICATA: Re: Istanza di accesso", "istanza di accesso"},
		{"ANOMALIA MESSAGGIO: Richiesta informazioni", "richiesta informazioni"},
		{"Risposta automatica: Richiesta dati", "richiesta dati"},
		{"[opendata] Nuovo dataset", "nuovo dataset"},
		{"Richiesta [bozza] dati", "richiesta [bozza] dati"}, // a bracket inside the subject is the subject
		{"Réponse: Re: Città ÀÈ", "réponse: re: città àè"},   // "Réponse" is not a marker, so what follows it stays
		{"Ren: dati", "ren: dati"},                           // nor is a word that starts like one
		{"Re:", ""},
		{"[2026-000123]", ""},
		{"", ""},
		{"Re: RICHIESTA DATI ß", "richiesta dati ss"},
	} {
		if got := NormalizeSubject(tt.in); got != tt.want {
			t.Errorf("NormalizeSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReference(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Re: [2026-000123] Microdati", "2026-000123"},
		{"Microdati [2025-1234567] e [2026-000001]", "2025-1234567"},
		{"Microdati 2026-000123", ""},
		{"[2026-12] Microdati", ""},
		{"", ""},
	} {
		if got := Reference(tt.in); got != tt.want {
			t.Errorf("Reference(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTagSubject(t *testing.T) {
	for _, tt := range []struct{ subject, ref, want string }{
		{"Microdati", "2026-000123", "[2026-000123] Microdati"},
		{"Re: [2026-000123] Microdati", "2026-000123", "Re: [2026-000123] Microdati"},
		{"Re: [2025-000007] Microdati", "2026-000123", "[2026-000123] Re: [2025-000007] Microdati"},
		{"", "2026-000123", "[2026-000123]"},
		{"Microdati", "not-a-reference", "Microdati"},
	} {
		if got := TagSubject(tt.subject, tt.ref); got != tt.want {
			t.Errorf("TagSubject(%q, %q) = %q, want %q", tt.subject, tt.ref, got, tt.want)
		}
	}
	// A tagged subject normalises like the untagged one, and gives its
	// reference back.
	tagged := TagSubject("Richiesta dati", "2026-000123")
	if NormalizeSubject("Re: "+tagged) != NormalizeSubject("Richiesta dati") || Reference(tagged) != "2026-000123" {
		t.Errorf("round trip of %q", tagged)
	}
}

// FuzzNormalizeSubject: the result is clean folded text, and normalising
// it again changes nothing.
func FuzzNormalizeSubject(f *testing.F) {
	for _, s := range []string{"Re: [2026-000123] Richiesta dati", "[EXT] RE: R: I: x", "Re[2]: Re(3): x", "POSTA CERTIFICATA: x", "\xff\xfe", "Re：x", "[[[]]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeSubject(s)
		if !utf8.ValidString(n) || strings.TrimSpace(n) != n || strings.Contains(n, "  ") {
			t.Errorf("NormalizeSubject(%q) = %q: not clean", s, n)
		}
		if again := NormalizeSubject(n); again != n {
			t.Errorf("NormalizeSubject(%q) = %q, but again %q", s, n, again)
		}
		_ = Reference(s)
	})
}
