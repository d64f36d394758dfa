// Package session keeps web sessions for citizens and staff: a random token
// in a cookie, its SHA-256 as the key of a row in a Store, idle and absolute
// timeouts, revocation, CSRF protection for state-changing requests, and
// secrets sealed under a key that only the cookie holds.
//
// It authenticates nobody: the login handlers (SPID/CIE, staff SSO, the
// development identity provider) call Manager.Start once they have. It must
// not import storage or the identity packages; services/storage implements
// Store.
//
// The raw token exists only in the browser's cookie and, for the length of
// a request, in this process's memory. It is never logged or stored: the
// store sees its hash, the CSRF token and the secrets' key are derived from
// it with HKDF-SHA256, so a dump of the sessions table yields neither a
// usable session, a valid CSRF token nor the sealed secrets.
package session

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sportello/sportello/auth"
)

// ErrNotFound is returned by a Store for a session that does not exist,
// was revoked or has reached its absolute expiry.
var ErrNotFound = errors.New("session not found, revoked or expired")

// Record is a session as the Store keeps it.
type Record struct {
	// IDHash is the hex SHA-256 of the cookie value (auth.HashToken): the
	// key.
	IDHash       string
	Subject      string
	Role         auth.Role
	Departments  []string
	OperatorID   string
	ContactID    string
	DisplayName  string
	FiscalNumber string // "" when unknown (staff)
	// Provider says how the user logged in: "spid:<op name>", "cie",
	// "staff-sso", "dev".
	Provider   string
	CreatedAt  time.Time
	LastSeenAt time.Time // refreshed at most once per Config.TouchInterval
	ExpiresAt  time.Time // the absolute timeout
	RevokedAt  time.Time // zero while the session is valid
	// Data is the sealed secrets (AES-256-GCM under a key derived from the
	// cookie token); nil when there are none.
	Data []byte
}

// Store keeps sessions. Times are passed in, so the Manager's clock is the
// only one. Implementations must make revocation effective for every
// replica at once (a shared database).
type Store interface {
	// CreateSession saves a new session.
	CreateSession(ctx context.Context, r Record) error
	// GetSession returns the session with this id hash unless it is
	// revoked or expired (ExpiresAt <= now): ErrNotFound then.
	GetSession(ctx context.Context, idHash string, now time.Time) (Record, error)
	// TouchSession moves LastSeenAt forward to seen (never backwards); it
	// is not an error if the session is gone.
	TouchSession(ctx context.Context, idHash string, seen time.Time) error
	// RevokeSession marks the session revoked at at; ErrNotFound if it
	// does not exist or is already revoked.
	RevokeSession(ctx context.Context, idHash string, at time.Time) error
	// RevokeSubjectSessions revokes every valid session of subject and
	// says how many it revoked.
	RevokeSubjectSessions(ctx context.Context, subject string, at time.Time) (int, error)
	// DeleteExpiredSessions removes sessions whose ExpiresAt <= now,
	// revoked or not, and says how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// Login is who a new session is for: what Manager.Start records.
type Login struct {
	Principal    auth.Principal
	ContactID    string // the citizen's contact, when known
	DisplayName  string
	FiscalNumber string
	Provider     string // required; see Record.Provider
	// Secrets are sealed with the session and readable only through a
	// request that carries its cookie (Session.Secret): e.g. the OP's
	// access token and ID token, needed at logout.
	Secrets map[string]string
}

// Session is the current user's session. Its fields are a snapshot of the
// stored row; changing them changes nothing.
type Session struct {
	Principal    auth.Principal
	ContactID    string
	DisplayName  string
	FiscalNumber string
	Provider     string
	CreatedAt    time.Time
	LastSeenAt   time.Time
	ExpiresAt    time.Time

	idHash string
	token  []byte // the cookie's 32 random bytes; never logged
	sealed []byte

	once    sync.Once
	secrets map[string]string
}

// ID is the session's key in the store (the hex SHA-256 of the cookie
// token): safe to log, useless as a cookie.
func (s *Session) ID() string { return s.idHash }

// CSRFToken is the session's synchronizer token, for the hidden field
// named FormField of every state-changing form (or the HeaderName header of
// an htmx request). It is derived from the cookie token, so it is the same
// for the whole session and never stored.
func (s *Session) CSRFToken() string { return csrfToken(s.token) }

// BearerToken is the session's cookie value, for the server's own calls
// to its services on the user's behalf (see Manager.Authenticate). It is a
// credential: never log it or put it in a page.
func (s *Session) BearerToken() string { return b64.EncodeToString(s.token) }

// Secret returns a secret given to Start, decrypting the session's sealed
// data on first use.
func (s *Session) Secret(key string) (string, bool) {
	s.once.Do(func() {
		s.secrets, _ = unseal(s.token, s.idHash, s.sealed)
	})
	v, ok := s.secrets[key]
	return v, ok
}

func newSession(rec Record, token []byte) *Session {
	return &Session{
		Principal: auth.Principal{Subject: rec.Subject, Role: rec.Role, Departments: rec.Departments, Operator: rec.OperatorID,
			Contact: rec.ContactID, Name: rec.DisplayName},
		ContactID: rec.ContactID, DisplayName: rec.DisplayName, FiscalNumber: rec.FiscalNumber, Provider: rec.Provider,
		CreatedAt: rec.CreatedAt, LastSeenAt: rec.LastSeenAt, ExpiresAt: rec.ExpiresAt,
		idHash: rec.IDHash, token: token, sealed: rec.Data,
	}
}

type ctxKey struct{}

// loaded marks a request whose session Middleware has looked up; s is nil
// for an anonymous request.
type loaded struct{ s *Session }

// FromContext returns the session Middleware put in ctx.
func FromContext(ctx context.Context) (*Session, bool) {
	l, ok := ctx.Value(ctxKey{}).(*loaded)
	if !ok || l.s == nil {
		return nil, false
	}
	return l.s, true
}
