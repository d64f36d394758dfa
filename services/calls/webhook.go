package calls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/channels/cti"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/intake"
)

// ChannelConfig is what the service needs of one CTI channel.
type ChannelConfig struct {
	// CallerID is the number presented on outbound calls.
	CallerID string
	// Queues maps the PBX's queue names to departments.
	Queues map[string]string
	// ReplyMailbox is the e-mail mailbox replies on this channel's cases
	// go out from; "" refuses them.
	ReplyMailbox string
}

// ContactFinder finds callers by number. services/storage implements it.
type ContactFinder interface {
	SearchContacts(ctx context.Context, s contacts.Search, limit int) ([]contacts.Contact, error)
	GetContact(ctx context.Context, id string) (contacts.Contact, error)
}

// RuleSource lists the routing rules (IVR choices route by them).
type RuleSource interface {
	ListRoutingRules(ctx context.Context) ([]directory.Rule, error)
}

// OperatorSource finds operators by id (services/storage).
type OperatorSource interface {
	GetOperator(ctx context.Context, id string) (directory.Operator, error)
}

// Ingester opens cases as intake does for every channel
// (intake.Service.Ingest).
type Ingester interface {
	Ingest(ctx context.Context, contacts []intake.Contact) ([]intake.Outcome, error)
}

// Notifier publishes live call notices to the operator consoles of every
// replica (services/events).
type Notifier interface {
	NotifyCall(ctx context.Context, n cases.CallNotice) error
}

// Deps are the service's dependencies.
type Deps struct {
	Store    Store
	Contacts ContactFinder
	Cases    cases.Store
	Messages cases.Messages
	Rules    RuleSource
	Intake   Ingester
	// Operators, when set, checks that an answering operator exists.
	Operators OperatorSource
	// Notifier, when set, gets the live notices.
	Notifier Notifier
	// Access is the staff access log.
	Access   AccessRecorder
	Channels map[string]ChannelConfig
	Log      *slog.Logger
	Now      func() time.Time
}

// AccessRecorder writes the staff access log (services/accesslog).
type AccessRecorder interface {
	Record(ctx context.Context, action, caseID, contactID, detail string) error
}

// Service is the call centre; it implements cti.Backend and the
// CallService.
type Service struct{ d Deps }

var _ cti.Backend = (*Service)(nil)

// New returns the service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{d: d}
}

// maxOpenCases bounds the open cases of a screen pop.
const maxOpenCases = 10

// CallbackTag marks the callback cases of unanswered calls.
const CallbackTag = "callback"

// NewCall records a call and answers with the screen pop: the caller's
// contact and open cases, the department, and the caller id of an
// outbound call; a blocked caller is answered "reject".
func (s *Service) NewCall(ctx context.Context, channelID string, at time.Time, e cti.Event) (cti.Answer, error) {
	ch := s.d.Channels[channelID]
	c := Call{ID: uuid.Must(uuid.NewV7()).String(), ChannelID: channelID, ExternalID: e.CallID, Direction: e.Direction,
		From: e.From, To: e.To, Queue: e.Queue, IVRChoice: e.IVRChoice, State: StateRinging, StartedAt: at.UTC()}
	caller := e.From
	if e.Direction == cti.Outbound {
		caller = e.To
	}
	if e.Direction == cti.Inbound && caller != cti.Anonymous {
		blocked, err := s.d.Store.IsBlocked(ctx, caller)
		if err != nil {
			return cti.Answer{}, err
		}
		if blocked {
			c.State, c.EndedAt = StateRejected, at.UTC()
			stored, created, err := s.d.Store.CreateCall(ctx, c)
			if err != nil {
				return cti.Answer{}, err
			}
			return cti.Answer{CallID: stored.ExternalID, Action: cti.ActionReject, Duplicate: !created}, nil
		}
	}
	dept, err := s.department(ctx, channelID, ch, e)
	if err != nil {
		return cti.Answer{}, err
	}
	c.Department = dept
	contact, open, err := s.lookup(ctx, caller)
	if err != nil {
		return cti.Answer{}, err
	}
	c.ContactID = contact.ID
	stored, created, err := s.d.Store.CreateCall(ctx, c)
	if err != nil {
		return cti.Answer{}, err
	}
	if stored.State == StateRejected {
		return cti.Answer{CallID: stored.ExternalID, Action: cti.ActionReject, Duplicate: true}, nil
	}
	ans := screenPop(stored, contact, open)
	ans.Duplicate = !created
	if e.Direction == cti.Outbound {
		ans.CallerID = ch.CallerID
		return ans, nil
	}
	if created {
		s.notify(ctx, "ringing", stored, contact, open)
	}
	return ans, nil
}

