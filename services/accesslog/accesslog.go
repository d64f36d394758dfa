// Package accesslog is the staff access log: every read of a case or a
// contact by staff is recorded (who, what, when), administrators query it,
// and nobody can change it unnoticed. Entries form a hash chain: each
// entry's hash covers the previous entry's hash and every field of the
// entry, so editing, removing or reordering an entry breaks the chain from
// there on. The database refuses UPDATE and DELETE on the table; the chain
// catches what goes around that.
//
// This package owns the entry, the chain's hash and the gRPC
// AccessLogService; services/storage keeps the entries behind Store. It
// never holds the personal data that was read, only ids.
package accesslog

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"hash"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/sportello/sportello/auth"
)

// Actions: what a staff member read. Callers pass one of these to
// Recorder.Record; the log accepts any non-empty action, so a new read path
// adds its name here first.
const (
	ActionCaseRead           = "case.read"           // CaseService.GetCase: caseID
	ActionCaseMessages       = "case.messages"       // CaseService.ListMessages: caseID
	ActionCaseEvents         = "case.events"         // CaseService.ListCaseEvents: caseID
	ActionAttachmentDownload = "attachment.download" // attachment content: caseID, detail = attachment id
	ActionContactRead        = "contact.read"        // ContactService.GetContact: contactID
	ActionContactCases       = "contact.cases"       // ContactService.ListContactCases: contactID
	ActionCaseSearch         = "case.search"         // CaseService.ListCases with a text query: detail = "query_len=N", never the query
	// ActionCaseList: a page of CaseService.ListCases with the citizens'
	// names (contact_names, the console's queue and board): one entry per
	// page, detail = "contacts=" and the ids of the contacts shown,
	// comma-separated (see RecordList).
	ActionCaseList = "case.list"
	// ActionCallNotice: a live call-centre notice (WatchQueue, the
	// console's screen pop) showed who is calling: contactID, detail =
	// "call=" and the call's id; one entry per member of staff shown.
	ActionCallNotice = "call.notice"
)

// MaxListDetail caps the detail of a RecordList entry: "contacts=" and
// the comma-separated ids of a page of at most 500 cases, whole.
const MaxListDetail = len("contacts=") + 500*37

// ZeroHash is the prev_hash of the first entry.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxDetail caps Entry.Detail in bytes; Record cuts longer details.
const MaxDetail = 200

// Entry is one access. Seq, Time, PrevHash and Hash are assigned by the
// store when the entry is appended. Operator, CaseID, ContactID and
// RequestID are NULL in the database when empty.
type Entry struct {
	Seq       int64
	Time      time.Time // UTC, microseconds
	Actor     string    // the principal's subject
	ActorRole string
	Operator  string // the actor's operator id in the directory
	Action    string
	CaseID    string
	ContactID string
	Detail    string // short, no personal data
	RequestID string
	PrevHash  string // hex SHA-256 of the previous entry; ZeroHash for the first
	Hash      string // hex SHA-256, see Hash
}

// TimeFormat is how Hash writes Entry.Time: RFC 3339, UTC, always six
// fractional digits, so the text is the same whichever database the time
// was read back from.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Hash returns the hex SHA-256 of e chained to prev. The input is prev,
// then every field of e but Hash (and PrevHash, which prev stands for), in
// a fixed order, each framed so that no two entries encode alike: a text
// field as 0x01, its length as 4 bytes big-endian, then its bytes; an empty
// nullable field (Operator, CaseID, ContactID, RequestID) as 0x00 (NULL).
// Seq is written in decimal and Time with TimeFormat.
func Hash(prev string, e Entry) string {
	h := sha256.New()
	text(h, prev)
	text(h, strconv.FormatInt(e.Seq, 10))
	text(h, e.Time.UTC().Format(TimeFormat))
	text(h, e.Actor)
	text(h, e.ActorRole)
	nullable(h, e.Operator)
	text(h, e.Action)
	nullable(h, e.CaseID)
	nullable(h, e.ContactID)
	text(h, e.Detail)
	nullable(h, e.RequestID)
	return hex.EncodeToString(h.Sum(nil))
}

func text(h hash.Hash, s string) {
	var b [5]byte
	b[0] = 1
	binary.BigEndian.PutUint32(b[1:], uint32(len(s)))
	h.Write(b[:])
	h.Write([]byte(s))
}

func nullable(h hash.Hash, s string) {
	if s == "" {
		h.Write([]byte{0})
		return
	}
	text(h, s)
}

// Filter selects entries for List; empty fields match everything.
type Filter struct {
	Actor, CaseID, ContactID, Action string
	// Since and Until bound Time as [Since, Until); zero is unbounded.
	Since, Until time.Time
	// Before pages: only entries with Seq < Before; 0 starts at the newest.
	Before int64
	// Limit is the page size: 0 means DefaultPageSize, more than
	// MaxPageSize means MaxPageSize.
	Limit int
}

