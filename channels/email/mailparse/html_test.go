package mailparse

import (
	"strings"
	"testing"
)

func TestSanitizeHTML(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     string
		absent   []string
	}{
		{"script", `<p>ciao</p><script>alert(1)</script>`, `<p>ciao</p>`, []string{"alert"}},
		{"style element and attribute", `<style>p{color:red}</style><p style="background:url(https://t.example.com/x)">a</p>`, `<p>a</p>`, []string{"color", "url("}},
		{"event handlers", `<p onclick="steal()">a</p><img src="x" onerror="alert(1)">`, `<p>a</p>`, []string{"steal", "onerror"}},
		{"remote image and tracking pixel", `<img src="https://t.example.com/open.gif" width="1" height="1"><img src="//t.example.com/p.gif">`, ``, []string{"<img"}},
		{"inline image kept", `<img src="cid:ii_123" alt="x">`, `<img src="cid:ii_123">`, nil},
		{"javascript and data links", `<a href="javascript:alert(1)">a</a><a href="data:text/html,x">b</a>`, `ab`, []string{"href"}},
		{"safe link", `<a href="https://example.org/x">x</a>`, `<a href="https://example.org/x" rel="nofollow noreferrer noopener" target="_blank">x</a>`, nil},
		{"mailto link", `<a href="mailto:u@example.org">u</a>`, `<a href="mailto:u@example.org" rel="nofollow noreferrer">u</a>`, nil},
		{"forms frames objects", `<form action="https://x"><input name="p"></form><iframe src="https://x"></iframe><object data="x"></object>`, ``, []string{"form", "input", "iframe", "object"}},
		{"svg", `<svg onload="alert(1)"><circle r="1"/></svg>ok`, `ok`, []string{"svg", "alert"}},
		{"meta refresh and base", `<meta http-equiv="refresh" content="0;url=https://x"><base href="https://x">t`, `t`, []string{"meta", "base"}},
		{"table formatting", `<table><tr><td colspan="2" onclick="x">a</td></tr></table>`, `<table><tr><td colspan="2">a</td></tr></table>`, nil},
		{"only invisible content", `<script>x</script><style>y</style>`, ``, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := sanitizeHTML(tt.in)
			if got != tt.want {
				t.Errorf("sanitizeHTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, a := range tt.absent {
				if strings.Contains(got, a) {
					t.Errorf("sanitizeHTML(%q) = %q keeps %q", tt.in, got, a)
				}
			}
		})
	}
}

func TestHTMLToText(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"paragraphs", `<p>Uno</p><p>Due</p>`, "Uno\n\nDue"},
		{"divs are lines", `<div>Uno</div><div>Due</div><div><br></div><div>Tre</div>`, "Uno\nDue\n\nTre"},
		{"br and entities", `a&amp;b<br>c&nbsp;d &egrave;`, "a&b\nc d è"}, // no-break spaces are spaces to search,
		{"lists", `<ul><li>uno</li><li>due</li></ul>`, "- uno\n- due"},
		{"blockquote quoted", `Sì.<blockquote>Serve altro?<br><br>Ufficio</blockquote>`, "Sì.\n\n> Serve altro?\n>\n> Ufficio"},
		{"nested blockquote", `<blockquote>a<blockquote>b</blockquote></blockquote>`, "> a\n>\n> > b"},
		{"invisible content", `<head><title>T</title><style>p{}</style></head><script>x()</script><p>visibile</p>`, "visibile"},
		{"white space collapsed", "<p>  molto\n\n   spazio   qui </p>", "molto spazio qui"},
		{"inline tags join words", `<b>gras</b>setto e <i>corsivo</i>`, "grassetto e corsivo"},
		{"pre kept", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"table cells", `<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>`, "a b\nc"},
		{"broken html", `<p>non chiuso <b>grassetto <div>blocco`, "non chiuso grassetto\nblocco"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := htmlToText(tt.in, 1<<20); got != tt.want {
				t.Errorf("htmlToText(%q) =\n%q, want\n%q", tt.in, got, tt.want)
			}
		})
	}
}

// TestHTMLToTextBounded: nested quotes cannot make the text grow past its
// cap, nor quadratically.
func TestHTMLToTextBounded(t *testing.T) {
	in := strings.Repeat("<blockquote>x<br>", 100000)
	out := htmlToText(in, 64<<10)
	if len(out) > 64<<10 || !strings.HasPrefix(out, "> x") {
		t.Errorf("%d bytes of text from %d of HTML", len(out), len(in))
	}
	if strings.Contains(out, strings.Repeat("> ", maxQuoteDepth+1)) {
		t.Error("quote prefix deeper than maxQuoteDepth")
	}
}
