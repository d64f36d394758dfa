package mailparse

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// header is the top of a test message.
const header = "From: Mario Rossi <mario@example.it>\r\nTo: contatti@example.org\r\nSubject: limiti\r\n" +
	"Message-ID: <limits@example.it>\r\nMIME-Version: 1.0\r\n"

// multipartMessage builds a multipart/mixed message of the given parts
// (each a header block and a body).
func multipartMessage(parts ...string) string {
	var b strings.Builder
	b.WriteString(header + "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--B\r\n" + p + "\r\n")
	}
	b.WriteString("--B--\r\n")
	return b.String()
}

func textPart(s string) string { return "Content-Type: text/plain; charset=utf-8\r\n\r\n" + s }

func base64Part(name string, data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return "Content-Type: application/pdf; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name +
		"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b.String()
}

func parse(t *testing.T, raw string, lim Limits) *Message {
	t.Helper()
	m, err := Parse(context.Background(), strings.NewReader(raw), lim, nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func hasProblem(m *Message, substr string) bool {
	for _, p := range m.Problems {
		if strings.Contains(p, substr) {
			return true
		}
	}
	return false
}

func wantProblem(t *testing.T, m *Message, substr string) {
	t.Helper()
	if !hasProblem(m, substr) {
		t.Errorf("no problem containing %q; problems: %q", substr, m.Problems)
	}
}

func TestLimitSize(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.4 some bytes "), 4000) // 80 kB
	raw := multipartMessage(textPart("Il testo arriva."), base64Part("a.pdf", pdf), base64Part("b.pdf", pdf))
	m := parse(t, raw, Limits{MaxSize: 64 << 10})
	if !m.Truncated || m.Size != 64<<10 {
		t.Errorf("Truncated %v, Size %d; want a truncated message of 64 KiB", m.Truncated, m.Size)
	}
	wantProblem(t, m, "the message is larger than 64 KiB; the limit is 64 KiB")
	if m.TextBody != "Il testo arriva." {
		t.Errorf("TextBody %q: what came before the limit must be kept", m.TextBody)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Error != "not stored: the message size limit was reached" || m.Attachments[0].SHA256 != "" {
		t.Errorf("attachments %+v; want the first one cut by the limit, the second not read", m.Attachments)
	}

	// A message exactly at the limit is whole.
	exact := parse(t, raw, Limits{MaxSize: int64(len(raw))})
	if exact.Truncated || len(exact.Problems) > 0 || len(exact.Attachments) != 2 {
		t.Errorf("a message of exactly MaxSize bytes: truncated %v, problems %q, %d attachments", exact.Truncated, exact.Problems, len(exact.Attachments))
	}
}

func TestLimitParts(t *testing.T) {
	parts := make([]string, 1203)
	for i := range parts {
		parts[i] = textPart(fmt.Sprintf("riga %d", i+1))
	}
	m := parse(t, multipartMessage(parts...), Limits{})
	wantProblem(t, m, "the message has 1,204 MIME parts; the limit is 1,000: the parts after the 1,000th were not read")
	if !m.Truncated || m.Parts != 1204 {
		t.Errorf("Truncated %v, Parts %d", m.Truncated, m.Parts)
	}
	// Counting stops at ten times the limit: walking every part of a
	// hostile message is work too.
	many := parse(t, multipartMessage(slices.Repeat([]string{"\r\nx"}, 12000)...), Limits{})
	wantProblem(t, many, "the message has more than 10,000 MIME parts; the limit is 1,000")

	// The message itself is the first part: 999 leaves were read.
	if !strings.HasSuffix(m.FullText, "riga 999") || strings.Contains(m.FullText, "riga 1000") {
		t.Errorf("FullText ends %q; want the 999 leaves within the limit", m.FullText[max(0, len(m.FullText)-30):])
	}
}

func nestedMultipart(depth int, leaf string) string {
	var b strings.Builder
	b.WriteString(header)
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"L%d\"\r\n\r\n--L%d\r\n", i, i)
	}
	b.WriteString(leaf + "\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--L%d--\r\n", i)
	}
	return b.String()
}

func nestedForwards(depth int, leaf string) string {
	var b strings.Builder
	b.WriteString(header)
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: message/rfc822\r\n\r\nFrom: livello%d@example.it\r\nSubject: livello %d\r\n", i, i)
	}
	b.WriteString(leaf + "\r\n")
	return b.String()
}

