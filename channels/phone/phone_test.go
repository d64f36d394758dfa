package phone

import (
	"strings"
	"testing"
)

func TestNormalise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+39 333 123 4567", "+393331234567"},
		{"0039 333 1234567", "+393331234567"},
		{"3331234567", "+393331234567"},   // a mobile, as a PBX shows it
		{"333-123.4567", "+393331234567"}, // typed in a form
		{"393331234567", "+393331234567"}, // WhatsApp's wa_id
		{"06 4673 1", "+390646731"},       // a Rome landline
		{"(06) 46731", "+390646731"},
		{"+44 20 7946 0958", "+442079460958"},
		{"0044 20 7946 0958", "+442079460958"},
		{"442079460958", "+442079460958"},
		{"  +39 06/4673-1 ", "+390646731"},
		{"anonymous", ""},
		{"+39 333 x 123", ""},
		{"", ""},
		{"+", ""},
		{"12", ""},
		{"201", ""},   // an extension
		{"1500", ""},  // a short code
		{"+3906", ""}, // too short to be anyone's
		{"00", ""},
		{"0012", ""},
		{"1234567890123456789", ""},
	}
	for _, tt := range tests {
		if got := Normalise(tt.in); got != tt.want {
			t.Errorf("Normalise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"+39 333 123 4567", "0039 06 46731", "393331234567", "anonymous", "+", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalise(s)
		if n == "" {
			return
		}
		if !strings.HasPrefix(n, "+") || len(n) < 7 || strings.Trim(n[1:], "0123456789") != "" {
			t.Fatalf("Normalise(%q) = %q: not + and digits", s, n)
		}
		if again := Normalise(n); again != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, again)
		}
	})
}
