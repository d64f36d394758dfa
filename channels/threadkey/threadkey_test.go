package threadkey

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Key
		ok   bool
	}{
		{"ref:2026-000123", Key{Kind: KindRef, Value: "2026-000123"}, true},
		{" ref: 2026-1234567 ", Key{Kind: KindRef, Value: "2026-1234567"}, true},
		{"msg:<abc@example.it>", Key{Kind: KindMsg, Value: "<abc@example.it>"}, true},
		{"msg:telegram:42:7", Key{Kind: KindMsg, Value: "telegram:42:7"}, true},
		{"ref:2026-123", Key{}, false},
		{"ref:26-000123", Key{}, false},
		{"ref:2026-000123; DROP", Key{}, false},
		{"msg:", Key{}, false},
		{"msg:" + strings.Repeat("x", MaxIDBytes+1), Key{}, false},
		{"2026-000123", Key{}, false},
		{"chat:1", Key{}, false},
		{"msg:a\x00b", Key{}, false},
		{"subj:14d:richiesta microdati", Key{Kind: KindSubject, Value: "richiesta microdati", Within: 14 * 24 * time.Hour}, true},
		{"subj:0d:richiesta", Key{}, false},
		{"subj:400d:richiesta", Key{}, false},
		{"subj:14d: ", Key{}, false},
		{"subj:14:richiesta", Key{}, false},
		{"", Key{}, false},
	} {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestBuilders(t *testing.T) {
	if got := Ref(" 2026-000123 "); got != "ref:2026-000123" {
		t.Errorf("Ref = %q", got)
	}
	if got := Ref("2026-12"); got != "" {
		t.Errorf("Ref of a non-reference = %q", got)
	}
	if got := Message(" <a@b> "); got != "msg:<a@b>" {
		t.Errorf("Message = %q", got)
	}
	if got := Message(""); got != "" {
		t.Errorf("Message of nothing = %q", got)
	}
	if got := Subject("richiesta microdati", 7); got != "subj:7d:richiesta microdati" {
		t.Errorf("Subject = %q", got)
	}
	if Subject("", 7) != "" || Subject("x", 0) != "" || Subject(strings.Repeat("x", MaxSubjectBytes+1), 7) != "" {
		t.Error("Subject accepted an empty subject, no window or a too long subject")
	}
	got := InSubject("Re: [2026-000123] Microdati [2025-000007] [2026-12]")
	if strings.Join(got, ",") != "ref:2026-000123,ref:2025-000007" {
		t.Errorf("InSubject = %v", got)
	}
}

// FuzzParse: Parse never panics, accepts only what its builders produce,
// and a parsed key prints back to a key that parses to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"ref:2026-000123", "msg:<abc@example.it>", "ref:", "msg: x ", "ref:2026-0001234567", "\xff", "subj:14d:microdati", "subj:+3d:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(k.Value) || k.Value == "" || strings.TrimSpace(k.Value) != k.Value {
			t.Fatalf("Parse(%q) = %+v: value not trimmed valid text", s, k)
		}
		var built string
		switch k.Kind {
		case KindRef:
			built = Ref(k.Value)
		case KindMsg:
			built = Message(k.Value)
		case KindSubject:
			built = Subject(k.Value, int(k.Within/(24*time.Hour)))
		default:
			t.Fatalf("Parse(%q): kind %q", s, k.Kind)
		}
		if built != k.String() {
			t.Fatalf("builder gives %q, key prints %q", built, k.String())
		}
		again, err := Parse(k.String())
		if err != nil || again != k {
			t.Fatalf("round trip of %q: %+v, %v", k.String(), again, err)
		}
	})
}
