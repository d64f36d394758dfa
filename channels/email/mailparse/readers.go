package mailparse

import (
	"context"
	"errors"
	"io"
)

var (
	// errTooLarge: the source has more than Limits.MaxSize bytes.
	errTooLarge = errors.New("message larger than the size limit")
	// errParseTimeout is the cause of the context Parse gives itself.
	errParseTimeout = errors.New("parse time limit reached")
	// errDecodedLimit: part bodies decoded past Limits.MaxDecodedBytes.
	errDecodedLimit = errors.New("decoded size limit reached")
)

// ErrUnreadable wraps the error of a source that failed while Parse read
// it (not a limit: an I/O error).
var ErrUnreadable = errors.New("message source failed")

// source is the raw message: it counts what is read, stops at MaxSize and
// at the deadline, and remembers why it stopped.
type source struct {
	r   io.Reader
	ctx context.Context
	max int64
	n   int64
	err error // sticky: errTooLarge, the context's cause, or ErrUnreadable
}

func (s *source) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.ctx.Err() != nil {
		s.err = context.Cause(s.ctx)
		return 0, s.err
	}
	if s.n >= s.max {
		// At the limit: one more byte tells a message exactly MaxSize
		// long from a longer one.
		var one [1]byte
		n, err := io.ReadFull(s.r, one[:])
		if n > 0 {
			s.err = errTooLarge
			return 0, s.err
		}
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		s.err = errors.Join(ErrUnreadable, err)
		return 0, s.err
	}
	if int64(len(p)) > s.max-s.n {
		p = p[:s.max-s.n]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = errors.Join(ErrUnreadable, err)
		return n, s.err
	}
	return n, err
}

// decodedReader counts the bytes decoded from a part body into the
// message's total, and stops the part when the total passes the limit.
type decodedReader struct {
	r io.Reader
	p *parser
	n int64 // bytes read from this part
}

func (d *decodedReader) Read(b []byte) (int, error) {
	if d.p.decodedOver {
		return 0, errDecodedLimit
	}
	n, err := d.r.Read(b)
	d.n += int64(n)
	d.p.decoded += int64(n)
	if d.p.decoded > d.p.lim.MaxDecodedBytes {
		d.p.decodedOver = true
		return n, errDecodedLimit
	}
	return n, err
}

// teeReader copies what is read from r to w, until w fails; unlike
// io.TeeReader a failing w does not fail the read: the copy (a forwarded
// message going to the blob sink) may be refused while the reading (the
// parse of that message) goes on.
type teeReader struct {
	r    io.Reader
	w    io.Writer
	werr error
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 && t.werr == nil {
		_, t.werr = t.w.Write(p[:n])
	}
	return n, err
}
