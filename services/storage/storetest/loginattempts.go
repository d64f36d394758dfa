package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sportello/sportello/auth/spid"
	"github.com/sportello/sportello/services/storage"
)

var loginAttemptTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"LoginAttemptPutTake", testLoginAttemptPutTake},
	{"LoginAttemptTakeOnce", testLoginAttemptTakeOnce},
	{"LoginAttemptLimit", testLoginAttemptLimit},
}

// clock is a settable time for the stores that take one.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func attempt(state string, expires time.Time) spid.Attempt {
	return spid.Attempt{State: state, Nonce: "nonce-" + state, Verifier: "verifier-" + state, Provider: "poste",
		ACR: spid.SpidL2, BrowserHash: "b1946ac92492d2347c6235b4d2611184" + "b1946ac92492d2347c6235b4d2611184", Expires: expires}
}

func testLoginAttemptPutTake(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	c := &clock{t: t0}
	// Two replicas: the callback may reach the one that did not start the
	// login.
	a1 := db.LoginAttempts(storage.LoginAttemptsConfig{Now: c.Now})
	a2 := db.LoginAttempts(storage.LoginAttemptsConfig{Now: c.Now})

	want := attempt("state-0123456789abcdef0123456789abcdef", t0.Add(spid.AttemptTTL))
	want.ACR = spid.SpidL3
	if err := a1.Put(ctx, want); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := a1.Put(ctx, want); err == nil {
		t.Error("a second Put of one state was accepted")
	}
	got, err := a2.Take(ctx, want.State)
	if err != nil {
		t.Fatalf("Take on the other replica: %v", err)
	}
	if got != want {
		t.Errorf("Take = %+v, want %+v", got, want)
	}
	if _, err := a1.Take(ctx, want.State); !errors.Is(err, spid.ErrUnknownState) {
		t.Errorf("second Take: %v, want ErrUnknownState", err)
	}
	for _, s := range []string{"never-issued", ""} {
		if _, err := a1.Take(ctx, s); !errors.Is(err, spid.ErrUnknownState) {
			t.Errorf("Take(%q): %v, want ErrUnknownState", s, err)
		}
	}

	// Expired: refused at its expiry, and removed.
	if err := a1.Put(ctx, attempt("late", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := a1.Put(ctx, attempt("later", t0.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	if _, err := a2.Take(ctx, "late"); !errors.Is(err, spid.ErrUnknownState) {
		t.Errorf("expired attempt: %v, want ErrUnknownState", err)
	}
	// Cleanup removes what expired and keeps the rest.
	if err := a1.Put(ctx, attempt("stale", t0.Add(30*time.Second))); err != nil {
		t.Fatal(err)
	}
	if n, err := a1.DeleteExpired(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if _, err := a2.Take(ctx, "later"); err != nil {
		t.Errorf("live attempt after cleanup: %v", err)
	}
}

// testLoginAttemptTakeOnce: of concurrent Takes of one state (as from
// several replicas), exactly one wins.
func testLoginAttemptTakeOnce(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	const takers = 16
	stores := make([]spid.AttemptStore, 4)
	for i := range stores {
		stores[i] = db.LoginAttempts(storage.LoginAttemptsConfig{})
	}
	for round := range 5 {
		state := fmt.Sprintf("state-%d-%s", round, sessionID())
		if err := stores[0].Put(ctx, attempt(state, time.Now().Add(spid.AttemptTTL))); err != nil {
			t.Fatal(err)
		}
		var wins, unknown atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range takers {
			wg.Go(func() {
				<-start
				a, err := stores[i%len(stores)].Take(ctx, state)
				switch {
				case err == nil && a.State == state:
					wins.Add(1)
				case errors.Is(err, spid.ErrUnknownState):
					unknown.Add(1)
				default:
					t.Errorf("Take: %+v, %v", a, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || unknown.Load() != takers-1 {
			t.Fatalf("round %d: %d winners and %d ErrUnknownState of %d takes; want exactly one winner", round, wins.Load(), unknown.Load(), takers)
		}
	}
}

func testLoginAttemptLimit(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	c := &clock{t: t0}
	s := db.LoginAttempts(storage.LoginAttemptsConfig{MaxPending: 3, Now: c.Now})
	if err := s.Put(ctx, attempt("a", t0.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"b", "c"} {
		if err := s.Put(ctx, attempt(st, t0.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, attempt("d", t0.Add(time.Minute))); !errors.Is(err, spid.ErrTooManyAttempts) {
		t.Fatalf("Put over the limit: %v, want ErrTooManyAttempts", err)
	}
	// The bound holds across replicas: another store on the database
	// counts before its first Put.
	other := db.LoginAttempts(storage.LoginAttemptsConfig{MaxPending: 3, Now: c.Now})
	if err := other.Put(ctx, attempt("d", t0.Add(time.Minute))); !errors.Is(err, spid.ErrTooManyAttempts) {
		t.Fatalf("Put over the limit on another replica: %v, want ErrTooManyAttempts", err)
	}
	// An expired attempt makes room; a taken one too.
	c.Add(2 * time.Second)
	if err := s.Put(ctx, attempt("d", t0.Add(time.Minute))); err != nil {
		t.Fatalf("Put after an expiry: %v", err)
	}
	if _, err := s.Take(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, attempt("e", t0.Add(time.Minute))); err != nil {
		t.Fatalf("Put after a Take: %v", err)
	}
	if err := s.Put(ctx, attempt("f", t0.Add(time.Minute))); !errors.Is(err, spid.ErrTooManyAttempts) {
		t.Fatalf("Put over the limit again: %v, want ErrTooManyAttempts", err)
	}
}