func TestLimitDepth(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  string
	}{
		{"multipart", nestedMultipart(60, textPart("in fondo"))},
		{"forwarded messages", nestedForwards(60, textPart("in fondo"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := parse(t, tt.raw, Limits{})
			wantProblem(t, m, "MIME parts are nested more than 50 deep; the limit is 50")
			if !m.Truncated || strings.Contains(m.FullText, "in fondo") {
				t.Errorf("Truncated %v, FullText %q: the leaf below the limit must not be read", m.Truncated, m.FullText)
			}
		})
	}
	// Within the limit the leaf is read.
	m := parse(t, nestedMultipart(49, textPart("in fondo")), Limits{})
	if m.Truncated || m.TextBody != "in fondo" {
		t.Errorf("49 levels: Truncated %v, TextBody %q, problems %q", m.Truncated, m.TextBody, m.Problems)
	}
}

func TestLimitHeaderCount(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: mario@example.it\r\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "X-Spam-Filler-%d: %d\r\n", i, i)
	}
	b.WriteString("Subject: dopo il limite\r\n\r\ncorpo\r\n")
	m := parse(t, b.String(), Limits{})
	wantProblem(t, m, "the message header has 1,502 fields; the limit is 1,000: the fields after the 1,000th were ignored")
	if m.Subject != "" || m.From.Address != "mario@example.it" || m.TextBody != "corpo" {
		t.Errorf("Subject %q (want it dropped), From %q, TextBody %q", m.Subject, m.From.Address, m.TextBody)
	}

	// The same in a part header, which go-message reads with no limit.
	var p strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&p, "X-Filler-%d: %d\r\n", i, i)
	}
	p.WriteString("Content-Type: text/plain\r\n\r\ntesto della parte")
	m = parse(t, multipartMessage(p.String(), textPart("seconda parte")), Limits{})
	wantProblem(t, m, "the header of part 1 has 2,001 fields; the limit is 1,000")
	if !strings.Contains(m.FullText, "testo della parte") || !strings.Contains(m.FullText, "seconda parte") {
		t.Errorf("FullText %q: the parts must still be read", m.FullText)
	}
}

func TestLimitHeaderLength(t *testing.T) {
	long := "Subject: " + strings.Repeat("spam ", 20000) + "\r\n" // 100 kB
	m := parse(t, "From: mario@example.it\r\n"+long+"To: contatti@example.org\r\n\r\ncorpo\r\n", Limits{})
	wantProblem(t, m, "the message header has 1 field longer than 64 KiB; it was ignored")
	if m.Subject != "" || len(m.To) != 1 || m.TextBody != "corpo" {
		t.Errorf("Subject %d bytes (want dropped), To %v, TextBody %q", len(m.Subject), m.To, m.TextBody)
	}

	// A folded field is measured whole.
	folded := "Subject: a\r\n" + strings.Repeat(" piega\r\n", 12000)
	m = parse(t, "From: mario@example.it\r\n"+folded+"\r\ncorpo\r\n", Limits{})
	wantProblem(t, m, "longer than 64 KiB")

	// Total header block.
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "X-Big-%d: %s\r\n", i, strings.Repeat("x", 10000))
	}
	m = parse(t, "From: mario@example.it\r\n"+b.String()+"Subject: in fondo\r\n\r\ncorpo\r\n", Limits{})
	wantProblem(t, m, "the message header is larger than 1 MiB; the ")
	if m.Subject != "" || m.TextBody != "corpo" {
		t.Errorf("Subject %q, TextBody %q", m.Subject, m.TextBody)
	}
}

// repeatReader yields n copies of s without holding them in memory.
type repeatReader struct {
	s   string
	n   int
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.s[r.off:])
	r.off += n
	if r.off == len(r.s) {
		r.off = 0
		r.n--
	}
	return n, nil
}

// TestLimitHeaderMemory: a part header of 20 MB, in one field, is never
// held in memory: the guard drops it as it streams by.
func TestLimitHeaderMemory(t *testing.T) {
	src := io.MultiReader(
		strings.NewReader(header+"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nX-Huge: "),
		&repeatReader{s: strings.Repeat("h", 1024), n: 20 << 10}, // 20 MiB, no line end
		strings.NewReader("\r\nContent-Type: text/plain\r\n\r\ntesto\r\n--B--\r\n"),
	)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Parse(context.Background(), src, Limits{MaxSize: 64 << 20}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, m, "the header of part 1 has 1 field longer than 64 KiB")
	if m.TextBody != "testo" {
		t.Errorf("TextBody %q", m.TextBody)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("parsing a 20 MiB header field allocated %d bytes; it must be dropped while streaming", alloc)
	}
}

