package spid

import (
	"context"
	"errors"
	"sync"
	"time"
)

// AttemptTTL is how long a login attempt may take, from the redirect to the
// OP until its callback; the rules ask for at most 10 minutes.
const AttemptTTL = 10 * time.Minute

// ErrUnknownState is returned for a state that was never issued, was
// already used, or has expired: the three are indistinguishable on purpose.
var ErrUnknownState = errors.New("spid: unknown, used or expired state")

// ErrTooManyAttempts is returned when a store refuses a new attempt to
// bound its memory.
var ErrTooManyAttempts = errors.New("spid: too many pending login attempts")

// Attempt is one pending login: what the callback must check the OP's
// answer against. It holds secrets (the PKCE verifier, the nonce); a store
// must not log it.
type Attempt struct {
	State    string // the key; ≥ 32 random characters
	Nonce    string
	Verifier string // PKCE code_verifier
	Provider string // Provider.Name
	ACR      ACR    // level requested
	// BrowserHash is the SHA-256 (hex) of the value of the cookie set on
	// the browser that started the attempt: the callback must come from
	// that browser, so a code obtained by someone else cannot be pushed
	// into a victim's session (login CSRF).
	BrowserHash string
	Expires     time.Time
}

// AttemptStore keeps pending attempts between the redirect to the OP and
// the callback. With more than one replica the callback may land on
// another replica than the one that started the attempt, so those
// deployments need a shared implementation (a database table with
// state as primary key and an expiry index: Take is
// DELETE ... WHERE state = $1 AND expires > now() RETURNING ...).
type AttemptStore interface {
	// Put saves a new attempt until a.Expires.
	Put(ctx context.Context, a Attempt) error
	// Take removes and returns the attempt with this state. It returns
	// ErrUnknownState if there is none or it has expired. Single use must
	// hold under concurrency: of two Takes of one state, at most one
	// succeeds.
	Take(ctx context.Context, state string) (Attempt, error)
}

// MemoryStore is an AttemptStore in this process's memory: right for one
// replica, wrong for several (see AttemptStore).
type MemoryStore struct {
	mu       sync.Mutex
	attempts map[string]Attempt
	max      int
	now      func() time.Time
}

// NewMemoryStore holds at most max pending attempts (0 means 100,000):
// expired ones are dropped first, then new ones are refused, so a flood of
// login starts costs bounded memory.
func NewMemoryStore(max int) *MemoryStore {
	if max <= 0 {
		max = 100_000
	}
	return &MemoryStore{attempts: map[string]Attempt{}, max: max, now: time.Now}
}

var _ AttemptStore = (*MemoryStore)(nil)

func (s *MemoryStore) Put(_ context.Context, a Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.attempts) >= s.max {
		now := s.now()
		for k, v := range s.attempts {
			if !now.Before(v.Expires) {
				delete(s.attempts, k)
			}
		}
		if len(s.attempts) >= s.max {
			return ErrTooManyAttempts
		}
	}
	s.attempts[a.State] = a
	return nil
}

func (s *MemoryStore) Take(_ context.Context, state string) (Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attempts[state]
	if !ok {
		return Attempt{}, ErrUnknownState
	}
	delete(s.attempts, state)
	if !s.now().Before(a.Expires) {
		return Attempt{}, ErrUnknownState
	}
	return a, nil
}
