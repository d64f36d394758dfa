package surveys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
)

// InvitationKind is the Kind of the invitation message in the case thread.
const InvitationKind = "survey_invitation"

// CloseTags mark a case that must not be surveyed: a case tagged with one
// of them was closed as spam or as a duplicate. (A merged case is closed
// by the merge and never resolved, so it is never invited either.)
var CloseTags = []string{"spam", "duplicate"}

// CallCentreKinds are channel kinds that cannot carry a written message:
// their citizens are invited by e-mail when their address is known.
var CallCentreKinds = []string{"phone", "call_centre", "cti"}

// WebKinds are the channel kinds of requests made on the web (the form,
// the portal): invited by e-mail when the citizen gave an address.
var WebKinds = []string{"webform", "portal"}

// DefaultLinkTTL is how long a survey link stays valid.
const DefaultLinkTTL = 30 * 24 * time.Hour

// Invitations stores an invitation with its message. services/storage
// implements it.
type Invitations interface {
	// CreateInvitation stores inv, its token hash and the outbound message
	// m on the case (with fn's events) in one transaction. It returns
	// false, storing nothing, when the case has an invitation already.
	CreateInvitation(ctx context.Context, inv Invitation, m cases.Message, fn cases.Mutation) (bool, error)
	SurveyOptedOut(ctx context.Context, contactID string) (bool, error)
}

// Inviter invites the citizen of a resolved case, once per case.
type Inviter struct {
	Cases interface {
		GetCase(context.Context, string) (cases.Case, error)
	}
	Contacts interface {
		GetContact(context.Context, string) (contacts.Contact, error)
	}
	Store Invitations
	// BaseURL is the public address of the web pages ("https://sportello.example.it").
	BaseURL string
	// EmailChannel is the e-mail channel id used for call-centre cases;
	// "" sends them nothing.
	EmailChannel string
	TTL          time.Duration
	Now          func() time.Time
	Log          *slog.Logger
	// Counted is called with each outcome: "sent" or "skipped_<why>".
	Counted func(outcome string)
}

// Invite invites the citizen of case caseID if the case is resolved (or
// closed after resolution) and nothing excludes it; redelivering the same
// event is harmless. It returns the outcome.
func (iv *Inviter) Invite(ctx context.Context, caseID string) (string, error) {
	outcome, err := iv.invite(ctx, caseID)
	if err == nil && iv.Counted != nil {
		iv.Counted(outcome)
	}
	return outcome, err
}

func (iv *Inviter) invite(ctx context.Context, caseID string) (string, error) {
	c, err := iv.Cases.GetCase(ctx, caseID)
	if errors.Is(err, cases.ErrNotFound) {
		return "skipped_no_case", nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case c.Status != cases.StatusResolved && c.Status != cases.StatusClosed:
		return "skipped_reopened", nil // resolved again later: invited then
	case c.MergedInto != "" || slices.ContainsFunc(c.Tags, func(t string) bool { return slices.Contains(CloseTags, t) }):
		return "skipped_spam_or_duplicate", nil
	case c.ContactID == "":
		return "skipped_no_contact", nil
	}
	out, err := iv.Store.SurveyOptedOut(ctx, c.ContactID)
	if err != nil {
		return "", err
	}
	if out {
		return "skipped_opted_out", nil
	}
	who, err := iv.Contacts.GetContact(ctx, c.ContactID)
	if err != nil {
		return "", fmt.Errorf("contact of case %s: %w", c.ID, err)
	}
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, AuthorName: "Sportello", Kind: InvitationKind}
	channel := c.ChannelKind
	switch {
	case slices.Contains(CallCentreKinds, c.ChannelKind):
		if who.Email == "" || iv.EmailChannel == "" {
			return "skipped_no_address", nil
		}
		m.ChannelKind, m.ChannelID, channel = "email", iv.EmailChannel, "email"
	case c.ChannelKind == "email" && who.Email == "":
		return "skipped_no_address", nil
	case slices.Contains(WebKinds, c.ChannelKind) && who.Email != "" && iv.EmailChannel != "":
		// The web form has no way back of its own; without an address
		// the invitation stays on the case (the portal's banner).
		m.ChannelKind, m.ChannelID, channel = "email", iv.EmailChannel, "email"
	}
	now := time.Now()
	if iv.Now != nil {
		now = iv.Now()
	}
	ttl := iv.TTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	token, optOut := NewToken(), NewToken()
	expires := now.Add(ttl).UTC().Truncate(24 * time.Hour)
	m.Body = invitationText(c, who.DisplayName, strings.TrimRight(iv.BaseURL, "/"), token, optOut, expires)
	inv := Invitation{CaseID: c.ID, ContactID: c.ContactID, MessageID: m.ID, Channel: channel, TokenHash: HashToken(token),
		OptOutHash: HashToken(optOut), Category: c.Category, Department: c.Department, CaseChannel: c.ChannelKind,
		ExpiresAt: expires, CreatedAt: now.UTC()}
	created, err := iv.Store.CreateInvitation(ctx, inv, m, func(*cases.Case) ([]cases.Event, error) {
		return []cases.Event{{Type: cases.EventMessageAdded, Actor: cases.SystemActor, Changes: map[string]cases.Change{
			"message": {After: m.ID}, "direction": {After: string(cases.Outbound)}, "kind": {After: InvitationKind}}}}, nil
	})
	if err != nil {
		return "", err
	}
	if !created {
		return "skipped_already_invited", nil
	}
	return "sent", nil
}

// invitationText is the invitation in the case's language.
func invitationText(c cases.Case, name, base, token, optOut string, expires time.Time) string {
	link, stop := base+"/survey/"+token, base+"/survey/opt-out/"+optOut
	if c.Language == "en" {
		greeting := "Hello,"
		if name != "" {
			greeting = "Dear " + name + ","
		}
		return greeting + "\n\nyour request " + c.Reference + " has been resolved. Please help us improve: this short anonymous questionnaire takes less than a minute.\n\n" +
			link + "?lang=en\n\nThe link works once, until " + expires.Format("2 January 2006") +
			". Your answers are anonymous: they are not linked to your request or to you.\n\nTo receive no more questionnaires: " + stop + "?lang=en\n"
	}
	greeting := "Gentile cittadina, gentile cittadino,"
	if name != "" {
		greeting = "Gentile " + name + ","
	}
	return greeting + "\n\nla sua richiesta " + c.Reference + " è stata risolta. Ci aiuti a migliorare il servizio: il questionario è anonimo e richiede meno di un minuto.\n\n" +
		link + "\n\nIl link vale una sola volta, fino al " + expires.Format("02/01/2006") +
		". Le risposte sono anonime: non sono collegate alla sua richiesta né a lei.\n\nPer non ricevere più questionari: " + stop + "\n"
}
