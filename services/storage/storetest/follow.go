package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/follow"
	"github.com/sportello/sportello/services/storage"
)

var followTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"FollowLinks", testFollowLinks},
	{"FollowRequestCounts", testFollowRequestCounts},
}

// followLink stores a link for case id valid from created for ttl and
// returns its token and message.
func followLink(t *testing.T, db *storage.DB, id string, created time.Time, ttl time.Duration) (string, cases.Message) {
	t.Helper()
	token := follow.NewToken()
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, AuthorName: "Sportello",
		Body: "/follow/" + token, Kind: follow.LinkKind, ChannelKind: "email", ChannelID: "dati"}
	l := follow.Link{TokenHash: follow.HashToken(token), CaseID: id, CreatedAt: created, ExpiresAt: created.Add(ttl)}
	if err := db.CreateFollowLink(context.Background(), l, m, func(*cases.Case) ([]cases.Event, error) {
		return []cases.Event{{Type: cases.EventMessageAdded, Actor: cases.SystemActor}}, nil
	}); err != nil {
		t.Fatalf("CreateFollowLink: %v", err)
	}
	return token, m
}

func testFollowLinks(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	id := create(t, db, 2026, newCase("it", "Follow.Me@example.org"))[0].CaseID
	other := create(t, db, 2026, newCase("it", "someone@example.org"))[0].CaseID
	c, err := db.GetCase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, addr, err := db.FollowTarget(ctx, c.Reference)
	if err != nil || got.ID != id || follow.NormalizeEmail(addr) != "follow.me@example.org" {
		t.Fatalf("FollowTarget = %s, %q, %v", got.ID, addr, err)
	}
	if _, _, err := db.FollowTarget(ctx, "1999-000001"); !errors.Is(err, cases.ErrNotFound) {
		t.Fatalf("FollowTarget of an unknown reference: %v", err)
	}

	now := time.Now().UTC()
	first, m := followLink(t, db, id, now, time.Hour)
	l, err := db.FollowLink(ctx, follow.HashToken(first), now)
	if err != nil || l.CaseID != id || l.MessageID != m.ID || l.ContactName != "Maria Rossi" || l.ExpiresAt.Sub(now.Add(time.Hour)).Abs() > time.Millisecond {
		t.Fatalf("FollowLink = %+v, %v", l, err)
	}
	// The link's message is an outbound message queued for the e-mail
	// channel, not a search term.
	stored, err := db.GetMessage(ctx, m.ID)
	if err != nil || stored.Direction != cases.Outbound || stored.Kind != follow.LinkKind || stored.ChannelKind != "email" || stored.DeliveryStatus != "queued" {
		t.Fatalf("link message = %+v, %v", stored, err)
	}
	if _, err := db.FollowLink(ctx, follow.HashToken(first), now.Add(time.Hour+time.Second)); !errors.Is(err, follow.ErrInvalidToken) {
		t.Fatalf("expired link: %v", err)
	}
	if _, err := db.FollowLink(ctx, follow.HashToken(follow.NewToken()), now); !errors.Is(err, follow.ErrInvalidToken) {
		t.Fatalf("unknown link: %v", err)
	}
	// Another case's link does not revoke this one; a new link for the
	// same case does.
	theirs, _ := followLink(t, db, other, now, time.Hour)
	if _, err := db.FollowLink(ctx, follow.HashToken(first), now); err != nil {
		t.Fatalf("link after another case's: %v", err)
	}
	second, _ := followLink(t, db, id, now.Add(time.Minute), time.Hour)
	if _, err := db.FollowLink(ctx, follow.HashToken(first), now.Add(2*time.Minute)); !errors.Is(err, follow.ErrInvalidToken) {
		t.Fatalf("revoked link: %v", err)
	}
	for _, tok := range []string{second, theirs} {
		if _, err := db.FollowLink(ctx, follow.HashToken(tok), now.Add(2*time.Minute)); err != nil {
			t.Fatalf("current link: %v", err)
		}
	}
	// A link for a case that does not exist stores nothing.
	if _, _, err := db.FollowTarget(ctx, ""); !errors.Is(err, cases.ErrNotFound) {
		t.Fatalf("empty reference: %v", err)
	}
	bad := follow.Link{TokenHash: follow.HashToken(follow.NewToken()), CaseID: uuid.NewString(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateFollowLink(ctx, bad, cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, Body: "x"},
		func(*cases.Case) ([]cases.Event, error) { return nil, nil }); !errors.Is(err, cases.ErrNotFound) {
		t.Fatalf("link for an unknown case: %v", err)
	}
	if _, err := db.FollowLink(ctx, bad.TokenHash, now); !errors.Is(err, follow.ErrInvalidToken) {
		t.Fatalf("link of an unknown case was stored: %v", err)
	}
}

func testFollowRequestCounts(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	window := time.Now().UTC().Truncate(time.Hour)
	// Concurrent requests (as from several replicas) are all counted.
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.CountFollowRequest(ctx, "ip:192.0.2.1", window); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CountFollowRequest: %v", err)
	}
	if got, err := db.CountFollowRequest(ctx, "ip:192.0.2.1", window); err != nil || got != n+1 {
		t.Fatalf("count = %d, %v; want %d", got, err, n+1)
	}
	// Other buckets and windows count apart.
	if got, err := db.CountFollowRequest(ctx, "ip:192.0.2.2", window); err != nil || got != 1 {
		t.Fatalf("other bucket = %d, %v", got, err)
	}
	if got, err := db.CountFollowRequest(ctx, "ip:192.0.2.1", window.Add(time.Hour)); err != nil || got != 1 {
		t.Fatalf("next window = %d, %v", got, err)
	}
	// Old windows are removed as new ones are counted.
	if _, err := db.CountFollowRequest(ctx, "ip:192.0.2.1", window.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.CountFollowRequest(ctx, "ip:192.0.2.1", window); err != nil || got != 1 {
		t.Fatalf("count of a removed window = %d, %v; want it counted afresh", got, err)
	}
}
