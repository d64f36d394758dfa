// Package cases is the unified queue: the Case type, how cases are listed and
// read, and the gRPC CaseService. It holds domain rules only; storage lives in
// services/storage behind the Store interface, and it never imports gorm or
// nats.
package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is where a case is in its lifecycle.
type Status string

const (
	StatusNew            Status = "new"
	StatusOpen           Status = "open"
	StatusPendingCitizen Status = "pending_citizen"
	StatusOnHold         Status = "on_hold"
	StatusResolved       Status = "resolved"
	StatusClosed         Status = "closed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusNew, StatusOpen, StatusPendingCitizen, StatusOnHold, StatusResolved, StatusClosed}

// ParseStatus accepts the lower-case name ("pending_citizen") or the API enum
// name ("STATUS_PENDING_CITIZEN").
func ParseStatus(s string) (Status, error) {
	n := strings.ToLower(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "STATUS_"))
	for _, st := range Statuses {
		if string(st) == n {
			return st, nil
		}
	}
	return "", fmt.Errorf("%w: unknown status %q (want one of new, open, pending_citizen, on_hold, resolved, closed)", ErrInvalidArgument, s)
}

// Priority orders cases; a higher value is more urgent.
type Priority int

const (
	PriorityLow    Priority = 1
	PriorityNormal Priority = 2
	PriorityHigh   Priority = 3
	PriorityUrgent Priority = 4
)

// Case is one request from a citizen, whatever channel it came in on.
type Case struct {
	ID          string // UUIDv7: sorting by ID sorts by creation time.
	Reference   string // "2026-000123"
	Subject     string
	Description string // text of the first inbound message
	Status      Status
	Priority    Priority
	Category    string
	Department  string
	Assignee    string // operator id; "" while unassigned
	ChannelKind string
	ChannelID   string
	ContactID   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64

	// Resolution SLA: the deadline (NoDeadline when no policy applies), the
	// warning instant, when the clock was paused (zero when running), and
	// whether the warning and the breach have been announced.
	SLADueAt    time.Time
	SLAWarnAt   time.Time
	SLAPausedAt time.Time
	// SLAPausedFor is the working time spent paused so far.
	SLAPausedFor time.Duration
	SLAWarned    bool
	SLABreached  bool

	// First-response SLA: when the first reply is due (zero: no target),
	// when it was sent (zero: not yet), and whether a missed deadline has
	// been announced.
	FirstResponseDueAt    time.Time
	FirstRespondedAt      time.Time
	FirstResponseBreached bool

	Tags          []string // sorted, see NormalizeTags
	Language      string   // ISO 639-1 of the citizen's language
	RequiredSkill string   // from the category; "" for none
	// SettledAt is when the case last became resolved or closed (zero if
	// never): a citizen's reply reopens it within the reopen window.
	SettledAt time.Time
	// MergedInto is the case this one was merged into; "" if not merged.
	MergedInto string
}

// NoDeadline is the SLA deadline of a case no policy applies to; it sorts
// after every real deadline.
var NoDeadline = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Order is a supported ListCases ordering.
type Order string

const (
	OrderCreated     Order = "create_time"      // oldest first
	OrderCreatedDesc Order = "create_time desc" // newest first
	OrderPriority    Order = "priority desc"    // most urgent first, then oldest
	OrderSLADue      Order = "sla_due"          // nearest resolution deadline first, then oldest
)

// ParseOrder reads an AIP-style order_by value; "" is OrderCreated.
func ParseOrder(s string) (Order, error) {
	switch strings.Join(strings.Fields(strings.ToLower(s)), " ") {
	case "", "create_time", "create_time asc":
		return OrderCreated, nil
	case "create_time desc":
		return OrderCreatedDesc, nil
	case "priority desc":
		return OrderPriority, nil
	case "sla_due", "sla_due asc":
		return OrderSLADue, nil
	}
	return "", fmt.Errorf("%w: unsupported order_by %q (want \"create_time\", \"create_time desc\", \"priority desc\" or \"sla_due\")", ErrInvalidArgument, s)
}

// StatusActive is the Query.Status filter value that selects the cases
// still being worked: any status but resolved and closed. No case has it.
const StatusActive Status = "active"

// Unassigned is the Assignee filter value that selects unassigned cases.
const Unassigned = "none"

// Query selects a page of cases. Zero-valued filters do not filter.
type Query struct {
	Departments []string // any of these departments; nil means all
	Status      Status
	Assignee    string // operator id, or Unassigned
	Order       Order
	Limit       int
	After       *Cursor // resume after this case
	// Text: cases whose subject or messages contain all its words
	// (Italian stems, see services/search).
	Text        string
	Priority    Priority
	ChannelKind string
	Category    string
	Tag         string
	// SLAState selects open cases in that state at Now (SLAOK, SLAWarning,
	// SLABreached, SLAPaused).
	SLAState SLAState
	Now      time.Time
	// ContactID: only the cases of this citizen (contact record).
	ContactID string
}

// Cursor is the position of the last case of a page, in the page's order.
type Cursor struct {
	ID       string
	Priority Priority
	SLADueAt time.Time
}

// Store reads cases. services/storage implements it.
type Store interface {
	GetCase(ctx context.Context, id string) (Case, error)
	// ListCases returns up to q.Limit cases after q.After in q.Order.
	ListCases(ctx context.Context, q Query) ([]Case, error)
}

var (
	ErrNotFound        = errors.New("case not found")
	ErrInvalidArgument = errors.New("invalid argument")
)
