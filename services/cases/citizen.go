package cases

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/attachments"
)

// PortalChannel is the channel kind of what a logged-in citizen writes on
// the portal or through the API.
const PortalChannel = "portal"

// mayRead reports whether p may see case c: staff the cases of their
// departments, a citizen the cases of their own contact record, the
// holder of a follow link that one case.
func mayRead(p auth.Principal, c Case) bool {
	if p.Staff() {
		return p.InDepartment(c.Department)
	}
	return p.OwnsContact(c.ContactID) || p.FollowsCase(c.ID)
}

// FollowLinkKind is the Kind of the automatic message that carries a
// follow link (services/follow.LinkKind).
const FollowLinkKind = "follow_link"

// followToken finds the token of a follow link in a message.
var followToken = regexp.MustCompile(`/follow/[A-Za-z0-9_-]+`)

// AckKind is the Kind of an automatic acknowledgement of a new case
// (services/intake.AckKind); the web form's carries a follow link.
const AckKind = "acknowledgement"

// maskFollowLink is the body of m as the API shows it: a follow link's
// token is a credential for the case, so nobody reading the thread (staff
// included) sees it; the e-mail channel sends the stored body.
func maskFollowLink(m Message) string {
	if m.Kind != FollowLinkKind && m.Kind != AckKind {
		return m.Body
	}
	return followToken.ReplaceAllString(m.Body, "/follow/…")
}

// citizenView removes from a case what only staff may see: who works it,
// internal tags, skills, links to cases that may not be the citizen's.
// The SLA state stays: the citizen may know whether we are late.
func citizenView(pc *casesv1.Case) *casesv1.Case {
	pc.Assignee, pc.Tags, pc.RequiredSkill, pc.Links = "", nil, "", nil
	return pc
}

// visibleToCitizen reports whether a citizen sees message m of their case:
// what they wrote and what was written to them, never internal notes or
// Sportello's own system entries.
func visibleToCitizen(m Message) bool {
	return m.Direction == Inbound || m.Direction == Outbound
}

// citizenMaySee reports whether a citizen sees attachment a of their own
// case: what they uploaded, and the files of messages they see.
func (s *Server) citizenMaySee(ctx context.Context, a attachments.Attachment) bool {
	p, _ := auth.PrincipalFrom(ctx)
	if a.MessageID == "" {
		return a.UploadedBy == p.Subject
	}
	m, err := s.Messages.GetMessage(ctx, a.MessageID)
	return err == nil && m.CaseID == a.CaseID && visibleToCitizen(m)
}

// DefaultReopenWindow is how long after a case was resolved or closed a
// citizen's reply reopens it; after that the citizen's message belongs to
// a new case (intake opens one, linked; the portal asks for a new request).
const DefaultReopenWindow = 14 * 24 * time.Hour

// WindowText writes a window in days when it is whole days ("14 days").
func WindowText(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// CitizenReplied is the Mutation for a message a logged-in citizen writes
// on their own case: a case waiting for the citizen, or resolved within
// reopenWindow, opens again with its SLA resumed (CitizenWrote); a closed
// case, or one resolved longer ago, takes no more messages: the citizen
// sends a new request, as an e-mail after the window opens a new case.
func CitizenReplied(actor string, m Message, now time.Time, clock SLAClock, reopenWindow time.Duration) Mutation {
	return func(c *Case) ([]Event, error) {
		if m.Direction != Inbound {
			return nil, fmt.Errorf("%w: a citizen writes messages of direction inbound", ErrInvalidArgument)
		}
		if err := validMessage(m); err != nil {
			return nil, err
		}
		if c.Status == StatusClosed {
			return nil, fmt.Errorf("%w: the case is closed; send a new request", ErrFailedPrecondition)
		}
		if c.Status == StatusResolved && (c.SettledAt.IsZero() || now.Sub(c.SettledAt) > reopenWindow) {
			return nil, fmt.Errorf("%w: the case was resolved more than %s ago; send a new request", ErrFailedPrecondition, WindowText(reopenWindow))
		}
		changes := map[string]Change{"message": {After: m.ID}, "direction": {After: string(Inbound)}}
		if len(m.Attachments) > 0 {
			changes["attachments"] = Change{After: strconv.Itoa(len(m.Attachments))}
		}
		evs := []Event{{Type: EventMessageAdded, Actor: actor, Changes: changes}}
		reopened, err := CitizenWrote(c, actor, now, clock)
		return append(evs, reopened...), err
	}
}

// CitizenWrote applies a citizen's new message to c's status: a case
// waiting for the citizen, resolved or closed opens again, with its SLA
// resumed; it returns the status change event, if any. Intake's follow-ups
// and portal replies share it.
func CitizenWrote(c *Case, actor string, now time.Time, clock SLAClock) ([]Event, error) {
	before := c.Status
	var reason string
	switch before {
	case StatusPendingCitizen:
		reason = "the citizen replied"
	case StatusResolved, StatusClosed:
		reason = "reopened by the citizen's reply"
	default:
		return nil, nil
	}
	c.Status = StatusOpen
	evs := []Event{{Type: EventStatusChanged, Actor: actor, Reason: reason,
		Changes: map[string]Change{"status": {Before: string(before), After: string(StatusOpen)}}}}
	return evs, ApplySLA(c, before, now, clock)
}
