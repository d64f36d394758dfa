package channels

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Maria Rossi", "Maria Rossi"},
		{"  Maria \t\n Rossi  ", "Maria Rossi"},
		{"Maria\u202eissoR", "MariaissoR"},                 // right-to-left override
		{"\u2066Admin\u2069 Sportello", "Admin Sportello"}, // isolates
		{"Ma\u200bria\u200d\ufeff", "Maria"},               // zero-width, BOM
		{"Mario\x00\x07\x1b[31m", "Mario[31m"},             // control characters
		{"Jos\xe9", "Jos"},                                 // invalid UTF-8
		{"Zoë 🙂 Đặng", "Zoë 🙂 Đặng"},
		{strings.Repeat("a", 500), strings.Repeat("a", MaxNameRunes)},
		{strings.Repeat("a", MaxNameRunes-1) + " bc", strings.Repeat("a", MaxNameRunes-1)},
	} {
		if got := CleanName(tc.in); got != tc.want {
			t.Errorf("CleanName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	in := "Riga 1\r\nRiga\u202e 2\tcol\x00\n👨\u200d👩\u200d👧"
	want := "Riga 1\nRiga 2\tcol\n👨\u200d👩\u200d👧"
	if got := CleanText(in); got != want {
		t.Errorf("CleanText = %q, want %q", got, want)
	}
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Maria Rossi", "a\u202eb", "\x00\xff", " x  y "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := CleanName(s)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > MaxNameRunes || got != strings.TrimSpace(got) {
			t.Fatalf("CleanName(%q) = %q", s, got)
		}
		for _, r := range got {
			if hiddenRune(r) || (r != ' ' && strings.ContainsRune("\t\n\r\v\f\u0085\u00a0", r)) {
				t.Fatalf("CleanName(%q) kept %U", s, r)
			}
		}
		if CleanName(got) != got {
			t.Fatalf("CleanName is not idempotent on %q", s)
		}
	})
}