// department routes a call: the channel's queue map, else the routing
// rules (IVR choice), else triage.
func (s *Service) department(ctx context.Context, channelID string, ch ChannelConfig, e cti.Event) (string, error) {
	if d, ok := ch.Queues[e.Queue]; ok && e.Queue != "" {
		return d, nil
	}
	rules, err := s.d.Rules.ListRoutingRules(ctx)
	if err != nil {
		return "", fmt.Errorf("routing rules: %w", err)
	}
	facts := directory.Facts{ChannelKind: cti.Kind, ChannelID: channelID, IVRChoice: e.IVRChoice}
	if d, _, ok := directory.Route(rules, facts); ok {
		return d, nil
	}
	return directory.TriageDepartment, nil
}

// lookup finds the contact of a number and their open cases, newest first.
func (s *Service) lookup(ctx context.Context, number string) (contacts.Contact, []cases.Case, error) {
	if number == "" || number == cti.Anonymous {
		return contacts.Contact{}, nil, nil
	}
	found, err := s.d.Contacts.SearchContacts(ctx, contacts.Search{Phone: number}, 1)
	if err != nil || len(found) == 0 {
		return contacts.Contact{}, nil, err
	}
	open, err := s.openCases(ctx, found[0].ID)
	return found[0], open, err
}

// openCases returns the contact's cases that are not settled, newest
// first, at most maxOpenCases.
func (s *Service) openCases(ctx context.Context, contactID string) ([]cases.Case, error) {
	list, err := s.d.Cases.ListCases(ctx, cases.Query{ContactID: contactID, Order: cases.OrderCreatedDesc, Limit: 100})
	if err != nil {
		return nil, fmt.Errorf("cases of the caller: %w", err)
	}
	var out []cases.Case
	for _, c := range list {
		if c.Status != cases.StatusResolved && c.Status != cases.StatusClosed && c.MergedInto == "" && len(out) < maxOpenCases {
			out = append(out, c)
		}
	}
	return out, nil
}

func screenPop(c Call, contact contacts.Contact, open []cases.Case) cti.Answer {
	ans := cti.Answer{CallID: c.ExternalID, Action: cti.ActionAccept, Department: c.Department}
	if contact.ID != "" {
		ans.Contact = &cti.Contact{ID: contact.ID, Name: contact.DisplayName, Email: contact.Email, Phone: contact.Phone}
	}
	for _, oc := range open {
		ans.OpenCases = append(ans.OpenCases, cti.Case{ID: oc.ID, Reference: oc.Reference, Subject: oc.Subject,
			Status: string(oc.Status), Department: oc.Department, UpdatedAt: oc.UpdatedAt.UTC()})
	}
	return ans
}

// notify publishes a live notice; a notice lost is not an error of the
// call (the call log has it), so failures are only logged.
func (s *Service) notify(ctx context.Context, typ string, c Call, contact contacts.Contact, open []cases.Case) {
	if s.d.Notifier == nil {
		return
	}
	n := cases.CallNotice{Type: typ, CallID: c.ID, Department: c.Department, Operator: c.Operator, From: c.From,
		ContactID: contact.ID, ContactName: contact.DisplayName, OpenCases: open, Time: s.d.Now().UTC()}
	if err := s.d.Notifier.NotifyCall(ctx, n); err != nil {
		s.d.Log.Warn("calls: live notice not published", "call", c.ID, "err", err)
	}
}

// find returns the call of an answer or hangup event.
func (s *Service) find(ctx context.Context, channelID string, e cti.Event) (Call, error) {
	c, err := s.d.Store.FindCall(ctx, channelID, e.CallID)
	if errors.Is(err, ErrNotFound) {
		return c, cti.ErrUnknownCall
	}
	return c, err
}

// Answered records who took the call and sends them the screen pop.
func (s *Service) Answered(ctx context.Context, channelID string, at time.Time, e cti.Event) (cti.Answer, error) {
	c, err := s.find(ctx, channelID, e)
	if err != nil {
		return cti.Answer{}, err
	}
	if s.d.Operators != nil {
		_, err := s.d.Operators.GetOperator(ctx, e.Operator)
		if errors.Is(err, directory.ErrNotFound) {
			return cti.Answer{}, fmt.Errorf("%w: operator %q is not a Sportello operator id", cti.ErrRejected, e.Operator)
		}
		if err != nil {
			return cti.Answer{}, err
		}
	}
	changed := false
	c, err = s.d.Store.UpdateCall(ctx, c.ID, func(c *Call) (bool, error) {
		switch {
		case c.State == StateRejected:
			return false, fmt.Errorf("%w: call %s was rejected (blocked caller)", cti.ErrRejected, c.ExternalID)
		case c.State != StateRinging:
			return false, nil
		}
		c.State, c.Operator, c.AnsweredAt, changed = StateAnswered, e.Operator, at.UTC(), true
		return true, nil
	})
	if err != nil {
		return cti.Answer{}, err
	}
	ans := cti.Answer{CallID: c.ExternalID, Action: cti.ActionAccept, Department: c.Department, Duplicate: !changed}
	if changed {
		contact, open, err := s.contactOf(ctx, c)
		if err != nil {
			return cti.Answer{}, err
		}
		s.notify(ctx, "answered", c, contact, open)
	}
	return ans, nil
}

