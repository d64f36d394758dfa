package mailparse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/sportello/sportello/services/attachments"
)

// BlobSink stores the bytes of one attachment. Parse streams each part
// body to Put as it decodes it, so no attachment is ever held in memory.
// Put may refuse a part (a type or size its policy does not allow): Parse
// records the refusal on the Attachment and goes on. Put must read r until
// EOF or return; it may be called from another goroutine than Parse's
// (the raw copy of a forwarded message is stored while that message is
// parsed, so two Put calls can be in progress at once).
//
// *attachments.Blobs is a BlobSink.
type BlobSink interface {
	Put(ctx context.Context, r io.Reader) (attachments.Blob, error)
}

var _ BlobSink = (*attachments.Blobs)(nil)

// SinkFunc makes a function a BlobSink.
type SinkFunc func(ctx context.Context, r io.Reader) (attachments.Blob, error)

func (f SinkFunc) Put(ctx context.Context, r io.Reader) (attachments.Blob, error) { return f(ctx, r) }

// HashSink stores nothing: it reads each attachment through, returning its
// SHA-256 and size. Parse uses it when given a nil sink (to check a message
// before accepting it, or in tests).
type HashSink struct{}

func (HashSink) Put(ctx context.Context, r io.Reader) (attachments.Blob, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return attachments.Blob{}, err
	}
	if err := ctx.Err(); err != nil {
		return attachments.Blob{}, err
	}
	return attachments.Blob{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
