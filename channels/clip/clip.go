// Package clip shortens text to a byte budget (a database column, a log
// field, a subject line) without splitting a UTF-8 character.
package clip

import "unicode/utf8"

// Bytes returns s cut to at most n bytes, at a character boundary: the
// cut never leaves half a character, and invalid bytes before the cut are
// kept as they were.
func Bytes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Runes returns s cut to at most n characters, with "…" in place of the
// last one when it was cut (a subject line).
func Runes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
