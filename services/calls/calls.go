// Package calls is the call centre: the call log the CTI webhook
// (channels/cti) feeds, the screen pop (who calls, with which open
// cases), live call notices for the operator console, callback cases for
// unanswered calls, the blocked-caller list, and the CallService through
// which an operator attaches a call to a case. Storage lives in
// services/storage behind Store; it never imports gorm or nats.
package calls

import (
	"context"
	"errors"
	"time"
)

// State is where a call is.
type State string

const (
	StateRinging  State = "ringing"
	StateAnswered State = "answered"
	StateEnded    State = "ended"
	// StateRejected: a blocked caller, refused at newCall.
	StateRejected State = "rejected"
)

// Call is one telephone call the PBX reported.
type Call struct {
	ID         string // UUIDv7
	ChannelID  string
	ExternalID string // the PBX's call id
	Direction  string // "inbound" or "outbound"
	From, To   string
	Queue      string
	IVRChoice  string
	Department string
	ContactID  string // "" when the number is unknown
	Operator   string // who answered
	State      State
	Cause      string
	Duration   int // seconds
	Recording  string
	// CaseID is the case an operator attached the call to;
	// CallbackCaseID the callback case an unanswered call opened.
	CaseID         string
	CallbackCaseID string
	Notes          string
	StartedAt      time.Time
	AnsweredAt     time.Time // zero if never
	EndedAt        time.Time // zero while going on
}

// Blocked is a number whose calls are rejected.
type Blocked struct {
	Number    string
	Reason    string
	CreatedBy string
	CreatedAt time.Time
}

// Store keeps the call log and the blocked list. services/storage
// implements it.
type Store interface {
	// CreateCall stores c, unless a call of the same channel and external
	// id exists: then it returns that call and false.
	CreateCall(ctx context.Context, c Call) (Call, bool, error)
	// UpdateCall applies fn to the call in one transaction; when fn
	// reports no change nothing is written. ErrNotFound when missing.
	UpdateCall(ctx context.Context, id string, fn func(c *Call) (bool, error)) (Call, error)
	GetCall(ctx context.Context, id string) (Call, error)
	// FindCall returns the call of a channel by the PBX's id.
	FindCall(ctx context.Context, channelID, externalID string) (Call, error)
	// ListCalls returns the contact's calls newest first.
	ListCalls(ctx context.Context, contactID string, limit int) ([]Call, error)

	IsBlocked(ctx context.Context, number string) (bool, error)
	BlockNumber(ctx context.Context, b Blocked) (Blocked, error)
	// UnblockNumber: ErrNotFound when the number was not blocked.
	UnblockNumber(ctx context.Context, number string) error
	ListBlocked(ctx context.Context) ([]Blocked, error)
}

var (
	// ErrNotFound: no such call or blocked number.
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument: a request that cannot succeed as given.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: not allowed in the call's state.
	ErrFailedPrecondition = errors.New("failed precondition")
)
