package search

import (
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"Vorrei i microdati del censimento", "vorre microd cens"},
		{"MICRODATO, censimenti!", "microd cens"},
		{"Richiesta di dati sull'occupazione 2021", "richiest dat occup 2021"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(Terms(tt.text), " "); got != tt.want {
			t.Errorf("Terms(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	// Singular and plural, with and without accents, meet on one stem.
	for _, pair := range [][2]string{{"pubblicazione", "pubblicazioni"}, {"città", "città"}, {"tabella", "tabelle"}} {
		a, b := Terms(pair[0]), Terms(pair[1])
		if len(a) != 1 || len(b) != 1 || a[0] != b[0] {
			t.Errorf("%q → %v, %q → %v: not the same stem", pair[0], a, pair[1], b)
		}
	}
	if got := Terms(strings.Repeat("x", 100) + " dati"); len(got) != 1 {
		t.Errorf("an over-long token was kept: %v", got)
	}
}

func TestDocument(t *testing.T) {
	if got := Document("Dati europei", "dati del censimento"); got != "cens dat europe" {
		t.Fatalf("Document = %q", got)
	}
	if got := Merge("cens dat", "microdati"); got != "cens dat microd" {
		t.Fatalf("Merge = %q", got)
	}
}

func FuzzTerms(f *testing.F) {
	f.Add("Vorrei i microdati del censimento 2021")
	f.Add("\xff\xfe città")
	f.Fuzz(func(t *testing.T, s string) {
		for _, term := range Terms(s) {
			if term == "" || strings.ContainsAny(term, " \"'") {
				t.Fatalf("term %q from %q", term, s)
			}
		}
	})
}
