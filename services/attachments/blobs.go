package attachments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gabriel-vasile/mimetype"
)

// Blob is what Put stored.
type Blob struct {
	SHA256      string // hex
	Size        int64
	ContentType string // sniffed, with parameters
}

// Blobs is a content-addressed file store: a blob lives at
// <dir>/sha256/ab/cd/<hex> and is never changed once there. Writes go to a
// temporary file under <dir>/tmp (the same file system), are synced, then
// renamed into place, so a blob is either complete and durable or absent.
// Replicas may share dir (a network volume): concurrent writers of the same
// bytes rename identical files over each other.
type Blobs struct {
	dir    string
	policy Policy
}

// sniffLen is how much of the start of a file the type is detected from;
// mimetype reads no more than this by default.
const sniffLen = 4096

// staleTemp is the age after which a temporary file is a crash's leftover.
const staleTemp = 24 * time.Hour

// NewBlobs opens (creating it if needed) the store in dir, and removes
// temporary files a crash left behind more than a day ago.
func NewBlobs(dir string, p Policy) (*Blobs, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Join(dir, "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("attachments dir: %w", err)
		}
	}
	b := &Blobs{dir: dir, policy: p}
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("attachments dir: %w", err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	return b, nil
}

// MaxSize is the largest file Put accepts, in bytes.
func (b *Blobs) MaxSize() int64 { return b.policy.maxSize() }

// Put stores what r yields, if it is at most MaxSize bytes, not empty, and
// of an allowed type as detected from its first bytes. A refused or failed
// write leaves nothing behind. When Put returns, the blob is synced to disk.
func (b *Blobs) Put(ctx context.Context, r io.Reader) (Blob, error) {
	return b.put(ctx, r, b.policy.maxSize(), b.Sniff)
}

// PutRaw stores what r yields, up to maxSize bytes, whatever its type: a
// message kept exactly as received (an e-mail), which must never be lost
// to the type check. Its Blob has contentType as given; whoever serves it
// must serve it as that, never as what the bytes look like.
func (b *Blobs) PutRaw(ctx context.Context, r io.Reader, maxSize int64, contentType string) (Blob, error) {
	if maxSize <= 0 {
		maxSize = b.policy.maxSize()
	}
	return b.put(ctx, r, maxSize, func([]byte) (string, error) { return contentType, nil })
}

func (b *Blobs) put(ctx context.Context, r io.Reader, limit int64, sniff func([]byte) (string, error)) (Blob, error) {
	// The type is checked before anything touches the disk.
	head := make([]byte, min(int64(sniffLen), limit+1))
	src := &sourceReader{r: r, ctx: ctx}
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Blob{}, fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	head = head[:n]
	if n == 0 {
		return Blob{}, ErrEmpty
	}
	if int64(n) > limit {
		return Blob{}, fmt.Errorf("%w: the limit is %s", ErrTooLarge, FormatSize(limit))
	}
	ct, err := sniff(head)
	if err != nil {
		return Blob{}, err
	}

	tmp, err := os.CreateTemp(filepath.Join(b.dir, "tmp"), "upload-*")
	if err != nil {
		return Blob{}, fmt.Errorf("attachment temp file: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	w := io.MultiWriter(tmp, h)
	// One byte past the limit tells an oversized file from one exactly at it.
	size, err := io.Copy(w, io.LimitReader(io.MultiReader(bytes.NewReader(head), src), limit+1))
	switch {
	case err != nil && src.err != nil:
		return Blob{}, fmt.Errorf("%w: %w", ErrIncomplete, err)
	case err != nil:
		return Blob{}, fmt.Errorf("write attachment: %w", err)
	case size > limit:
		return Blob{}, fmt.Errorf("%w: the limit is %s", ErrTooLarge, FormatSize(limit))
	}
	if err := tmp.Sync(); err != nil {
		return Blob{}, fmt.Errorf("sync attachment: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Blob{}, fmt.Errorf("close attachment: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	final := b.path(sum)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return Blob{}, fmt.Errorf("attachment dir: %w", err)
	}
	if _, err := os.Stat(final); err == nil {
		// Stored already: the same bytes are kept once.
		return Blob{SHA256: sum, Size: size, ContentType: ct}, nil
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Blob{}, fmt.Errorf("store attachment: %w", err)
	}
	keep = true
	// The rename is durable once the directory holding it is synced, and
	// the directories MkdirAll may have just made once their parents are.
	for d := filepath.Dir(final); len(d) >= len(filepath.Join(b.dir, "sha256")); d = filepath.Dir(d) {
		if err := syncDir(d); err != nil {
			return Blob{}, fmt.Errorf("sync attachment dir: %w", err)
		}
	}
	return Blob{SHA256: sum, Size: size, ContentType: ct}, nil
}

// Open opens the blob with the given hex SHA-256 for reading.
func (b *Blobs) Open(sum string) (*os.File, error) {
	if !validSum(sum) {
		return nil, fmt.Errorf("%w: malformed sha256 %q", ErrNotFound, sum)
	}
	f, err := os.Open(b.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: blob %s is missing from the store", ErrNotFound, sum)
	}
	return f, err
}

// Sniff returns the content type of a file starting with head, or
// ErrTypeNotAllowed naming what it is.
func (b *Blobs) Sniff(head []byte) (string, error) {
	m := mimetype.Detect(head)
	ct := m.String()
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = ct
	}
	if !b.policy.allows(mt) {
		return "", fmt.Errorf("%w: the content is %s (%s); allowed: %s", ErrTypeNotAllowed, mt, describe(m), strings.Join(b.policy.allowed(), ", "))
	}
	return ct, nil
}

// describe names a detected type for a person, with what is allowed.
func describe(m *mimetype.MIME) string {
	if m.Extension() != "" {
		return "a " + m.Extension() + " file, whatever its name says"
	}
	return "not a recognised document or image"
}

func (b *Blobs) path(sum string) string {
	return filepath.Join(b.dir, "sha256", sum[0:2], sum[2:4], sum)
}

func validSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// sourceReader reads the upload, stops when the request is cancelled, and
// remembers a failure, so that a client's broken upload is told apart from
// a failing disk.
type sourceReader struct {
	r   io.Reader
	ctx context.Context
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

// FormatSize writes a byte count for people: "25 MiB", "512 KiB", "100 bytes".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
