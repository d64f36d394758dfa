package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sportello/sportello/auth/spid"
)

// The SPID/CIE login attempts live here rather than in a package of their
// own: auth/spid imports nothing of Sportello's, so storage may import it
// for the AttemptStore contract, as it imports the domains whose stores
// it implements.

var _ spid.AttemptStore = (*LoginAttempts)(nil)

type loginAttemptRow struct {
	State       string `gorm:"primaryKey"`
	Nonce       string
	Verifier    string
	Provider    string
	ACR         int `gorm:"column:acr"`
	BrowserHash string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

func (loginAttemptRow) TableName() string { return "login_attempts" }

// LoginAttemptsConfig tunes LoginAttempts.
type LoginAttemptsConfig struct {
	// MaxPending bounds the attempts waiting for their callback, across
	// every replica (0 means 100,000): past it, Put refuses with
	// spid.ErrTooManyAttempts, so a flood of login starts costs bounded
	// storage. The bound is checked by counting, at most every few
	// seconds per replica while far from it, so it may be overshot by the
	// attempts all replicas start in that time.
	MaxPending int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// recountEvery is how often Put counts the pending attempts while its
// estimate is below the bound.
const recountEvery = 5 * time.Second

// LoginAttempts is a spid.AttemptStore in the database, shared by every
// replica: the OP's callback may land on another replica than the one
// that started the login.
type LoginAttempts struct {
	db  *DB
	max int
	now func() time.Time

	mu      sync.Mutex
	counted time.Time // when the pending attempts were last counted
	pending int       // that count, plus the Puts since, minus the Takes
}

// LoginAttempts returns the database-backed store of pending SPID/CIE
// logins, for spid.Deps.Store. Keep one per process (it caches a count),
// and call its DeleteExpired periodically.
func (db *DB) LoginAttempts(cfg LoginAttemptsConfig) *LoginAttempts {
	s := &LoginAttempts{db: db, max: cfg.MaxPending, now: cfg.Now}
	if s.max <= 0 {
		s.max = 100_000
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Put implements spid.AttemptStore.
func (s *LoginAttempts) Put(ctx context.Context, a spid.Attempt) error {
	now := s.now().UTC()
	if err := s.makeRoom(ctx, now); err != nil {
		return err
	}
	row := loginAttemptRow{State: a.State, Nonce: a.Nonce, Verifier: a.Verifier, Provider: a.Provider,
		ACR: int(a.ACR), BrowserHash: a.BrowserHash, CreatedAt: now, ExpiresAt: a.Expires.UTC()}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("save login attempt: state already issued")
		}
		return fmt.Errorf("save login attempt: %w", err)
	}
	s.mu.Lock()
	s.pending++
	s.mu.Unlock()
	return nil
}

// makeRoom refuses a new attempt when MaxPending are stored; expired ones
// are deleted first, as spid.MemoryStore drops them.
func (s *LoginAttempts) makeRoom(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	need := s.pending >= s.max || now.Sub(s.counted) >= recountEvery || now.Before(s.counted)
	s.mu.Unlock()
	if !need {
		return nil
	}
	n, err := s.count(ctx)
	if err == nil && n >= s.max {
		if _, err = s.DeleteExpired(ctx); err == nil {
			n, err = s.count(ctx)
		}
	}
	if err != nil {
		return fmt.Errorf("count login attempts: %w", err)
	}
	s.mu.Lock()
	s.counted, s.pending = now, n
	s.mu.Unlock()
	if n >= s.max {
		return spid.ErrTooManyAttempts
	}
	return nil
}

// count counts the stored attempts, expired or not, up to s.max: reading
// more would tell nothing.
func (s *LoginAttempts) count(ctx context.Context) (int, error) {
	var n int64
	err := s.db.gorm.WithContext(ctx).
		Raw("SELECT COUNT(*) FROM (SELECT 1 FROM login_attempts LIMIT ?) AS t", s.max).Scan(&n).Error
	return int(n), err
}

// Take implements spid.AttemptStore. The DELETE ... RETURNING is the
// single use: of concurrent Takes of one state, on any replicas, exactly
// one gets the row. An expired attempt is deleted too, and refused.
func (s *LoginAttempts) Take(ctx context.Context, state string) (spid.Attempt, error) {
	if state == "" {
		return spid.Attempt{}, spid.ErrUnknownState
	}
	var rows []loginAttemptRow
	err := s.db.gorm.WithContext(ctx).Raw(`DELETE FROM login_attempts WHERE state = ?
		RETURNING state, nonce, verifier, provider, acr, browser_hash, created_at, expires_at`, state).Scan(&rows).Error
	if err != nil {
		return spid.Attempt{}, fmt.Errorf("take login attempt: %w", err)
	}
	if len(rows) == 0 {
		return spid.Attempt{}, spid.ErrUnknownState
	}
	s.mu.Lock()
	s.pending = max(s.pending-1, 0)
	s.mu.Unlock()
	r := rows[0]
	if !s.now().Before(r.ExpiresAt) {
		return spid.Attempt{}, spid.ErrUnknownState
	}
	return spid.Attempt{State: r.State, Nonce: r.Nonce, Verifier: r.Verifier, Provider: r.Provider,
		ACR: spid.ACR(r.ACR), BrowserHash: r.BrowserHash, Expires: r.ExpiresAt.UTC()}, nil
}

// DeleteExpired removes the attempts past their expiry, in batches, and
// says how many.
func (s *LoginAttempts) DeleteExpired(ctx context.Context) (int, error) {
	return s.db.deleteExpired(ctx, "login_attempts", "state", s.now())
}
