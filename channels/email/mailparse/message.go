package mailparse

import (
	"time"

	"github.com/sportello/sportello/channels/threadkey"
)

// Message is what Parse read of one e-mail. Text fields are valid UTF-8
// with "\n" line ends and no control characters other than tab.
type Message struct {
	// MessageID is the Message-ID without its angle brackets, "" when the
	// message has none (or an unusable one).
	MessageID  string
	InReplyTo  []string // message ids, without angle brackets
	References []string // oldest first, at most maxReferences

	From        Address // the first author; zero when there is none
	To          []Address
	Cc          []Address
	ReplyTo     []Address
	DeliveredTo []Address // Delivered-To: the mailbox it was delivered to
	XOriginalTo []Address // X-Original-To: the address before aliasing
	// ReturnPath is the envelope sender the final MTA recorded, without
	// angle brackets; "" for the null sender "<>" as for no Return-Path
	// (NullReturnPath tells them apart).
	ReturnPath     string
	NullReturnPath bool

	Date    time.Time // zero when absent or unreadable
	Subject string    // RFC 2047 decoded, whitespace folded

	// TextBody is what the author wrote: FullText without the quoted
	// message they replied to and without their signature. It is never
	// empty when FullText is not.
	TextBody string
	// FullText is the whole text body: the text/plain parts, or the text
	// of the HTML body when there is no text/plain part (TextFromHTML).
	FullText     string
	TextFromHTML bool
	// SanitizedHTML is the HTML body made safe to show: no scripts,
	// styles, event handlers, forms or frames; images only from
	// attachments ("cid:" links to Attachment.ContentID), so remote images
	// and tracking pixels are gone. "" when there is no HTML body.
	SanitizedHTML string

	// Attachments are every part that is not body text: files, inline
	// images, calendar invitations, forwarded messages (message/rfc822)
	// and the attachments inside those, in the order they appear.
	Attachments []Attachment

	Auto Auto // whether the message is automatic, and why
	DSN  *DSN // the delivery status notification, when the message is one
	PEC  *PEC // the certified-mail (PEC) envelope, when the message is one

	Size  int64 // raw bytes read
	Parts int   // MIME entities seen, the message itself included
	// Truncated is set when a limit stopped the reading of some content:
	// the raw message has more than this Message says.
	Truncated bool
	// Problems are the limits hit and the malformed pieces met, in
	// English, for a person (a system note on the case).
	Problems []string
}

// Address is one mailbox. Address has its domain in lower case.
type Address struct {
	Name    string // display name, RFC 2047 decoded; may be ""
	Address string // "local@domain"
}

// Attachment is one non-text part. Its bytes went to the BlobSink.
type Attachment struct {
	// Part is the MIME part number as IMAP counts it ("2", "1.3"); the
	// parts of a forwarded message at part "3" are "3.1", "3.2".
	Part string
	// FileName is the sanitised name (attachments.SanitizeFileName), or
	// one made from the content type when the sender gave none.
	FileName    string
	ContentType string // as declared, lower case, without parameters
	ContentID   string // without angle brackets; what "cid:" links name
	Inline      bool   // shown in the body (inline image) rather than attached
	Size        int64  // decoded bytes
	SHA256      string // hex, from the sink; "" when not stored
	StoredType  string // the type the sink sniffed from the bytes
	// Error says why the sink did not store the part ("" when it did):
	// a type or size the store refuses, or a limit that cut the part.
	Error string
	// Message summarises a forwarded message (message/rfc822), nil for
	// other parts.
	Message *Embedded
}

// Embedded is what was read of a message attached to the message: a
// forwarded mail, the original inside a PEC envelope, the returned
// message of a bounce.
type Embedded struct {
	MessageID     string
	InReplyTo     []string
	References    []string
	From          Address
	To            []Address
	Cc            []Address
	Date          time.Time
	Subject       string
	TextBody      string
	FullText      string
	SanitizedHTML string
}

// maxThreadKeys caps the message keys ThreadKeys returns: each is a
// lookup for intake, and the direct parent and the root of a thread are
// what match.
const maxThreadKeys = 20

// ThreadKeys are the keys intake matches to existing cases: the case
// references tagged in the subject, then the message ids the message
// replies to: In-Reply-To, References from the newest, and the thread's
// root (the first reference) last. The message a bounce or a PEC receipt
// is about counts as the one it replies to (the case records the failure
// or the delivery), and a certified reply's threading headers are those of
// the original inside its PEC envelope.
func (m *Message) ThreadKeys() []string {
	var keys []string
	seen := make(map[string]bool)
	msgKeys := 0
	add := func(k string, msg bool) {
		if k == "" || seen[k] || (msg && msgKeys == maxThreadKeys) {
			return
		}
		seen[k] = true
		keys = append(keys, k)
		if msg {
			msgKeys++
		}
	}
	subjects := []string{m.Subject}
	type thread struct{ inReplyTo, references []string }
	threads := []thread{{m.InReplyTo, m.References}}
	var about []string
	if m.DSN != nil {
		about = append(about, m.DSN.OriginalMessageID)
	}
	if m.PEC != nil {
		about = append(about, m.PEC.RefMessageID)
		if o := m.PEC.Original; o != nil {
			subjects = append(subjects, o.Subject)
			threads = append(threads, thread{o.InReplyTo, o.References})
		}
	}
	for _, s := range subjects {
		for _, k := range threadkey.InSubject(s) {
			add(k, false)
		}
	}
	for _, id := range about {
		add(threadkey.Message(id), true)
	}
	for _, t := range threads {
		for _, id := range t.inReplyTo {
			add(threadkey.Message(id), true)
		}
	}
	// Newest references first, roots last: when the cap cuts, it cuts
	// the middle of long threads.
	for _, t := range threads {
		for i := len(t.references) - 1; i > 0 && msgKeys < maxThreadKeys-len(threads); i-- {
			add(threadkey.Message(t.references[i]), true)
		}
	}
	for _, t := range threads {
		if len(t.references) > 0 {
			add(threadkey.Message(t.references[0]), true)
		}
	}
	return keys
}
