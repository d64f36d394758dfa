// Package surveys is the anonymous customer-experience survey: the
// versioned questionnaire, invitations when a case is resolved, the
// citizen's answers and their aggregates. Anonymity is by construction: a
// stored response holds only the questionnaire version, the category,
// department and channel of the case, the month, and the answers (free
// text masked of fiscal codes, e-mail addresses, phone numbers and IBANs)
// — never a case, contact, operator, token, address or finer time. This
// package must not import gorm, nats or generated API types for its rules.
package surveys

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound: no such questionnaire version.
	ErrNotFound = errors.New("not found")
	// ErrInvalidToken: the survey link is unknown, expired or used.
	ErrInvalidToken = errors.New("survey link unknown or already used")
	// ErrInvalidArgument: a malformed questionnaire, answer or query.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Resolved answers to "La tua richiesta è stata risolta?".
const (
	ResolvedYes    = "yes"
	ResolvedPartly = "partly"
	ResolvedNo     = "no"
)

// Answer is what the citizen answered.
type Answer struct {
	Version  int    // questionnaire version answered
	Ease     int    // 1..5
	Aspect   string // code of the difficulty (ease 1-3) or preferred aspect (4-5); "" if none
	Comment  string // masked before storage
	Resolved string // ResolvedYes, ResolvedPartly, ResolvedNo or "" (not answered)
}

// Response is a stored answer: nothing in it identifies the case, the
// citizen or the moment beyond the month.
type Response struct {
	Answer
	Category   string
	Department string
	Channel    string
	Month      string // "YYYY-MM"
}

// Invitation is sent once per case. The token travels only in the message
// to the citizen; the store keeps its hash in a table without the case.
type Invitation struct {
	CaseID      string
	ContactID   string
	MessageID   string
	Channel     string // channel kind the invitation is sent on
	TokenHash   string
	OptOutHash  string // hash of the opt-out link's token
	Category    string
	Department  string
	CaseChannel string // the case's origin channel kind, recorded on the response
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

// Subject is what a pending token tells about its response-to-be.
type Subject struct {
	Category, Department, Channel string
}

// Store keeps questionnaires, invitations and responses. services/storage
// implements it.
type Store interface {
	// ListQuestionnaires returns every version, newest first.
	ListQuestionnaires(ctx context.Context) ([]Questionnaire, error)
	// GetQuestionnaire returns one version; ErrNotFound if none.
	GetQuestionnaire(ctx context.Context, version int) (Questionnaire, error)
	// CreateQuestionnaire stores q as the next version and returns it.
	CreateQuestionnaire(ctx context.Context, q Questionnaire) (Questionnaire, error)
	// PendingSurvey returns what the unused, unexpired token with hash h
	// is about; ErrInvalidToken otherwise.
	PendingSurvey(ctx context.Context, h string, now time.Time) (Subject, error)
	// Respond deletes the token with hash h and stores r in one
	// transaction; ErrInvalidToken if the token is gone (used, expired,
	// unknown). r's Category, Department and Channel come from the token.
	Respond(ctx context.Context, h string, r Response, now time.Time) error
	// OptOut records that the contact invited with opt-out token hash h
	// wants no more questionnaires; ErrInvalidToken if none.
	OptOut(ctx context.Context, h string) error
	// SurveyOptedOut reports whether the contact opted out.
	SurveyOptedOut(ctx context.Context, contactID string) (bool, error)
	// ContactInvitations returns the invitation messages sent to the
	// contact, on any channel, newest first (at most 20).
	ContactInvitations(ctx context.Context, contactID string) ([]InvitationMessage, error)
	// Results aggregates the responses.
	Results(ctx context.Context, q Query) ([]Cell, error)
}
