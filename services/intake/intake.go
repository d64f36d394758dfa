// Package intake turns inbound contacts from any channel into cases: it
// validates them, routes each to a department and hands them to the Store,
// which creates the cases in one transaction. It knows nothing of NATS or SQL:
// services/events feeds it and services/storage stores for it.
package intake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sportello/sportello/channels/threadkey"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
)

// Contact is one inbound message as a channel normalised it.
type Contact struct {
	ID          string // id returned to the sender
	ChannelKind string
	ChannelID   string
	ExternalID  string
	SenderName  string
	SenderEmail string
	SenderPhone string
	// SenderHandle is the sender's social handle or platform user id on
	// this channel kind ("telegram:123456").
	SenderHandle string
	// SenderFiscalCode only when an identity provider asserted it.
	SenderFiscalCode string
	// ThreadKeys may match an earlier conversation (see package channels/threadkey).
	ThreadKeys   []string
	Subject      string
	Body         string
	ReceivedAt   time.Time
	CategoryHint string
	// Channel facts routing rules may look at: "to" (receiving address),
	// "ivr" (IVR choice).
	Metadata map[string]string
	// Language the citizen wrote in (ISO 639-1); "" means Italian.
	Language string
	// Attachments are files the channel stored in the blob store: they
	// are attached to the message the contact becomes.
	Attachments []Attachment
	// Notes for staff on how the contact was received; stored as one
	// system message after it.
	Notes []string
	// Acknowledge asks for an automatic acknowledgement when the contact
	// opens a case (see Acknowledgements).
	Acknowledge bool
	// DeliveryReport, when set, says the contact is a report on one of our
	// messages (a bounce): it is recorded on that message's case.
	DeliveryReport *DeliveryReport

	// Set only by staff creating a case by hand, never from a channel:
	// the department (overriding routing), the priority (0: the
	// category's default) and tags.
	Department string
	Priority   cases.Priority
	Tags       []string
	// CreatedBy is the staff member's principal subject, for the history.
	CreatedBy string
}

// Attachment is a file of a contact, in the blob store.
type Attachment struct {
	SHA256      string
	Size        int64
	ContentType string
	FileName    string
	// Original marks the message exactly as received (a raw e-mail).
	Original bool
}

// DeliveryReport is what a bounce says of one of our messages.
type DeliveryReport struct {
	// MessageExternalID is our message's external id (Message-ID).
	MessageExternalID string
	Action            string // "failed" or "delayed"
	Status            string // "5.1.1"
	Diagnostic        string // the remote server's reply
	Recipients        []string
}

// MaxAttachments bounds the files of one contact.
const MaxAttachments = 200

// NewCase is a case to open for a contact, already routed.
type NewCase struct {
	Contact
	Department string
	Category   string // "" when the hint was unknown
	Subject    string // never empty
	// RoutingNote explains the department, for the case history.
	RoutingNote string
	Priority    cases.Priority
	// RequiredSkill is the category's skill ("" for none).
	RequiredSkill string
	// Resolution and first-response SLA; zero when no policy applies.
	SLADueAt, SLAWarnAt, FirstResponseDueAt time.Time
	// Keys are the contact's valid thread keys; a key matches only a case
	// of the same citizen (contact record).
	Keys []threadkey.Key
}

// Action is what intake did with a contact.
type Action string

const (
	ActionCreated  Action = "created"  // opened a case (LinkedTo: a follow-up of an old one)
	ActionAppended Action = "appended" // added to an open case
	ActionReopened Action = "reopened" // added to a resolved or closed case, which reopened
)

// Outcome is what happened to one contact.
type Outcome struct {
	CaseID    string
	Reference string
	// Duplicate is true when the contact had been stored before (same channel
	// and external id); CaseID then names the existing case.
	Duplicate bool
	// Action says what was done; "" for duplicates and invalid contacts.
	Action Action
	// LinkedTo is the case a new case follows up: the contact named it
	// but it was settled longer than the reopen window ago.
	LinkedTo string
	// Err is set when the contact itself is invalid and will never be stored;
	// the caller dead-letters it.
	Err error
}

// Store creates cases. services/storage implements it.
type Store interface {
	// CreateCases stores, in ONE transaction, every contact whose (channel
	// kind, channel id, external id) is not yet stored: a contact whose
	// Keys match a case of the same citizen goes to that case as rule
	// decides; the others open cases, with references allocated in year.
	// It returns one outcome per input, in order; for a contact stored
	// before it returns Duplicate with the existing case. Either all are
	// stored or none.
	CreateCases(ctx context.Context, year int, cases []NewCase, rule FollowUpRule) ([]Outcome, error)
}

// ErrInvalidContact marks a contact that can never be stored.
var ErrInvalidContact = errors.New("invalid inbound contact")

