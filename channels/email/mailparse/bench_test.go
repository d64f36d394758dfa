package mailparse

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sportello/sportello/services/attachments"
)

// bigMessage writes to w a message of about 25 MB: a short text, an HTML
// body, and one attachment of attSize random bytes in base64 (the usual
// case) or, with binary, sent as is (8BITMIME/BINARYMIME), so that a 20 MB
// attachment fits in a 25 MB message. It returns the attachment's SHA-256.
func bigMessage(t testing.TB, w io.Writer, attSize int, binary bool) string {
	t.Helper()
	att := make([]byte, attSize)
	if _, err := rand.Read(att); err != nil {
		t.Fatal(err)
	}
	copy(att, "%PDF-1.7\n")
	sum := sha256.Sum256(att)
	write := func(s string) {
		if _, err := io.WriteString(w, s); err != nil {
			t.Fatal(err)
		}
	}
	write(header + "Content-Type: multipart/mixed; boundary=\"BIG\"\r\n\r\n--BIG\r\n" +
		"Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n--ALT\r\n" +
		textPart("Buongiorno, allego il file richiesto.\r\n\r\nMario") + "\r\n--ALT\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Buongiorno, allego il file richiesto.</p><p>Mario</p>\r\n--ALT--\r\n--BIG\r\n")
	if binary {
		write("Content-Type: application/pdf; name=\"grande.pdf\"\r\nContent-Transfer-Encoding: binary\r\n\r\n")
		if _, err := w.Write(att); err != nil {
			t.Fatal(err)
		}
	} else {
		write("Content-Type: application/pdf; name=\"grande.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.NewEncoder(base64.StdEncoding, &lineBreaker{w: w})
		if _, err := enc.Write(att); err != nil {
			t.Fatal(err)
		}
		enc.Close()
	}
	write("\r\n--BIG--\r\n")
	return hex.EncodeToString(sum[:])
}

// lineBreaker breaks base64 into 76-character lines.
type lineBreaker struct {
	w   io.Writer
	col int
}

func (l *lineBreaker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		p, l.col = p[k:], l.col+k
		if l.col == 76 {
			if _, err := l.w.Write([]byte("\r\n")); err != nil {
				return 0, err
			}
			l.col = 0
		}
	}
	return n, nil
}

// peakSink hashes what it is given and samples the heap every MiB, to
// find the most the parse held while an attachment streamed through.
type peakSink struct {
	peak uint64
}

func (s *peakSink) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.peak = max(s.peak, ms.HeapAlloc)
}

func (s *peakSink) Put(ctx context.Context, r io.Reader) (attachments.Blob, error) {
	h := sha256.New()
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		h.Write(buf[:k])
		if n/(1<<20) != (n+int64(k))/(1<<20) {
			s.sample()
		}
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return attachments.Blob{}, err
		}
	}
	s.sample()
	return attachments.Blob{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// TestPeakHeap25MB parses 25 MB messages read from a file, as the channel
// reads a spooled message, and checks that the heap never grew by more
// than twice the message's size (in fact it grows by little more than
// the buffers: attachments stream to the sink).
func TestPeakHeap25MB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and parses 50 MB")
	}
	for _, tt := range []struct {
		name    string
		size    int
		binary  bool
		wantMax float64
	}{
		{"base64 attachment of 18 MiB", 18 << 20, false, 2},
		{"binary attachment of 20 MiB", 20 << 20, true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "big.eml")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			bw := bufio.NewWriter(f)
			want := bigMessage(t, bw, tt.size, tt.binary)
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			info, _ := f.Stat()
			f.Close()
			size := info.Size()
			if size > attachments.DefaultMaxSize {
				t.Fatalf("the test message is %d bytes, over the default limit", size)
			}

			f, err = os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			sink := &peakSink{}
			m, err := Parse(context.Background(), f, Limits{}, sink)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Attachments) != 1 || m.Attachments[0].SHA256 != want || m.Attachments[0].Size != int64(tt.size) || len(m.Problems) > 0 {
				t.Fatalf("attachments %+v, problems %q", m.Attachments, m.Problems)
			}
			grew := int64(sink.peak) - int64(base.HeapAlloc)
			t.Logf("message %.1f MB, attachment %.1f MB: peak heap %.2f MB above the %.2f MB before Parse (%.3f× the message)",
				float64(size)/1e6, float64(tt.size)/1e6, float64(grew)/1e6, float64(base.HeapAlloc)/1e6, float64(grew)/float64(size))
			if float64(grew) > tt.wantMax*float64(size) {
				t.Errorf("peak heap grew by %d bytes parsing a %d-byte message; the bound is %.0f×", grew, size, tt.wantMax)
			}
		})
	}
}

