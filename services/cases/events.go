package cases

import (
	"context"
	"errors"
	"slices"
	"time"
)

// EventType names a change in a case's history. The names are part of the
// CASE_EVENTS contract: subject sportello.case.<type>.
type EventType string

const (
	EventCreated       EventType = "created"
	EventStatusChanged EventType = "status_changed"
	EventAssigned      EventType = "assigned"
	EventTransferred   EventType = "transferred"
	EventMessageAdded  EventType = "message_added"
	EventSLAWarning    EventType = "sla_warning"
	EventSLABreached   EventType = "sla_breached"
	EventMerged        EventType = "merged"   // on both cases: source into target
	EventLinked        EventType = "linked"   // on both cases
	EventUnlinked      EventType = "unlinked" // on both cases
	// EventDeliveryFailed: a reply could not be delivered (the channel
	// gave up, or a bounce came back).
	EventDeliveryFailed EventType = "delivery_failed"
)

// Change is one field's value before and after an event.
type Change struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

// Event is one entry of a case's history: who did what, when and why.
type Event struct {
	ID          string // UUIDv7
	CaseID      string
	Type        EventType
	Actor       string // principal subject, or SystemActor
	Reason      string
	Changes     map[string]Change
	Department  string // the case's department after the event
	CaseVersion int64  // the case's version after the event (a delivery failure leaves it as it was)
	Time        time.Time
	// Call, when set, makes this a live call notice rather than a case
	// event: only Call is meaningful.
	Call *CallNotice
}

// SystemActor is the actor of changes no person made (intake, SLA timers).
const SystemActor = "system"

// Mutation changes a case in place and returns the events describing what
// it did; it runs inside the store's transaction and must not block.
type Mutation func(c *Case) ([]Event, error)

// History reads and writes case history. services/storage implements it.
type History interface {
	// UpdateCase loads the case, applies fn, and — if fn returns events —
	// stores the case with its version incremented together with the events
	// in one transaction. With expectVersion > 0 a case at another version
	// fails with ErrConflict before fn runs.
	UpdateCase(ctx context.Context, id string, expectVersion int64, fn Mutation) (Case, error)
	// ListCaseEvents returns the case's history oldest first, after the
	// event with id after ("" from the start).
	ListCaseEvents(ctx context.Context, caseID, after string, limit int) ([]Event, error)
}

var (
	// ErrConflict: the case changed since the caller read it (stale etag).
	ErrConflict = errors.New("case was changed by someone else")
	// ErrFailedPrecondition: the change is not allowed in the case's state.
	ErrFailedPrecondition = errors.New("failed precondition")
)

// CallNotice is a live call for operator consoles (the screen pop): it
// travels with the case events of the live feed but is not case history
// and is not stored. services/calls publishes it.
type CallNotice struct {
	// Type is "ringing" (for the staff of Department) or "answered"
	// (for Operator only).
	Type        string
	CallID      string
	Department  string
	Operator    string
	From        string
	ContactID   string
	ContactName string
	OpenCases   []Case
	Time        time.Time
}

// For reports whether the notice is addressed to a member of staff who
// works depts (all: every department) as operator id operator.
func (n CallNotice) For(all bool, depts []string, operator string) bool {
	if n.Type == "answered" {
		return operator != "" && n.Operator == operator
	}
	return all || slices.Contains(depts, n.Department)
}
