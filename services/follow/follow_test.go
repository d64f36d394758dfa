package follow

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/cases"
)

func TestParseToken(t *testing.T) {
	tok := NewToken()
	if h, ok := ParseToken(tok); !ok || h != HashToken(tok) {
		t.Fatalf("ParseToken(NewToken()) = %q, %v", h, ok)
	}
	if NewToken() == tok {
		t.Fatal("two equal tokens")
	}
	for _, bad := range []string{"", TokenPrefix, tok[:len(tok)-1], tok + "A", "fl2_" + tok[4:], strings.Replace(tok, tok[4:5], "+", 1),
		TokenPrefix + strings.Repeat("=", 43), TokenPrefix + strings.Repeat("A", 42) + "B"} {
		if _, ok := ParseToken(bad); ok {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

// FuzzParseToken: ParseToken never panics, accepts only canonical
// tokens, and a token it accepts is one NewToken could have made.
func FuzzParseToken(f *testing.F) {
	f.Add(NewToken())
	f.Add("fl1_")
	f.Add("fl1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")
	f.Add("Bearer xyz")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := ParseToken(s)
		if !ok {
			if h != "" {
				t.Fatal("a hash for a refused token")
			}
			return
		}
		if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) || h != HashToken(s) || strings.ContainsAny(s[len(TokenPrefix):], "+/=\r\n") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// memStore is a Store in memory.
type memStore struct {
	mu     sync.Mutex
	cases  map[string]cases.Case // by reference
	emails map[string]string     // by case id
	links  map[string]Link
	sent   []cases.Message
	counts map[string]int
}

func newMemStore() *memStore {
	return &memStore{cases: map[string]cases.Case{}, emails: map[string]string{}, links: map[string]Link{}, counts: map[string]int{}}
}

func (m *memStore) FollowTarget(_ context.Context, ref string) (cases.Case, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cases[ref]
	if !ok {
		return c, "", cases.ErrNotFound
	}
	return c, m.emails[c.ID], nil
}

func (m *memStore) CreateFollowLink(_ context.Context, l Link, msg cases.Message, fn cases.Mutation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, old := range m.links {
		if old.CaseID == l.CaseID {
			delete(m.links, h)
		}
	}
	m.links[l.TokenHash] = l
	m.sent = append(m.sent, msg)
	return nil
}

func (m *memStore) FollowLink(_ context.Context, hash string, now time.Time) (Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[hash]
	if !ok || !now.Before(l.ExpiresAt) {
		return Link{}, ErrInvalidToken
	}
	return l, nil
}

func (m *memStore) CountFollowRequest(_ context.Context, bucket string, start time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := bucket + "|" + start.Format(time.RFC3339)
	m.counts[k]++
	return m.counts[k], nil
}

func TestRequest(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	st := newMemStore()
	st.cases["2026-000001"] = cases.Case{ID: "c1", Reference: "2026-000001", Language: "it"}
	st.emails["c1"] = "Lucia.Neri@example.org"
	st.cases["2026-000002"] = cases.Case{ID: "c2", Reference: "2026-000002", MergedInto: "c1"}
	st.emails["c2"] = "lucia.neri@example.org"
	st.cases["2026-000003"] = cases.Case{ID: "c3", Reference: "2026-000003"} // no address
	s := &Service{Store: st, BaseURL: "https://sportello.example.it/", Mailbox: "dati", PerAddress: 2, PerClient: 4,
		Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()

	for _, in := range [][3]string{{"2026-000001", "mario@example.org", "198.51.100.1"}, {"2026-000002", "lucia.neri@example.org", "198.51.100.2"},
		{"2026-000003", "x@example.org", "198.51.100.3"}, {"2099-000001", "y@example.org", "198.51.100.4"}, {"", "z@example.org", "198.51.100.5"}} {
		if err := s.Request(ctx, in[0], in[1], in[2]); err != nil {
			t.Fatalf("%v: %v", in, err)
		}
	}
	if len(st.sent) != 0 {
		t.Fatalf("sent %d links for non-matching requests", len(st.sent))
	}
	if err := s.Request(ctx, " 2026-000001 ", " LUCIA.neri@example.org", "198.51.100.6"); err != nil || len(st.sent) != 1 {
		t.Fatalf("matching request: %v, %d sent", err, len(st.sent))
	}
	m := st.sent[0]
	if m.Direction != cases.Outbound || m.Kind != LinkKind || m.ChannelKind != "email" || m.ChannelID != "dati" ||
		!strings.Contains(m.Body, "https://sportello.example.it/follow/fl1_") || !strings.Contains(m.Body, "2026-000001") {
		t.Fatalf("link message = %+v", m)
	}
	tok := m.Body[strings.Index(m.Body, "/follow/")+len("/follow/"):][:tokenLen]
	p, err := s.Authenticate(ctx, tok)
	if err != nil || !p.FollowsCase("c1") || p.Citizen() {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if l, err := s.Open(ctx, tok); err != nil || l.CaseID != "c1" || !l.ExpiresAt.Equal(now.Add(DefaultTTL)) {
		t.Fatalf("Open = %+v, %v", l, err)
	}
	for _, bad := range []string{"", "abc", NewToken(), adminLike} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v", bad, err)
		}
	}
	// The link expires.
	now = now.Add(DefaultTTL)
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("expired link: %v", err)
	}

	// Limits: per address (two per hour), counted whether or not the case
	// matches; then per client. (A new window: the clock moved on.)
	for range 2 {
		if err := s.Request(ctx, "2099-000001", "lucia.neri@example.org", "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Request(ctx, "2026-000001", "lucia.neri@example.org", "198.51.100.8"); !errors.Is(err, ErrRateLimited) || len(st.sent) != 1 {
		t.Fatalf("third request of the address: %v, %d sent", err, len(st.sent))
	}
	for i := range 4 {
		if err := s.Request(ctx, "2099-000001", "other@example.org"[i:], "198.51.100.9"); err != nil {
			t.Fatalf("request %d of the client: %v", i+1, err)
		}
	}
	if err := s.Request(ctx, "2026-000001", "new@example.org", "198.51.100.9"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("fifth request of the client: %v", err)
	}
	// The next hour counts afresh.
	now = now.Add(time.Hour)
	if err := s.Request(ctx, "2026-000001", "lucia.neri@example.org", "198.51.100.9"); err != nil || len(st.sent) != 2 {
		t.Fatalf("next hour: %v, %d sent", err, len(st.sent))
	}
	// Without a mailbox nothing is sent, and the answer is the same.
	s.Mailbox = ""
	if err := s.Request(ctx, "2026-000001", "lucia.neri@example.org", "198.51.100.10"); err != nil || len(st.sent) != 2 {
		t.Fatalf("no mailbox: %v, %d sent", err, len(st.sent))
	}
}

// adminLike is a token of another kind: the chain must pass it on.
const adminLike = "static-admin-token-0123456789"

func TestLinkTextLanguages(t *testing.T) {
	exp := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	it := LinkText(cases.Case{Reference: "2026-000001"}, "https://x", "fl1_T", exp)
	en := LinkText(cases.Case{Reference: "2026-000001", Language: "en"}, "https://x", "fl1_T", exp)
	if !strings.Contains(it, "https://x/follow/fl1_T\n") || !strings.Contains(it, "29/11/2026 10:00") {
		t.Errorf("Italian text: %s", it)
	}
	if !strings.Contains(en, "https://x/follow/fl1_T?lang=en") || !strings.Contains(en, "29 November 2026, 10:00") {
		t.Errorf("English text: %s", en)
	}
}
