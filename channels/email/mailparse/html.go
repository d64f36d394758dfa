package mailparse

import (
	"bytes"
	"github.com/sportello/sportello/channels/clip"
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// htmlPolicy is the policy of SanitizedHTML: the formatting of a letter
// (paragraphs, emphasis, lists, tables, quotes, links) and nothing that
// runs, loads or styles: no script, style element or attribute, event
// handler, form, frame, object or remote resource. Images are kept only
// when they point at one of the message's own parts ("cid:"), so remote
// images, and with them tracking pixels, are dropped; the web layer maps
// cid: to the attachment's download URL. Links keep http, https and
// mailto, open in a new tab and send no referrer.
var htmlPolicy = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "div", "span", "b", "strong", "i", "em", "u", "s", "strike", "sub", "sup",
		"small", "big", "font", "center", "blockquote", "pre", "code", "tt", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
		"ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
		"colgroup", "col", "address", "abbr", "cite", "q", "del", "ins", "mark")
	p.AllowAttrs("colspan", "rowspan").Matching(bluemonday.Integer).OnElements("td", "th")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`(?i)^(left|right|center|justify)$`)).OnElements("p", "div", "td", "th", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6")
	p.AllowAttrs("dir").Matching(regexp.MustCompile(`(?i)^(ltr|rtl|auto)$`)).Globally()
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	// Only src is allowed on img, so that an image whose remote src was
	// removed has no attribute left and goes too.
	p.AllowAttrs("src").Matching(regexp.MustCompile(`(?i)^cid:[^\s"'<>]+$`)).OnElements("img")
	return p
})

// sanitizeHTML returns the safe form of an HTML body, "" when nothing
// visible is left.
func sanitizeHTML(s string) string {
	out := strings.TrimSpace(htmlPolicy().Sanitize(s))
	if out == "" {
		return ""
	}
	return out
}

// htmlToUTF8 decodes an HTML body that declared no charset and is not
// UTF-8, by its <meta> charset, or as Windows-1252.
func htmlToUTF8(data []byte) string {
	enc, _, _ := charset.DetermineEncoding(data, "text/html")
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return decodeWindows1252(data)
	}
	return string(out)
}

// htmlToText renders the text of an HTML body for reading and search:
// block elements start lines, list items get "- ", and the content of
// <blockquote> is quoted with "> " as a plain-text mail would be, so that
// trimReply recognises the quoted original in an HTML-only reply.
// Scripts, styles and the head are not text.
//
// The text is cut at limit bytes: quote prefixes repeat on every line, so
// the text of hostile HTML could be longer than the HTML.
func htmlToText(s string, limit int) string {
	z := html.NewTokenizer(strings.NewReader(s))
	b := textBuilder{}
	skip := 0 // depth inside elements whose content is not text
	pre := 0
	for b.buf.Len() <= limit {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(clip.Bytes(b.String(), limit))
		case html.TextToken:
			if skip > 0 {
				continue
			}
			b.text(string(z.Text()), pre > 0)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			end := tt == html.EndTagToken
			switch tag {
			case "script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe":
				if tt == html.StartTagToken {
					skip++
				} else if end && skip > 0 {
					skip--
				}
			case "br":
				b.newline()
			case "pre":
				b.block()
				if end {
					pre = max(pre-1, 0)
				} else if tt == html.StartTagToken {
					pre++
				}
			case "blockquote":
				b.block()
				if end {
					b.quote = max(b.quote-1, 0)
				} else if tt == html.StartTagToken {
					b.quote++
				}
			case "li":
				if !b.lineStart {
					b.newline()
				}
				if !end {
					b.text("- ", true)
				}
			case "td", "th":
				b.space = true
			case "hr":
				b.block()
			case "div", "tr", "dt", "dd", "section", "article", "header", "footer", "address", "center":
				// Mail editors write one <div> a line.
				if !b.lineStart {
					b.newline()
				}
			case "p", "table", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "form", "fieldset", "body", "html":
				b.block()
			}
		}
	}
	return strings.TrimSpace(clip.Bytes(b.String(), limit))
}

// textBuilder writes text with quote prefixes and collapsed white space.
type textBuilder struct {
	buf       bytes.Buffer
	quote     int
	lineStart bool
	blankOK   bool   // a blank line may be written before the next text
	blank     string // the quote prefix of that blank line
	space     bool   // a space is due before the next word
	started   bool
}

// maxQuoteDepth caps the quote prefix: a reply quoted deeper than this
// reads the same, and a prefix per nesting level per line would let
// nested blockquotes grow the text quadratically.
const maxQuoteDepth = 10

func (b *textBuilder) String() string { return b.buf.String() }

// newline ends the current line.
func (b *textBuilder) newline() {
	if b.started {
		if b.lineStart {
			// An empty line inside a quote stays quoted.
			b.buf.WriteString(strings.TrimRight(b.prefix(), " "))
		}
		b.buf.WriteByte('\n')
	}
	b.lineStart, b.space = true, false
}

// block separates a block from what came before with a blank line.
func (b *textBuilder) block() {
	if !b.started {
		return
	}
	if !b.lineStart {
		b.newline()
	}
	if !b.blankOK {
		// The blank line belongs to the level the block is left at.
		b.blankOK, b.blank = true, strings.TrimRight(b.prefix(), " ")
	}
}

func (b *textBuilder) text(s string, pre bool) {
	if pre {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				b.newline()
			}
			b.write(line)
		}
		return
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		b.space = b.space || s != ""
		return
	}
	if isSpace(s[0]) {
		b.space = true
	}
	for i, w := range words {
		if i > 0 {
			b.space = true
		}
		b.write(w)
	}
	b.space = isSpace(s[len(s)-1])
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func (b *textBuilder) write(w string) {
	if w == "" {
		return
	}
	if b.lineStart || !b.started {
		if b.blankOK && b.started {
			b.buf.WriteString(b.blank)
			b.buf.WriteByte('\n')
		}
		b.buf.WriteString(b.prefix())
		b.lineStart, b.blankOK = false, false
		b.started = true
	} else if b.space {
		b.buf.WriteByte(' ')
	}
	b.space = false
	b.buf.WriteString(w)
}

func (b *textBuilder) prefix() string { return strings.Repeat("> ", min(b.quote, maxQuoteDepth)) }