// TestBlobsSink parses with the real blob store: what is stored is the
// decoded attachment, a forwarded message is stored as its raw .eml, and
// a type the store refuses is recorded, not fatal.
//
// The default policy of the store does not allow message/rfc822 (what a
// .eml file sniffs as): the email channel must allow it for forwarded
// messages and PEC envelopes to be kept, as this test does.
func TestBlobsSink(t *testing.T) {
	policy := attachments.Policy{Allowed: append(slices.Clone(attachments.DefaultAllowed), "message/rfc822")}
	blobs, err := attachments.NewBlobs(t.TempDir(), policy)
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
	inner := "From: a@example.it\r\nSubject: inoltrato\r\nContent-Type: text/plain\r\n\r\ntesto inoltrato\r\n"
	raw := multipartMessage(
		textPart("vedi allegati"),
		base64Part("doc.pdf", pdf),
		"Content-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+base64.StdEncoding.EncodeToString([]byte("PK\x03\x04zipzipzip")),
		"Content-Type: message/rfc822\r\n\r\n"+inner,
	)
	m, err := Parse(context.Background(), bytes.NewReader([]byte(raw)), Limits{}, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 3 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	check := func(a Attachment, want []byte) {
		t.Helper()
		f, err := blobs.Open(a.SHA256)
		if err != nil {
			t.Fatalf("%s: %v", a.FileName, err)
		}
		defer f.Close()
		got, _ := io.ReadAll(f)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: stored %q, want %q", a.FileName, got, want)
		}
	}
	check(m.Attachments[0], pdf)
	if a := m.Attachments[1]; a.SHA256 != "" || !strings.Contains(a.Error, "application/zip") || a.Size != 13 {
		t.Errorf("zip: %+v; want refused by the store's policy, with its size", a)
	}
	if a := m.Attachments[2]; a.FileName != "inoltrato.eml" || a.Message == nil || a.Message.TextBody != "testo inoltrato" {
		t.Errorf("forwarded: %+v", a)
	} else {
		check(a, []byte(inner))
	}
}

// refusingSink returns at once, reading nothing: the parse must not wait
// for it (a forwarded message is piped to the sink while being parsed).
type refusingSink struct{}

func (refusingSink) Put(context.Context, io.Reader) (attachments.Blob, error) {
	return attachments.Blob{}, attachments.ErrTypeNotAllowed
}

func TestRefusingSinkDoesNotBlock(t *testing.T) {
	inner := "From: a@example.it\r\nSubject: inoltrato\r\nContent-Type: multipart/mixed; boundary=I\r\n\r\n--I\r\n" +
		textPart(string(bytes.Repeat([]byte("riga lunga\r\n"), 20000))) + "\r\n--I\r\n" + base64Part("x.pdf", []byte("%PDF")) + "\r\n--I--\r\n"
	m, err := Parse(context.Background(), bytes.NewReader([]byte(multipartMessage("Content-Type: message/rfc822\r\n\r\n"+inner))), Limits{}, refusingSink{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 2 || m.Attachments[0].Error == "" || m.Attachments[0].Message == nil {
		t.Errorf("attachments %+v", m.Attachments)
	}
}

func benchmarkParse(b *testing.B, raw []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse(context.Background(), bytes.NewReader(raw), Limits{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse25MB: a 24.6 MB message with an 18 MiB base64 attachment.
func BenchmarkParse25MB(b *testing.B) {
	var buf bytes.Buffer
	bigMessage(b, &buf, 18<<20, false)
	benchmarkParse(b, buf.Bytes())
}

// BenchmarkParseCorpus parses each message of testdata in turn.
func BenchmarkParseCorpus(b *testing.B) {
	files, _ := filepath.Glob("testdata/*.eml")
	var raws [][]byte
	var total int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
		total += int64(len(raw))
	}
	b.ReportAllocs()
	b.SetBytes(total)
	for b.Loop() {
		for _, raw := range raws {
			if _, err := Parse(context.Background(), bytes.NewReader(raw), Limits{}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkParseHostile measures the inputs that cost the most per byte:
// the work a hostile message can cause, which Limits bound. Nothing is
// asserted: the figures are for reading.
func BenchmarkParseHostile(b *testing.B) {
	line := strings.Repeat("A", 76) + "\r\n"
	for _, bc := range []struct {
		name string
		raw  string
	}{
		{"depth 49, 23 MB leaf", nestedMultipart(49, "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"+strings.Repeat(line, 300000))},
		{"depth 49, 1.5 M empty parts", nestedMultipart(49, "Content-Type: multipart/mixed; boundary=Z\r\n\r\n"+strings.Repeat("--Z\r\n\r\nx\r\n", 1500000)+"--Z--")},
		{"24 MB header of folded lines", "Subject: a\r\n" + strings.Repeat(" b\r\n", 6000000) + "\r\nbody"},
		{"3 MB of quote markers", header + "\r\n" + strings.Repeat("> Il giorno ha scritto:\r\nDa: x\r\n", 100000)},
		{"4 MB of nested blockquotes", header + "Content-Type: text/html\r\n\r\n" + strings.Repeat("<blockquote>x<br>", 250000)},
		{"1 MB To field", "To: " + strings.Repeat("a@b, ", 200000) + "\r\n\r\nx"},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkParse(b, []byte(bc.raw)) })
	}
}