// Limits on what intake stores; channels enforce tighter ones of their own.
const (
	maxSubjectRunes = 300
	maxBodyBytes    = 1 << 20
	maxIDBytes      = 512
)

// Catalogue is the part of the directory intake routes by.
type Catalogue interface {
	ListCategories(ctx context.Context) ([]directory.Category, error)
	ListRoutingRules(ctx context.Context) ([]directory.Rule, error)
}

// Service is the intake use case.
type Service struct {
	store     Store
	directory Catalogue
	sla       cases.SLAClock // nil: no deadlines
	loc       *time.Location
	now       func() time.Time
	reopen    time.Duration
	acks      Acknowledgements

	mu         sync.Mutex
	categories map[string]directory.Category
	rules      []directory.Rule
	loadedAt   time.Time
}

// DefaultReopenWindow is how long after a case was resolved or closed a
// citizen's reply reopens it; after that it opens a new, linked case.
const DefaultReopenWindow = cases.DefaultReopenWindow

// Option tunes a Service.
type Option func(*Service)

// WithReopenWindow sets the reopen window (0: a reply never reopens).
func WithReopenWindow(d time.Duration) Option { return func(s *Service) { s.reopen = d } }

// WithAcknowledgements sets how new cases are acknowledged to the
// citizen when their contact asks for it.
func WithAcknowledgements(a Acknowledgements) Option { return func(s *Service) { s.acks = a } }

// WithNow replaces the clock (tests).
func WithNow(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New returns an intake Service. Case references use the calendar year in
// loc; clock (nil for none) sets each new case's resolution deadline.
func New(store Store, dir Catalogue, loc *time.Location, clock cases.SLAClock, opts ...Option) *Service {
	s := &Service{store: store, directory: dir, sla: clock, loc: loc, now: time.Now, reopen: DefaultReopenWindow}
	for _, o := range opts {
		o(s)
	}
	return s
}

// categoryTTL bounds how stale the cached catalogue may be.
const categoryTTL = 30 * time.Second

// Ingest stores contacts as cases. Invalid contacts get an Outcome.Err and
// are skipped; the others are stored together in one transaction. A returned
// error means nothing was stored and the whole call may be retried.
func (s *Service) Ingest(ctx context.Context, contacts []Contact) ([]Outcome, error) {
	cats, rules, err := s.catalogue(ctx)
	if err != nil {
		return nil, err
	}
	if s.sla != nil {
		if err := s.sla.Prepare(ctx); err != nil {
			return nil, err
		}
	}
	now := s.now()
	out := make([]Outcome, len(contacts))
	var batch []NewCase
	var index []int
	for i, c := range contacts {
		if err := validate(c); err != nil {
			out[i].Err = err
			continue
		}
		nc := route(c, cats, rules)
		nc.Keys = parseThreadKeys(c.ThreadKeys)
		if s.acks.Relay != nil && c.SenderEmail != "" && c.DeliveryReport == nil {
			if _, _, ok := s.acks.Relay(c.ChannelKind); ok {
				nc.Acknowledge = true
			}
		}
		if s.sla != nil {
			d, ok, err := s.sla.Due(nc.Department, nc.Priority, now)
			if err != nil {
				return nil, fmt.Errorf("SLA deadline: %w", err)
			}
			if ok {
				nc.SLADueAt, nc.SLAWarnAt, nc.FirstResponseDueAt = d.Resolution, d.Warning, d.FirstResponse
			}
		}
		batch = append(batch, nc)
		index = append(index, i)
	}
	if len(batch) == 0 {
		return out, nil
	}
	rule := FollowUpRule{Now: now, ReopenWindow: s.reopen, SLA: s.sla, Acks: s.acks}
	stored, err := s.store.CreateCases(ctx, now.In(s.loc).Year(), batch, rule)
	if err != nil {
		return nil, fmt.Errorf("create cases: %w", err)
	}
	for j, o := range stored {
		out[index[j]] = o
	}
	return out, nil
}

func (s *Service) catalogue(ctx context.Context) (map[string]directory.Category, []directory.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.categories != nil && s.now().Sub(s.loadedAt) < categoryTTL {
		return s.categories, s.rules, nil
	}
	list, err := s.directory.ListCategories(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load categories: %w", err)
	}
	rules, err := s.directory.ListRoutingRules(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load routing rules: %w", err)
	}
	m := make(map[string]directory.Category, len(list))
	for _, c := range list {
		m[c.Code] = c
	}
	s.categories, s.rules, s.loadedAt = m, rules, s.now()
	return m, rules, nil
}

func validate(c Contact) error {
	switch {
	case c.ChannelKind == "" || c.ChannelID == "" || c.ExternalID == "":
		return fmt.Errorf("%w: channel kind, channel id and external id are required", ErrInvalidContact)
	case len(c.ExternalID) > maxIDBytes || len(c.ChannelID) > maxIDBytes || len(c.ID) > maxIDBytes:
		return fmt.Errorf("%w: id longer than %d bytes", ErrInvalidContact, maxIDBytes)
	case len(c.Body) > maxBodyBytes:
		return fmt.Errorf("%w: body larger than %d bytes", ErrInvalidContact, maxBodyBytes)
	case !utf8.ValidString(c.Subject) || !utf8.ValidString(c.Body) || !utf8.ValidString(c.SenderName) || !utf8.ValidString(c.SenderEmail) ||
		!utf8.ValidString(c.SenderPhone) || !utf8.ValidString(c.SenderHandle) || !utf8.ValidString(c.SenderFiscalCode):
		return fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidContact)
	case len(c.SenderEmail) > maxIDBytes || len(c.SenderPhone) > maxIDBytes || len(c.SenderHandle) > maxIDBytes || len(c.SenderFiscalCode) > maxIDBytes:
		return fmt.Errorf("%w: sender identifier longer than %d bytes", ErrInvalidContact, maxIDBytes)
	case strings.ContainsRune(c.ExternalID+c.ChannelID+c.ChannelKind, 0):
		return fmt.Errorf("%w: NUL byte in an id", ErrInvalidContact)
	case c.Language != "" && !directory.ValidLanguage(c.Language):
		return fmt.Errorf("%w: language %q is not an ISO 639-1 code", ErrInvalidContact, c.Language)
	case len(c.Attachments) > MaxAttachments:
		return fmt.Errorf("%w: more than %d attachments", ErrInvalidContact, MaxAttachments)
	}
	for _, a := range c.Attachments {
		if len(a.SHA256) != 64 || strings.Trim(a.SHA256, "0123456789abcdef") != "" || a.Size < 0 ||
			!utf8.ValidString(a.FileName) || len(a.FileName) > 255 || len(a.ContentType) > 255 {
			return fmt.Errorf("%w: attachment %q is not a valid blob reference", ErrInvalidContact, a.FileName)
		}
	}
	notes := 0
	for _, n := range c.Notes {
		notes += len(n)
	}
	if notes > maxBodyBytes || !utf8.ValidString(strings.Join(c.Notes, "")) {
		return fmt.Errorf("%w: notes must be valid UTF-8 of at most %d bytes", ErrInvalidContact, maxBodyBytes)
	}
	return nil
}

