package split

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

func TestText(t *testing.T) {
	para1 := strings.Repeat("Gentile cittadino, la pratica è in lavorazione. ", 40) // 2000 chars
	para2 := strings.Repeat("Abbiamo chiesto i documenti all'ufficio anagrafe! ", 30)
	emoji := "👩🏽‍💻" // one grapheme of 5 code points
	tests := []struct {
		name  string
		in    string
		limit Limit
		want  []string // nil: only check the invariants
		parts int
	}{
		{"fits", "  Buongiorno  ", Limit{Runes: 4096}, []string{"Buongiorno"}, 1},
		{"blank", " \n\t ", Limit{Runes: 10}, nil, 0},
		{"paragraph", "Primo paragrafo.\n\nSecondo paragrafo più lungo.", Limit{Runes: 40}, []string{"Primo paragrafo.", "Secondo paragrafo più lungo."}, 2},
		{"sentence", "Uno due tre. Quattro cinque sei sette otto.", Limit{Runes: 22}, []string{"Uno due tre.", "Quattro cinque sei", "sette otto."}, 3},
		{"word", "alfa beta gamma delta epsilon", Limit{Runes: 12}, []string{"alfa beta", "gamma delta", "epsilon"}, 3},
		{"no spaces", strings.Repeat("x", 25), Limit{Runes: 10}, []string{strings.Repeat("x", 10), strings.Repeat("x", 10), "xxxxx"}, 3},
		{"grapheme not split", strings.Repeat("a", 8) + emoji + "b", Limit{Runes: 10}, []string{strings.Repeat("a", 8), emoji + "b"}, 2},
		{"combining accent", strings.Repeat("e\u0301", 6), Limit{Runes: 5}, []string{"e\u0301e\u0301", "e\u0301e\u0301", "e\u0301e\u0301"}, 3},
		{"bytes", strings.Repeat("è", 10), Limit{Bytes: 7}, []string{"èèè", "èèè", "èèè", "è"}, 4},
		{"limit below one grapheme", emoji + emoji, Limit{Runes: 2}, []string{emoji, emoji}, 2},
		{"whatsapp", para1 + "\n\n" + para2 + "\n\n" + para1 + para1, Limit{Runes: 4096}, []string{para1 + "\n\n" + strings.TrimSpace(para2), strings.TrimSpace(para1 + para1)}, 2},
		{"instagram", para1 + para2, Limit{Bytes: 1000}, nil, 4},
		{"utf16", strings.Repeat("😀", 5), Limit{UTF16: 4}, []string{"😀😀", "😀😀", "😀"}, 3},
		{"crlf paragraphs", "Uno.\r\n\r\nDue due due.", Limit{Runes: 12}, []string{"Uno.", "Due due due."}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.in, tt.limit)
			if len(got) != tt.parts {
				t.Fatalf("%d parts %q, want %d", len(got), got, tt.parts)
			}
			if tt.want != nil {
				for i := range tt.want {
					if got[i] != tt.want[i] {
						t.Errorf("part %d = %q, want %q", i, got[i], tt.want[i])
					}
				}
			}
			checkParts(t, tt.in, got, tt.limit)
		})
	}
}

// checkParts: each part is within the limit (unless it is one grapheme
// larger than the limit), valid UTF-8, starts and ends at grapheme
// boundaries of the input, and the parts are the input's non-space text
// in order.
func checkParts(t *testing.T, in string, parts []string, l Limit) {
	t.Helper()
	rest := in
	for i, p := range parts {
		if !utf8.ValidString(p) || p == "" || strings.TrimSpace(p) != p {
			t.Errorf("part %d %q: invalid, empty or untrimmed", i, p)
		}
		if !l.fits(p) && uniseg.GraphemeClusterCount(p) > 1 {
			t.Errorf("part %d has %d characters, %d bytes, %d UTF-16 units: over %+v", i, utf8.RuneCountInString(p), len(p), utf16Len(p), l)
		}
		at := strings.Index(rest, p)
		if at < 0 || strings.TrimSpace(rest[:at]) != "" {
			t.Fatalf("part %d %q is not the next text of the input", i, p)
		}
		// The part's end is a grapheme boundary of the input.
		before := uniseg.GraphemeClusterCount(rest[:at+len(p)])
		whole := uniseg.GraphemeClusterCount(rest[:at+len(p)] + firstGrapheme(rest[at+len(p):]))
		if firstGrapheme(rest[at+len(p):]) != "" && whole != before+1 {
			t.Errorf("part %d ends inside a grapheme cluster", i)
		}
		rest = rest[at+len(p):]
	}
	if strings.TrimSpace(rest) != "" {
		t.Errorf("text left over: %q", rest)
	}
}

func firstGrapheme(s string) string {
	g := uniseg.NewGraphemes(s)
	if !g.Next() {
		return ""
	}
	return g.Str()
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"Uno due. Tre\n\nquattro", "👩🏽‍💻👩🏽‍💻 e\u0301", "\xff\xfe invalid", strings.Repeat("ab ", 50)} {
		f.Add(s, 7, 0)
		f.Add(s, 0, 9)
	}
	f.Fuzz(func(t *testing.T, s string, runes, bytes int) {
		if runes < 0 || bytes < 0 || runes > 5000 || bytes > 5000 || (runes == 0 && bytes == 0) || !utf8.ValidString(s) {
			t.Skip()
		}
		l := Limit{Runes: runes, Bytes: bytes, UTF16: runes}
		checkParts(t, s, Text(s, l), l)
	})
}
