package intake

import (
	"fmt"
	"time"

	"github.com/sportello/sportello/services/cases"
)

// FollowUpRule decides what a contact does to the case its thread keys
// matched. The Store calls it inside its transaction, on the case as it is
// then.
type FollowUpRule struct {
	Now time.Time
	// ReopenWindow: a reply this long after the case was resolved or
	// closed reopens it; a later one opens a new, linked case.
	ReopenWindow time.Duration
	SLA          cases.SLAClock // nil: no deadlines to resume
	// Acks acknowledges new cases whose contact asks for it.
	Acks Acknowledgements
}

// Acknowledgements is how a new case is acknowledged to the citizen: an
// outbound message queued in the transaction that opens the case, sent by
// the channel's replier like any reply.
type Acknowledgements struct {
	// Render writes the acknowledgement of a new case; ok false sends
	// none. nil: no acknowledgements.
	Render func(AckRequest) (body string, ok bool)
	// Relay, when set, acknowledges new cases of channels that have no
	// way back of their own (the web form) on another channel: for a
	// case's channel kind it returns the channel kind and id to send on
	// (the e-mail channel's reply mailbox), ok false for channels that
	// answer on themselves. A relayed acknowledgement goes to contacts
	// that gave an e-mail address and carries a new follow link
	// (AckRequest.FollowToken), valid for LinkTTL.
	Relay   func(channelKind string) (kind, id string, ok bool)
	LinkTTL time.Duration
	// At most Limit acknowledgements per citizen within Window (a loop
	// with a machine that escaped the channel's checks stays short); 0
	// means DefaultAckLimit per DefaultAckWindow.
	Limit  int
	Window time.Duration
}

// Defaults of the acknowledgement rate limit.
const (
	DefaultAckLimit  = 5
	DefaultAckWindow = 24 * time.Hour
)

// AckRequest is what an acknowledgement is written from.
type AckRequest struct {
	ChannelKind, ChannelID string
	Department             string
	Language               string // "it", "en", ...
	Reference              string
	Subject                string
	CitizenName            string
	// FirstResponseDue is when the SLA expects the first answer (zero
	// when the department has no SLA policy).
	FirstResponseDue time.Time
	// FollowToken is the follow link's token of a relayed acknowledgement
	// (the link is <public URL>/follow/<token>), "" otherwise, and when
	// the link expires.
	FollowToken   string
	FollowExpires time.Time
}

// AckKind is the message kind of an automatic acknowledgement.
const AckKind = cases.AckKind

// LimitAndWindow returns the rate limit with its defaults.
func (a Acknowledgements) LimitAndWindow() (int, time.Duration) {
	limit, window := a.Limit, a.Window
	if limit <= 0 {
		limit = DefaultAckLimit
	}
	if window <= 0 {
		window = DefaultAckWindow
	}
	return limit, window
}

// FollowUp is the rule's decision for one contact.
type FollowUp struct {
	// Action is ActionAppended or ActionReopened (apply Mutation to the
	// matched case), or ActionCreated: open a new case linked to it as a
	// follow-up, with Reason in both histories.
	Action   Action
	Mutation cases.Mutation
	Reason   string
}

// Link kind of a case opened because its contact followed up a case settled
// before the reopen window.
const FollowUpLink = "follow_up"

// FollowUp decides for a contact stored as inbound message msgID that
// matched case c.
func (r FollowUpRule) FollowUp(c cases.Case, msgID string) FollowUp {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	settled := c.Status == cases.StatusResolved || c.Status == cases.StatusClosed
	if settled && (c.SettledAt.IsZero() || now.Sub(c.SettledAt) > r.ReopenWindow) {
		return FollowUp{Action: ActionCreated, Reason: fmt.Sprintf(
			"the citizen wrote again about case %s, %s more than %s ago: a new case follows it up",
			c.Reference, c.Status, cases.WindowText(r.ReopenWindow))}
	}
	action := ActionAppended
	if settled {
		action = ActionReopened
	}
	return FollowUp{Action: action, Mutation: func(c *cases.Case) ([]cases.Event, error) {
		evs := []cases.Event{{Type: cases.EventMessageAdded, Actor: cases.SystemActor, Changes: map[string]cases.Change{
			"message": {After: msgID}, "direction": {After: string(cases.Inbound)},
		}}}
		reopened, err := cases.CitizenWrote(c, cases.SystemActor, now, r.SLA)
		return append(evs, reopened...), err
	}}
}
