package attachments

import (
	"mime"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSanitizeFileName(t *testing.T) {
	long := strings.Repeat("è", 200) + ".pdf" // 404 bytes
	for _, tt := range []struct{ in, want string }{
		{"relazione.pdf", "relazione.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\maria\Documents\domanda.docx`, "domanda.docx"},
		{"..", ""},
		{"/", ""},
		{"   ", ""},
		{".bashrc", "bashrc"},
		{"rapporto finale .pdf. ", "rapporto finale .pdf"},
		{"a\x00b\x1fc\x7f.txt", "abc.txt"},
		{"fattura\u202egpj.exe", "fatturagpj.exe"}, // right-to-left override
		{"zero\u200bwidth.png", "zerowidth.png"},
		{"riga1\u2028riga2.txt", "riga1 riga2.txt"},
		{`da<ti>:"x"|y?*.csv`, "da_ti___x__y__.csv"},
		{"bad\xff\xfeutf8.txt", "badutf8.txt"},
		{"città di Roma.odt", "città di Roma.odt"},
		{long, strings.Repeat("è", 125) + ".pdf"},
	} {
		if got := SanitizeFileName(tt.in); got != tt.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for _, name := range []string{"relazione.pdf", "città \"nuova\".pdf", "100% dati; x=1.csv", "東京.png", "a\\b.txt"} {
		v := ContentDisposition(name)
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" {
			t.Fatalf("%q: %q does not parse: %v", name, v, err)
		}
		// mime decodes filename* and prefers it to filename.
		if params["filename"] != name {
			t.Errorf("%q: %q decodes to %q", name, v, params["filename"])
		}
		_, enc, _ := strings.Cut(v, "filename*=UTF-8''")
		if dec, err := url.PathUnescape(enc); err != nil || dec != name {
			t.Errorf("%q: filename* %q decodes to %q (%v)", name, enc, dec, err)
		}
	}
}

// FuzzSanitizeFileName: whatever a client sends, the stored name is a
// single, visible, bounded path element, stable under sanitising again,
// and its Content-Disposition parses back to it.
func FuzzSanitizeFileName(f *testing.F) {
	for _, s := range []string{"relazione.pdf", "../../etc/passwd", `C:\x\y.docx`, "fattura\u202egpj.exe", "..", "a\x00b",
		strings.Repeat("è", 200) + ".pdf", "\xff", " . ", "a/b\\c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SanitizeFileName(in)
		switch {
		case !utf8.ValidString(got), len(got) > MaxFileNameBytes, strings.ContainsAny(got, `/\<>:"|?*`),
			got != strings.Trim(got, ". "), got == "." || got == "..":
			t.Fatalf("SanitizeFileName(%q) = %q", in, got)
		case strings.ContainsFunc(got, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
			t.Fatalf("SanitizeFileName(%q) = %q keeps an invisible character", in, got)
		case SanitizeFileName(got) != got:
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, SanitizeFileName(got))
		}
		if got == "" {
			return
		}
		_, params, err := mime.ParseMediaType(ContentDisposition(got))
		if err != nil || params["filename"] != got {
			t.Fatalf("ContentDisposition(%q) = %q parses to %q, %v", got, ContentDisposition(got), params["filename"], err)
		}
	})
}