const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// PageSize returns f.Limit bounded as Filter documents.
func (f Filter) PageSize() int {
	switch {
	case f.Limit <= 0:
		return DefaultPageSize
	case f.Limit > MaxPageSize:
		return MaxPageSize
	}
	return f.Limit
}

// Verification is the outcome of checking the chain.
type Verification struct {
	// Checked entries matched; LastSeq is the last of them (0 if none).
	Checked int
	LastSeq int64
	// FirstBad is the first entry that did not match, 0 if all did; Reason
	// says why.
	FirstBad int64
	Reason   string
}

// Intact reports whether every checked entry matched.
func (v Verification) Intact() bool { return v.FirstBad == 0 }

// Appender appends entries to the log.
type Appender interface {
	// AppendAccess appends entries in order, in one transaction, chained to
	// the current head of the log. Appends are serialised across processes,
	// so the chain never forks.
	AppendAccess(ctx context.Context, entries ...Entry) error
}

// Store keeps the log. services/storage implements it.
type Store interface {
	Appender
	// ListAccess returns the entries f selects, newest (highest Seq) first,
	// and the Before of the next page: 0 when there is none.
	ListAccess(ctx context.Context, f Filter) ([]Entry, int64, error)
	// VerifyAccessChain recomputes the chain from entry fromSeq on (1 or
	// less: from the first entry), for at most limit entries (0: to the
	// end), and stops at the first entry that does not match. A later start
	// trusts the hash of the entry before fromSeq.
	VerifyAccessChain(ctx context.Context, fromSeq int64, limit int) (Verification, error)
}

// ErrNotConfigured is returned by a nil *Recorder: a read that cannot be
// recorded must not be served.
var ErrNotConfigured = errors.New("access log recorder not configured")

// Recorder writes the reads made by staff. Services call it before they
// return personal data, and refuse the read when it fails.
type Recorder struct{ log Appender }

// NewRecorder returns a Recorder appending to a.
func NewRecorder(a Appender) *Recorder { return &Recorder{log: a} }

// Record appends one entry for the caller in ctx (auth.PrincipalFrom):
// action is one of the Action constants, caseID and contactID the ids read
// (either may be empty), detail a short note without personal data (cut to
// MaxDetail bytes). Callers who are not staff (citizens, anonymous) are not
// recorded and Record returns nil. The request id comes from WithRequestID
// or, failing that, the x-request-id gRPC metadata. A non-nil error means
// nothing was recorded.
func (r *Recorder) Record(ctx context.Context, action, caseID, contactID, detail string) error {
	if r == nil || r.log == nil {
		return ErrNotConfigured
	}
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || !p.Staff() {
		return nil
	}
	if action == "" {
		return errors.New("access log: action is required")
	}
	e := Entry{Actor: p.Subject, ActorRole: string(p.Role), Operator: p.Operator, Action: action,
		CaseID: caseID, ContactID: contactID, Detail: clip.Bytes(detail, MaxDetail), RequestID: RequestID(ctx)}
	if err := r.log.AppendAccess(ctx, e); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

// RecordList appends one entry for a read that showed several contacts
// at once (a list page with the citizens' names): detail is "contacts="
// and their ids, comma-separated, in the order given. One entry per page
// rather than one per row keeps every contact shown findable (ids, not
// names: no personal data in the log) without a hash-chained insert per
// row on every redraw of a live queue. Like Record, callers who are not
// staff are not recorded.
func (r *Recorder) RecordList(ctx context.Context, action string, contactIDs []string) error {
	if r == nil || r.log == nil {
		return ErrNotConfigured
	}
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || !p.Staff() {
		return nil
	}
	if action == "" {
		return errors.New("access log: action is required")
	}
	e := Entry{Actor: p.Subject, ActorRole: string(p.Role), Operator: p.Operator, Action: action,
		Detail: clip.Bytes("contacts="+strings.Join(contactIDs, ","), MaxListDetail), RequestID: RequestID(ctx)}
	if err := r.log.AppendAccess(ctx, e); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying a request id for Record, for handlers
// outside gRPC (plain HTTP routes) that know it from the X-Request-Id
// header.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx: WithRequestID's, else the
// x-request-id gRPC metadata (the gateway forwards X-Request-Id there); ""
// when there is none or it is not a short printable token, since a direct
// gRPC client may send anything.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	if id == "" {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get("x-request-id"); len(v) > 0 {
				id = v[0]
			}
		}
	}
	if len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return ""
	}
	return id
}
