package mailparse

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"github.com/sportello/sportello/channels/clip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/channels/email/threading"
)

var update = flag.Bool("update", false, "rewrite the .golden.json files of testdata/*.eml from what Parse returns")

// golden is what a corpus message is expected to parse to: the fields that
// matter to Sportello, with long texts cut to a prefix so that the files
// stay reviewable.
type golden struct {
	MessageID         string             `json:"message_id,omitempty"`
	InReplyTo         []string           `json:"in_reply_to,omitempty"`
	References        []string           `json:"references,omitempty"`
	From              string             `json:"from,omitempty"`
	To                []string           `json:"to,omitempty"`
	Cc                []string           `json:"cc,omitempty"`
	ReplyTo           []string           `json:"reply_to,omitempty"`
	DeliveredTo       []string           `json:"delivered_to,omitempty"`
	ReturnPath        string             `json:"return_path,omitempty"`
	NullReturnPath    bool               `json:"null_return_path,omitempty"`
	Date              string             `json:"date,omitempty"`
	Subject           string             `json:"subject"`
	NormalizedSubject string             `json:"normalized_subject"`
	Reference         string             `json:"reference,omitempty"`
	ThreadKeys        []string           `json:"thread_keys,omitempty"`
	TextBody          string             `json:"text_body"`
	FullTextPrefix    string             `json:"full_text_prefix"`
	TextFromHTML      bool               `json:"text_from_html,omitempty"`
	SanitizedHTML     string             `json:"sanitized_html,omitempty"`
	Attachments       []goldenAttachment `json:"attachments,omitempty"`
	Auto              *Auto              `json:"auto,omitempty"`
	DSN               *DSN               `json:"dsn,omitempty"`
	PEC               *goldenPEC         `json:"pec,omitempty"`
	Parts             int                `json:"parts"`
	Truncated         bool               `json:"truncated,omitempty"`
	Problems          []string           `json:"problems,omitempty"`
}

type goldenAttachment struct {
	Part        string `json:"part"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	ContentID   string `json:"content_id,omitempty"`
	Inline      bool   `json:"inline,omitempty"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256,omitempty"`
	Error       string `json:"error,omitempty"`
	// A forwarded message: its id, sender, subject and text prefix.
	Message string `json:"message,omitempty"`
}

type goldenPEC struct {
	Transport    string `json:"transport,omitempty"`
	Receipt      string `json:"receipt,omitempty"`
	RefMessageID string `json:"ref_message_id,omitempty"`
	Original     string `json:"original,omitempty"`
}

const (
	textBodyMax = 1500
	prefixMax   = 200
	htmlMax     = 3000
)

func addr(a Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

func addrs(l []Address) []string {
	var out []string
	for _, a := range l {
		out = append(out, addr(a))
	}
	return out
}

func summary(e *Embedded) string {
	if e == nil {
		return ""
	}
	return strings.Join([]string{e.MessageID, addr(e.From), e.Subject, clip.Bytes(e.TextBody, 120)}, " | ")
}

func toGolden(m *Message) golden {
	g := golden{
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		From: addr(m.From), To: addrs(m.To), Cc: addrs(m.Cc), ReplyTo: addrs(m.ReplyTo),
		DeliveredTo: addrs(m.DeliveredTo), ReturnPath: m.ReturnPath, NullReturnPath: m.NullReturnPath,
		Subject: m.Subject, NormalizedSubject: threading.NormalizeSubject(m.Subject),
		Reference: threading.Reference(m.Subject), ThreadKeys: m.ThreadKeys(),
		TextBody: clip.Bytes(m.TextBody, textBodyMax), FullTextPrefix: clip.Bytes(m.FullText, prefixMax),
		TextFromHTML: m.TextFromHTML, SanitizedHTML: clip.Bytes(m.SanitizedHTML, htmlMax),
		DSN: m.DSN, Parts: m.Parts, Truncated: m.Truncated, Problems: m.Problems,
	}
	if !m.Date.IsZero() {
		g.Date = m.Date.Format(time.RFC3339)
	}
	if m.Auto.Automatic() {
		g.Auto = &m.Auto
	}
	if m.PEC != nil {
		g.PEC = &goldenPEC{m.PEC.Transport, m.PEC.Receipt, m.PEC.RefMessageID, summary(m.PEC.Original)}
	}
	for _, a := range m.Attachments {
		g.Attachments = append(g.Attachments, goldenAttachment{
			Part: a.Part, FileName: a.FileName, ContentType: a.ContentType, ContentID: a.ContentID,
			Inline: a.Inline, Size: a.Size, SHA256: clip.Bytes(a.SHA256, 16), Error: a.Error, Message: summary(a.Message),
		})
	}
	return g
}

// TestCorpus parses every message of testdata and compares the result
// with its golden file. Run with -update to rewrite the golden files, and
// review the diff: it is the expected outcome.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Errorf("the corpus has %d messages; it should keep at least 40", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(context.Background(), bytes.NewReader(raw), Limits{}, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(toGolden(m)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			goldenFile := strings.TrimSuffix(file, ".eml") + ".golden.json"
			if *update {
				if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenFile)
			if err != nil {
				t.Fatalf("no golden file (run go test -run TestCorpus -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n%s", name, goldenFile, diffLines(string(want), string(got)))
			}
		})
	}
}

// diffLines shows the lines of want and got that differ, in order.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}