func (s *Service) contactOf(ctx context.Context, c Call) (contacts.Contact, []cases.Case, error) {
	if c.ContactID == "" {
		return contacts.Contact{}, nil, nil
	}
	contact, err := s.d.Contacts.GetContact(ctx, c.ContactID)
	if err != nil {
		return contact, nil, err
	}
	open, err := s.openCases(ctx, c.ContactID)
	return contact, open, err
}

// HungUp ends the call. An inbound call that waited in a queue and was
// never answered (noAnswer, cancel, busy) opens a callback case in the
// department's queue: once per call, whatever the retries, because the
// case's external id is the call's.
func (s *Service) HungUp(ctx context.Context, channelID string, at time.Time, e cti.Event) (cti.Answer, error) {
	c, err := s.find(ctx, channelID, e)
	if err != nil {
		return cti.Answer{}, err
	}
	callback := ""
	if c.State == StateRinging && c.Direction == cti.Inbound && c.Queue != "" && c.From != cti.Anonymous &&
		slices.Contains(cti.UnansweredCauses, e.Cause) {
		if callback, err = s.openCallback(ctx, c, e.Cause); err != nil {
			return cti.Answer{}, err
		}
	}
	changed := false
	c, err = s.d.Store.UpdateCall(ctx, c.ID, func(c *Call) (bool, error) {
		if c.State == StateEnded || c.State == StateRejected {
			if c.CallbackCaseID == "" && callback != "" {
				c.CallbackCaseID = callback
				return true, nil
			}
			return false, nil
		}
		c.State, c.Cause, c.EndedAt, c.Recording, changed = StateEnded, e.Cause, at.UTC(), e.RecordingURL, true
		if e.Duration != nil {
			c.Duration = *e.Duration
		}
		if callback != "" {
			c.CallbackCaseID = callback
		}
		return true, nil
	})
	if err != nil {
		return cti.Answer{}, err
	}
	return cti.Answer{CallID: c.ExternalID, Action: cti.ActionAccept, Department: c.Department, Duplicate: !changed,
		CallbackCaseID: c.CallbackCaseID}, nil
}

// openCallback opens (or finds, on a retry) the callback case of c.
func (s *Service) openCallback(ctx context.Context, c Call, cause string) (string, error) {
	when := c.StartedAt.Format("02/01/2006 15:04 MST")
	body := fmt.Sprintf("Chiamata senza risposta (%s) dal numero %s alla coda %q il %s. Richiamare il cittadino.\n\n"+
		"Unanswered call (%s) from %s in queue %q at %s: call the citizen back.", cause, c.From, c.Queue, when, cause, c.From, c.Queue, when)
	in := intake.Contact{
		ID: c.ID, ChannelKind: cti.Kind, ChannelID: c.ChannelID, ExternalID: "call/" + c.ExternalID + "/callback",
		SenderPhone: c.From, Subject: "Richiamare " + c.From, Body: body, ReceivedAt: s.d.Now().UTC(),
		Metadata:   map[string]string{"ivr": c.IVRChoice, "queue": c.Queue, "call_id": c.ID},
		Department: c.Department, Tags: []string{CallbackTag},
	}
	return s.ingest(ctx, in)
}

func (s *Service) ingest(ctx context.Context, in intake.Contact) (string, error) {
	out, err := s.d.Intake.Ingest(ctx, []intake.Contact{in})
	if err != nil {
		return "", err
	}
	if out[0].Err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, out[0].Err)
	}
	return out[0].CaseID, nil
}

// normaliseNumber is how numbers are stored and compared: a leading "+"
// and digits.
func normaliseNumber(s string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// intakeCallback is the contact of a callback case for a refused reply
// on case c.
func intakeCallback(c cases.Case, phone, body string, now time.Time) intake.Contact {
	return intake.Contact{ID: uuid.Must(uuid.NewV7()).String(), ChannelKind: cti.Kind, ChannelID: c.ChannelID, ExternalID: callbackKey(c),
		SenderPhone: phone, Subject: "Richiamare " + phone + " (caso " + c.Reference + ")", Body: body, ReceivedAt: now.UTC(),
		Department: c.Department, Tags: []string{CallbackTag}}
}
