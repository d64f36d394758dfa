// Package channeltest is the test suite every webhook adapter must pass:
// stable external ids across redelivery, no contact for a forged
// request, prompt shutdown and idempotent Close. Adapters run it from
// their own tests with a Case.
package channeltest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/channels"
)

// Sink records what an adapter delivers.
type Sink struct {
	mu       sync.Mutex
	contacts []*inboundv1.InboundContact
	// Err, when set, is returned by Deliver (nothing is recorded).
	Err error
}

// Deliver implements channels.Sink.
func (s *Sink) Deliver(_ context.Context, c *inboundv1.InboundContact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	s.contacts = append(s.contacts, c)
	return nil
}

// Contacts returns what was delivered.
func (s *Sink) Contacts() []*inboundv1.InboundContact {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.contacts)
}

// Case describes an adapter to the suite.
type Case struct {
	// Open opens a fresh instance delivering to sink.
	Open func(t *testing.T, sink channels.Sink) channels.WebhookReceiver
	// Valid returns a genuine delivery carrying at least one message; each
	// call returns a new request with the same body.
	Valid func() *http.Request
	// Forged returns the same delivery with a wrong signature or secret.
	Forged func() *http.Request
}

func serve(a channels.WebhookReceiver, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	a.Webhook().ServeHTTP(w, r)
	return w
}

func externalIDs(cs []*inboundv1.InboundContact) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.GetExternalId())
	}
	slices.Sort(ids)
	return ids
}

// Run runs the suite.
func Run(t *testing.T, c Case) {
	t.Run("StableExternalIDsAcrossRedelivery", func(t *testing.T) {
		sink := &Sink{}
		a := c.Open(t, sink)
		defer a.Close()
		if w := serve(a, c.Valid()); w.Code != http.StatusOK {
			t.Fatalf("first delivery: %d %s", w.Code, w.Body)
		}
		first := externalIDs(sink.Contacts())
		if len(first) == 0 || slices.Contains(first, "") {
			t.Fatalf("first delivery gave external ids %q, want non-empty ones", first)
		}
		if w := serve(a, c.Valid()); w.Code != http.StatusOK {
			t.Fatalf("redelivery: %d %s", w.Code, w.Body)
		}
		all := sink.Contacts()
		second := externalIDs(all[len(first):])
		if !slices.Equal(first, second) {
			t.Fatalf("redelivery gave external ids %q, first %q", second, first)
		}
		for i, ct := range all[:len(first)] {
			if ct.GetChannelId() != a.ID() || ct.GetChannelKind() != a.Kind() {
				t.Errorf("contact %d: channel %s/%s, want %s/%s", i, ct.GetChannelKind(), ct.GetChannelId(), a.Kind(), a.ID())
			}
		}
	})
	t.Run("NoContactForAForgedRequest", func(t *testing.T) {
		sink := &Sink{}
		a := c.Open(t, sink)
		defer a.Close()
		w := serve(a, c.Forged())
		if w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden {
			t.Errorf("forged request answered %d, want 401 or 403", w.Code)
		}
		if n := len(sink.Contacts()); n != 0 {
			t.Errorf("forged request delivered %d contacts", n)
		}
		if h := a.Health(); h.LastError.IsZero() || h.LastErr == "" {
			t.Errorf("forged request not in the health: %+v", h)
		}
	})
	t.Run("StoreFailureIsNotAcknowledged", func(t *testing.T) {
		sink := &Sink{Err: context.DeadlineExceeded}
		a := c.Open(t, sink)
		defer a.Close()
		if w := serve(a, c.Valid()); w.Code/100 == 2 {
			t.Errorf("delivery the sink refused answered %d; the provider would not retry", w.Code)
		}
	})
	t.Run("PromptShutdownAndIdempotentClose", func(t *testing.T) {
		sink := &Sink{}
		a := c.Open(t, sink)
		t0 := time.Now()
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("Close took %v", d)
		}
		if w := serve(a, c.Valid()); w.Code/100 == 2 {
			t.Errorf("delivery after Close answered %d, want a retryable refusal", w.Code)
		}
		if n := len(sink.Contacts()); n != 0 {
			t.Errorf("delivery after Close delivered %d contacts", n)
		}
	})
}
