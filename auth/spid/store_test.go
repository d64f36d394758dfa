package spid

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := NewMemoryStore(2)
	s.now = func() time.Time { return now }
	put := func(state string, ttl time.Duration) error {
		return s.Put(ctx, Attempt{State: state, Nonce: "n-" + state, Expires: now.Add(ttl)})
	}

	if err := put("a", AttemptTTL); err != nil {
		t.Fatal(err)
	}
	a, err := s.Take(ctx, "a")
	if err != nil || a.Nonce != "n-a" {
		t.Fatalf("take: %+v %v", a, err)
	}
	if _, err := s.Take(ctx, "a"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("second take: %v, want ErrUnknownState (single use)", err)
	}
	if _, err := s.Take(ctx, "never"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("unknown: %v", err)
	}

	// Expiry: an attempt 10 minutes old is gone.
	if err := put("b", AttemptTTL); err != nil {
		t.Fatal(err)
	}
	now = now.Add(AttemptTTL)
	if _, err := s.Take(ctx, "b"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("expired: %v, want ErrUnknownState", err)
	}

	// Capacity: expired attempts make room, live ones do not.
	_ = put("c", time.Second)
	_ = put("d", time.Minute)
	now = now.Add(2 * time.Second)
	if err := put("e", time.Minute); err != nil {
		t.Errorf("put after an expiry freed room: %v", err)
	}
	if err := put("f", time.Minute); !errors.Is(err, ErrTooManyAttempts) {
		t.Errorf("put over capacity: %v, want ErrTooManyAttempts", err)
	}
}

// TestMemoryStoreTakeOnce: of many concurrent takes of one state, one wins.
func TestMemoryStoreTakeOnce(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(0)
	for round := range 20 {
		state := randomString(32)
		if err := s.Put(ctx, Attempt{State: state, Expires: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := s.Take(ctx, state); err == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d takes succeeded", round, wins.Load())
		}
	}
}