func TestLimitAddresses(t *testing.T) {
	var to []string
	for i := range 1204 {
		to = append(to, fmt.Sprintf("utente%d@example.it", i))
	}
	raw := "From: mario@example.it\r\nTo: " + strings.Join(to, ",\r\n ") + "\r\nSubject: tanti\r\n\r\ncorpo\r\n"
	m := parse(t, raw, Limits{})
	wantProblem(t, m, "the To field lists 1,204 addresses; the limit is 500: the addresses after the 500th were ignored")
	if len(m.To) != 500 || m.To[499].Address != "utente499@example.it" || !m.Truncated {
		t.Errorf("%d addresses kept, Truncated %v", len(m.To), m.Truncated)
	}
}

func TestLimitDecodedBytes(t *testing.T) {
	t.Run("one part decoding past the limit", func(t *testing.T) {
		big := bytes.Repeat([]byte("dati "), 40000) // 200 kB decoded
		m := parse(t, multipartMessage(textPart("testo"), base64Part("grande.pdf", big), base64Part("dopo.pdf", []byte("%PDF"))),
			Limits{MaxDecodedBytes: 64 << 10})
		wantProblem(t, m, "the parts decode to more than 64 KiB")
		if !m.Truncated || len(m.Attachments) != 1 || m.Attachments[0].Error != "not stored: the decoded size limit was reached" {
			t.Errorf("Truncated %v, attachments %+v", m.Truncated, m.Attachments)
		}
	})
	t.Run("the same attachment forwarded many times", func(t *testing.T) {
		// Each level of forwarding re-reads the attachment: 30 levels of a
		// 1 MB file are 30 MB of decoding from a 1.4 MB message.
		m := parse(t, nestedForwards(30, base64Part("copia.pdf", bytes.Repeat([]byte("x"), 1<<20))), Limits{MaxDecodedBytes: 8 << 20})
		wantProblem(t, m, "the parts decode to more than 8 MiB")
		if !m.Truncated {
			t.Error("not truncated")
		}
	})
	t.Run("compressed content is stored compressed", func(t *testing.T) {
		// 10 MiB of zeros gzip to about 10 kB: what is stored, and decoded,
		// is the 10 kB.
		gz := gzipBytes(t, bytes.Repeat([]byte{0}, 10<<20))
		part := strings.Replace(base64Part("bomba.csv.gz", gz), "application/pdf", "application/gzip", 1)
		m := parse(t, multipartMessage(textPart("allegato"), part,
			"Content-Type: text/csv\r\nContent-Encoding: gzip\r\nContent-Transfer-Encoding: x-gzip\r\n\r\nnon-inflated"), Limits{})
		if len(m.Attachments) != 2 || m.Attachments[0].Size != int64(len(gz)) || m.Attachments[1].Size != int64(len("non-inflated")) {
			t.Errorf("attachments %+v; want the compressed bytes as they came", m.Attachments)
		}
		wantProblem(t, m, `part 3 has the unknown transfer encoding "x-gzip"; it was stored as it came`)
	})
}

func TestLimitText(t *testing.T) {
	m := parse(t, multipartMessage(textPart(strings.Repeat("a", 3000)), textPart(strings.Repeat("b", 3000))), Limits{MaxTextBytes: 4000})
	wantProblem(t, m, "the text of the message is longer than 4000 bytes")
	if !m.Truncated || strings.Count(m.FullText, "a") != 3000 || strings.Count(m.FullText, "b") != 1000 {
		t.Errorf("Truncated %v, FullText has %d a and %d b", m.Truncated, strings.Count(m.FullText, "a"), strings.Count(m.FullText, "b"))
	}
}

// slowReader hands out its data one small piece at a time, pausing before
// each.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), 64)])
}

func TestLimitParseTime(t *testing.T) {
	raw := multipartMessage(textPart("primo"), base64Part("lento.pdf", bytes.Repeat([]byte("x"), 64<<10)))
	start := time.Now()
	m, err := Parse(context.Background(), &slowReader{strings.NewReader(raw), time.Millisecond}, Limits{ParseTimeout: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("Parse: %v; a parse over its time limit returns what it read", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Parse took %s with a 100ms limit", elapsed)
	}
	wantProblem(t, m, "reading the message took longer than 100ms; the limit is 100ms")
	if !m.Truncated || m.From.Address != "mario@example.it" {
		t.Errorf("Truncated %v, From %q", m.Truncated, m.From.Address)
	}

	// The caller's own cancellation is not a limit: the caller gets it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Parse(ctx, strings.NewReader(raw), Limits{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Parse with a cancelled context: %v", err)
	}
}

type failingReader struct{ after io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.after.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset by peer")
	}
	return n, err
}

func TestUnreadableSource(t *testing.T) {
	_, err := Parse(context.Background(), &failingReader{strings.NewReader(header + "\r\ncorpo")}, Limits{}, nil)
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("Parse of a failing source: %v; want ErrUnreadable", err)
	}
}
