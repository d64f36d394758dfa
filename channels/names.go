package channels

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameRunes bounds a display name taken from a channel.
const MaxNameRunes = 200

// CleanName makes a display name a provider sent safe to show: invalid
// UTF-8, control characters, bidirectional overrides and isolates, and
// zero-width characters are dropped (they reorder or hide what staff
// read), runs of spaces become one, and the result is cut to
// MaxNameRunes.
func CleanName(s string) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range strings.ToValidUTF8(s, "") {
		if n >= MaxNameRunes {
			break
		}
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case hiddenRune(r):
			continue
		}
		if space {
			if n+2 > MaxNameRunes {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// hiddenRune: control and format characters (Cc, Cf: bidi controls,
// zero-width joiners and spaces, the BOM), private-use and unassigned
// code points.
func hiddenRune(r rune) bool {
	return r == utf8.RuneError || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Co, r) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs)
}

// CleanText drops from a message body what CleanName drops except line
// breaks and tabs; it keeps the text's length.
func CleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r == '\r' || unicode.Is(unicode.Cc, r) || (unicode.Is(unicode.Cf, r) && r != '\u200d') {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
