package mailparse

import (
	"time"

	"github.com/sportello/sportello/services/attachments"
)

// Limits bound what Parse reads and keeps of one message. A zero field
// takes its default (DefaultLimits); there is no "unlimited": every input
// is hostile until read.
type Limits struct {
	// MaxSize is the most raw bytes read from the source. Reading stops
	// there; what came before is kept.
	MaxSize int64
	// MaxParts is the most MIME entities (the message itself, multipart
	// containers, leaves, forwarded messages and their parts) processed.
	// Later parts are counted, for the problem report, but not read.
	MaxParts int
	// MaxDepth is the deepest nesting of multiparts and forwarded
	// messages that is descended into; deeper content is not read.
	MaxDepth int
	// MaxHeaders is the most fields kept of one header block (the
	// message's or a part's); later fields are dropped.
	MaxHeaders int
	// MaxHeaderBytes is the longest header field kept, folded lines
	// included; a longer field is dropped whole.
	MaxHeaderBytes int
	// MaxHeaderBlockBytes is the most bytes kept of one header block;
	// fields past it are dropped.
	MaxHeaderBlockBytes int
	// MaxAddresses is the most addresses kept of one address field (To,
	// Cc, ...).
	MaxAddresses int
	// MaxDecodedBytes is the most bytes decoded from part bodies in
	// total, forwarded messages counted once per level they are read at.
	// Transfer encodings (base64, quoted-printable) never expand and
	// compressed content is never decompressed, so this is what bounds
	// the work of deeply forwarded copies of one big attachment.
	MaxDecodedBytes int64
	// MaxTextBytes is the most decoded text (plain and HTML bodies, of
	// the message and of forwarded messages) held in memory. Text past it
	// is not kept.
	MaxTextBytes int
	// ParseTimeout bounds the time one Parse call takes. When it expires
	// Parse returns what it has read, with a problem.
	ParseTimeout time.Duration
}

// DefaultLimits suit a public administration's mailbox: the attachment
// limit of services/attachments for the whole message, far more parts,
// nesting, headers and addresses than any real mail client produces.
func DefaultLimits() Limits {
	return Limits{
		MaxSize:             attachments.DefaultMaxSize, // 25 MiB
		MaxParts:            1000,
		MaxDepth:            50,
		MaxHeaders:          1000,
		MaxHeaderBytes:      64 << 10,
		MaxHeaderBlockBytes: 1 << 20,
		MaxAddresses:        500,
		MaxDecodedBytes:     4 * attachments.DefaultMaxSize,
		MaxTextBytes:        4 << 20,
		ParseTimeout:        30 * time.Second,
	}
}

// withDefaults fills the zero (or negative) fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSize <= 0 {
		l.MaxSize = d.MaxSize
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = d.MaxHeaders
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxHeaderBlockBytes <= 0 {
		l.MaxHeaderBlockBytes = d.MaxHeaderBlockBytes
	}
	if l.MaxAddresses <= 0 {
		l.MaxAddresses = d.MaxAddresses
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = d.MaxDecodedBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	if l.ParseTimeout <= 0 {
		l.ParseTimeout = d.ParseTimeout
	}
	return l
}