// route picks the department: the category's when the hint names a known
// category; else the first routing rule that matches; else triage.
func route(c Contact, cats map[string]directory.Category, rules []directory.Rule) NewCase {
	nc := route1(c, cats, rules)
	if nc.Language == "" {
		nc.Language = "it"
	}
	if nc.Priority == 0 {
		nc.Priority = cases.PriorityNormal
	}
	if c.Priority != 0 {
		nc.Priority = c.Priority
	}
	return nc
}

func route1(c Contact, cats map[string]directory.Category, rules []directory.Rule) NewCase {
	nc := NewCase{Contact: c, Department: directory.TriageDepartment, Subject: subjectOf(c)}
	cat, known := cats[c.CategoryHint]
	if known {
		nc.Category, nc.RequiredSkill, nc.Priority = cat.Code, cat.Skill, cases.Priority(cat.DefaultPriority)
	}
	switch {
	case c.Department != "":
		nc.Department, nc.RoutingNote = c.Department, fmt.Sprintf("routed to %s by the member of staff who opened it", c.Department)
		return nc
	case known:
		nc.Department = cat.DepartmentID
		nc.RoutingNote = fmt.Sprintf("routed to %s by category %q", cat.DepartmentID, cat.Code)
		return nc
	}
	facts := directory.Facts{ChannelKind: c.ChannelKind, ChannelID: c.ChannelID, ToAddress: c.Metadata["to"],
		IVRChoice: c.Metadata["ivr"], Text: c.Subject + "\n" + c.Body}
	if dept, why, ok := directory.Route(rules, facts); ok {
		nc.Department, nc.RoutingNote = dept, why
		return nc
	}
	if c.CategoryHint != "" {
		nc.RoutingNote = fmt.Sprintf("routed to %s: unknown category %q and no rule matched", directory.TriageDepartment, c.CategoryHint)
	} else {
		nc.RoutingNote = fmt.Sprintf("routed to %s: no category and no rule matched", directory.TriageDepartment)
	}
	return nc
}

// subjectOf returns the contact's subject, or the first line of its body when
// it has none, cut to maxSubjectRunes.
func subjectOf(c Contact) string {
	s := strings.TrimSpace(c.Subject)
	if s == "" {
		s, _, _ = strings.Cut(strings.TrimSpace(c.Body), "\n")
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(senza oggetto)"
	}
	if utf8.RuneCountInString(s) > maxSubjectRunes {
		r := []rune(s)
		s = string(r[:maxSubjectRunes-1]) + "…"
	}
	return s
}
