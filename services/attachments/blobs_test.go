package attachments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newBlobs(t *testing.T, p Policy) (*Blobs, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "attachments")
	b, err := NewBlobs(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	return b, dir
}

// files lists every regular file under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir+string(filepath.Separator)))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSniffing: the bytes decide the type, never the name the file came with
// (the fixtures' names are the lies a client might tell).
func TestSniffing(t *testing.T) {
	b, _ := newBlobs(t, Policy{})
	for _, tt := range []struct {
		fixture string
		want    string // content type stored; "" when refused
		refused string // what the refusal names
	}{
		{"pixel.png", "image/png", ""},
		{"modulo.pdf", "application/pdf", ""},
		{"nota.txt", "text/plain; charset=utf-8", ""},
		{"dati.csv", "text/csv", ""},
		{"richiesta.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ""},
		{"tabella.ods", "application/vnd.oasis.opendocument.spreadsheet", ""},
		{"report.pdf", "", "text/html"}, // HTML with a script, named as a PDF
		{"setup.exe", "", "application/vnd.microsoft.portable-executable"},
		{"script.sh", "", "text/x-shellscript"},
		{"archivio.zip", "", "application/zip"}, // not in the default list
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := b.Put(context.Background(), bytes.NewReader(fixture(t, tt.fixture)))
			if tt.want == "" {
				if !errors.Is(err, ErrTypeNotAllowed) || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("Put = %+v, %v; want ErrTypeNotAllowed naming %s", got, err, tt.refused)
				}
				return
			}
			if err != nil || got.ContentType != tt.want {
				t.Fatalf("Put = %+v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestAllowListConfigurable(t *testing.T) {
	b, _ := newBlobs(t, Policy{Allowed: []string{"application/zip"}})
	if got, err := b.Put(context.Background(), bytes.NewReader(fixture(t, "archivio.zip"))); err != nil || got.ContentType != "application/zip" {
		t.Fatalf("zip allowed: %+v, %v", got, err)
	}
	if _, err := b.Put(context.Background(), bytes.NewReader(fixture(t, "modulo.pdf"))); !errors.Is(err, ErrTypeNotAllowed) {
		t.Fatalf("pdf not in the list: %v", err)
	}
	for _, bad := range [][]string{{"text/html"}, {"image/svg+xml"}, {"pdf"}, {"text/plain; charset=utf-8"}} {
		if err := (Policy{Allowed: bad}).Validate(); err == nil {
			t.Errorf("Policy{Allowed: %q}.Validate() = nil", bad)
		}
	}
	if err := (Policy{MaxSize: -1}).Validate(); err == nil {
		t.Error("negative MaxSize accepted")
	}
}

func TestSizeLimit(t *testing.T) {
	const limit = 10000 // more than sniffLen, so the limit is met while streaming
	text := func(n int) []byte { return bytes.Repeat([]byte("a"), n) }
	for _, tt := range []struct {
		name  string
		limit int64
		size  int
		err   error
	}{
		{"exactly at the limit", limit, limit, nil},
		{"one byte over", limit, limit + 1, ErrTooLarge},
		{"far over", limit, 3 * limit, ErrTooLarge},
		{"small limit, at it", 100, 100, nil},
		{"small limit, over it while sniffing", 100, 101, ErrTooLarge},
		{"empty", limit, 0, ErrEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, dir := newBlobs(t, Policy{MaxSize: tt.limit, Allowed: []string{"text/plain"}})
			// One byte per Read: the limit must hold however the stream is cut.
			got, err := b.Put(context.Background(), iotest.OneByteReader(bytes.NewReader(text(tt.size))))
			if !errors.Is(err, tt.err) {
				t.Fatalf("Put(%d bytes) = %+v, %v; want %v", tt.size, got, err, tt.err)
			}
			stored := files(t, dir)
			if tt.err != nil {
				if len(stored) != 0 {
					t.Fatalf("a refused upload left %v", stored)
				}
				return
			}
			sum := sha256.Sum256(text(tt.size))
			want := hex.EncodeToString(sum[:])
			if got.SHA256 != want || got.Size != int64(tt.size) || len(stored) != 1 ||
				stored[0] != filepath.Join("sha256", want[:2], want[2:4], want) {
				t.Fatalf("Put = %+v, files %v", got, stored)
			}
		})
	}
}

func TestFailedReadLeavesNothing(t *testing.T) {
	b, dir := newBlobs(t, Policy{Allowed: []string{"text/plain"}})
	broken := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("a"), 9000)), iotest.ErrReader(errors.New("connection reset")))
	if _, err := b.Put(context.Background(), broken); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Put = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Put(ctx, bytes.NewReader(bytes.Repeat([]byte("a"), 9000))); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put after cancel = %v", err)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("failed uploads left %v", left)
	}
}

// TestConcurrentIdenticalUploads: the same bytes at once are stored once,
// complete, and every writer gets the same answer.
func TestConcurrentIdenticalUploads(t *testing.T) {
	b, dir := newBlobs(t, Policy{})
	content := append(fixture(t, "pixel.png"), bytes.Repeat([]byte{0}, 200000)...)
	const n = 16
	var wg sync.WaitGroup
	got := make([]Blob, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = b.Put(context.Background(), iotest.HalfReader(bytes.NewReader(content)))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("writer %d: %+v, %v; writer 0: %+v", i, got[i], errs[i], got[0])
		}
	}
	if stored := files(t, dir); len(stored) != 1 {
		t.Fatalf("stored %v, want one blob", stored)
	}
	f, err := b.Open(got[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, _ := io.ReadAll(f)
	if !bytes.Equal(back, content) {
		t.Fatal("the stored blob differs from what was uploaded")
	}
}

func TestOpen(t *testing.T) {
	b, _ := newBlobs(t, Policy{})
	for _, sum := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("0", 64)} {
		if _, err := b.Open(sum); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", sum, err)
		}
	}
}

func TestStaleTempFilesRemoved(t *testing.T) {
	_, dir := newBlobs(t, Policy{})
	old, fresh := filepath.Join(dir, "tmp", "upload-old"), filepath.Join(dir, "tmp", "upload-fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-staleTemp - time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBlobs(dir, Policy{}); err != nil {
		t.Fatal(err)
	}
	if left := files(t, dir); len(left) != 1 || left[0] != filepath.Join("tmp", "upload-fresh") {
		t.Fatalf("after reopening: %v", left)
	}
}
