package mailparse

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sportello/sportello/channels/threadkey"
)

// fuzzLimits are small, so that the fuzzer reaches every limit with small
// inputs.
var fuzzLimits = Limits{
	MaxSize: 256 << 10, MaxParts: 40, MaxDepth: 8, MaxHeaders: 40, MaxHeaderBytes: 1024,
	MaxHeaderBlockBytes: 8 << 10, MaxAddresses: 10, MaxDecodedBytes: 512 << 10, MaxTextBytes: 64 << 10,
	ParseTimeout: 20 * time.Second,
}

func addCorpus(f *testing.F) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
}

// FuzzParse: whatever the bytes, Parse returns a Message (a bytes.Reader
// never fails), within its limits, with clean text.
func FuzzParse(f *testing.F) {
	addCorpus(f)
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\n--a--"))
	f.Add([]byte(" folded first\r\nFrom: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(context.Background(), bytes.NewReader(raw), fuzzLimits, nil)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if m.Parts > 0 && len(m.Attachments) > fuzzLimits.MaxParts {
			t.Errorf("%d attachments over %d parts", len(m.Attachments), fuzzLimits.MaxParts)
		}
		if len(m.Problems) > maxProblems+1 {
			t.Errorf("%d problems", len(m.Problems))
		}
		if len(m.FullText) > fuzzLimits.MaxTextBytes*3+16 {
			t.Errorf("FullText of %d bytes over a text limit of %d", len(m.FullText), fuzzLimits.MaxTextBytes)
		}
		if m.FullText != "" && m.TextBody == "" {
			t.Error("TextBody empty while FullText is not")
		}
		for _, s := range []string{m.Subject, m.TextBody, m.FullText, m.SanitizedHTML, m.MessageID, m.From.Name, m.From.Address} {
			checkText(t, s)
		}
		for _, a := range append(append(m.To, m.Cc...), m.ReplyTo...) {
			checkAddress(t, a)
		}
		if len(m.To) > fuzzLimits.MaxAddresses {
			t.Errorf("%d To addresses", len(m.To))
		}
		for _, a := range m.Attachments {
			if a.FileName == "" || strings.ContainsAny(a.FileName, `/\`) {
				t.Errorf("attachment file name %q", a.FileName)
			}
		}
		for _, k := range m.ThreadKeys() {
			if _, err := threadkey.Parse(k); err != nil {
				t.Errorf("thread key %q: %v", k, err)
			}
		}
	})
}

func checkText(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("invalid UTF-8: %q", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			t.Errorf("control character %U in %q", r, s)
			return
		}
	}
}

func checkAddress(t *testing.T, a Address) {
	t.Helper()
	checkText(t, a.Name)
	if strings.Count(a.Address, "@") < 1 || strings.ContainsAny(a.Address, " \t\r\n<>") || len(a.Address) > maxAddressBytes {
		t.Errorf("address %q", a.Address)
	}
	checkText(t, a.Address)
}

// FuzzParseAddressList: any field gives at most max clean addresses.
func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{
		`"Bianchi, Anna" <anna@example.it>, mario@example.it`,
		`=?UTF-8?B?55Sw5Lit5rWp?= <h@example.jp>`,
		`undisclosed-recipients:;`,
		`"Sistema" <sistema@example.net>, rotto@, "Bianchi, Anna" anna.bianchi@example.net`,
		`contatti@example.org;  , <>`,
		`a@b (commento (annidato)), <c@d>`,
		`"unterminated <x@y>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		l := ParseAddressList(field, 5)
		if len(l.Addresses) > 5 || l.Total < len(l.Addresses) {
			t.Errorf("%d addresses, total %d", len(l.Addresses), l.Total)
		}
		for _, a := range l.Addresses {
			checkAddress(t, a)
		}
	})
}
