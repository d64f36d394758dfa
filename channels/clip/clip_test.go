package clip

import (
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 3, "abc"},
		{"abcdef", 3, "abc"},
		{"perché", 6, "perch"}, // é is two bytes: not split
		{"perché", 7, "perché"},
		{"€uro", 2, ""},
		{"ok\xffok", 4, "ok\xffo"}, // invalid bytes before the cut stay
		{"abc", 0, ""},
		{"abc", -1, ""},
	}
	for _, tt := range tests {
		if got := Bytes(tt.s, tt.n); got != tt.want {
			t.Errorf("Bytes(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestRunes(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"Telegram – Anna", 20, "Telegram – Anna"},
		{"abcdef", 4, "abc…"},
		{"perché sì", 7, "perché…"},
		{"x", 0, ""},
	}
	for _, tt := range tests {
		if got := Runes(tt.s, tt.n); got != tt.want {
			t.Errorf("Runes(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func FuzzBytes(f *testing.F) {
	f.Add("perché €", 5)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := Bytes(s, n)
		if len(got) > max(n, 0) || got != s[:len(got)] {
			t.Fatalf("Bytes(%q, %d) = %q", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Bytes(%q, %d) = %q splits a character", s, n, got)
		}
	})
}
