// Package split cuts a long text into parts a messaging platform takes in
// one message (WhatsApp and Telegram: 4096 characters; Messenger: 2000;
// Instagram: 1000 bytes), at the most natural boundary that fits: a
// paragraph, else a sentence, else a word, else a character. It never cuts
// inside a UTF-8 character or a grapheme cluster (an emoji with its
// modifiers, a letter with its combining accents).
package split

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Limit is how much text one message may carry; zero fields do not limit.
type Limit struct {
	Runes int // characters (Unicode code points)
	Bytes int // UTF-8 bytes
	// UTF16 counts UTF-16 code units (Telegram measures text so: an emoji
	// outside the Basic Multilingual Plane counts 2).
	UTF16 int
}

// fits reports whether s is within l.
func (l Limit) fits(s string) bool {
	return (l.Bytes <= 0 || len(s) <= l.Bytes) && (l.Runes <= 0 || utf8.RuneCountInString(s) <= l.Runes) &&
		(l.UTF16 <= 0 || utf16Len(s) <= l.UTF16)
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// Text returns the parts of s, in order, each within l and trimmed of the
// white space it was cut at; s within l is one part as it is (trimmed).
// A text of white space only has no parts. Concatenated with the white
// space between them, the parts are s.
func Text(s string, l Limit) []string {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if l.fits(s) {
			return append(out, s)
		}
		cut := cutAt(s, l)
		// Not empty: s starts with a non-space and cutAt ends after at
		// least one grapheme.
		out = append(out, strings.TrimRightFunc(s[:cut], unicode.IsSpace))
		s = strings.TrimLeftFunc(s[cut:], unicode.IsSpace)
	}
	return out
}

// cutAt returns where the first part of s (which does not fit l) ends.
func cutAt(s string, l Limit) int {
	var (
		end, runes, units           int // what fits so far
		para, sentence, word, glyph int // last boundary of each kind that fits
		prev, prevPrev              string
	)
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		c := g.Str()
		from, to := g.Positions()
		n, u := utf8.RuneCountInString(c), utf16Len(c)
		if (l.Bytes > 0 && to > l.Bytes) || (l.Runes > 0 && runes+n > l.Runes) || (l.UTF16 > 0 && units+u > l.UTF16) {
			break
		}
		runes, units, end = runes+n, units+u, to
		space := strings.TrimSpace(c) == ""
		switch {
		case newline(c) && (newline(prev) || (strings.TrimSpace(prev) == "" && newline(prevPrev))):
			para = from
		case space && endsSentence(prev):
			sentence = from
		case space:
			word = from
		}
		if !space {
			glyph = to
		}
		prevPrev, prev = prev, c
	}
	// A boundary too early would leave a part far shorter than the limit:
	// a paragraph is taken past the first third of what fits, a sentence
	// past its half, else the last word.
	switch {
	case para > end/3:
		return para
	case sentence > end/2:
		return sentence
	case word > 0:
		return word
	}
	if glyph == 0 {
		// Not even one grapheme fits (a limit smaller than one emoji):
		// take the first one whole rather than split it.
		g := uniseg.NewGraphemes(s)
		g.Next()
		_, to := g.Positions()
		return to
	}
	return glyph
}

// endsSentence reports whether grapheme c ends a sentence.
func endsSentence(c string) bool {
	switch c {
	case ".", "!", "?", "…", ";":
		return true
	}
	return false
}

func newline(c string) bool { return c == "\n" || c == "\r\n" || c == "\r" }
