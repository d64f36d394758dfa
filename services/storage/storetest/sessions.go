package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/session"
	"github.com/sportello/sportello/services/storage"
)

var sessionTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"SessionLifecycle", testSessionLifecycle},
	{"SessionExpiry", testSessionExpiry},
	{"SessionRevokeSubject", testSessionRevokeSubject},
	{"SessionDeleteExpired", testSessionDeleteExpired},
}

func sessionID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newSessionRecord(subject string, created time.Time) session.Record {
	return session.Record{IDHash: sessionID(), Subject: subject, Role: auth.RoleCitizen, Provider: "spid:test",
		CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(12 * time.Hour)}
}

func createSession(t *testing.T, db *storage.DB, rec session.Record) {
	t.Helper()
	if err := db.CreateSession(context.Background(), rec); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
}

func testSessionLifecycle(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	staff := session.Record{IDHash: sessionID(), Subject: "staff:anna", Role: auth.RoleSupervisor,
		Departments: []string{"statistics", "it"}, OperatorID: "op-anna", DisplayName: "Anna Bianchi",
		Provider: "staff-sso", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour),
		Data: []byte{1, 2, 3, 0, 255}}
	citizen := session.Record{IDHash: sessionID(), Subject: "RSSMRA80A01H501U", Role: auth.RoleCitizen,
		ContactID: "0190f0b6-0000-7000-8000-000000000001", DisplayName: "Maria Rossi", FiscalNumber: "RSSMRA80A01H501U",
		Provider: "spid:poste", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
	createSession(t, db, staff)
	createSession(t, db, citizen)
	if err := db.CreateSession(ctx, staff); err == nil {
		t.Error("a second session with the same id hash was accepted")
	}

	for _, want := range []session.Record{staff, citizen} {
		got, err := db.GetSession(ctx, want.IDHash, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		if want.Departments == nil {
			want.Departments = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GetSession =\n%+v\nwant\n%+v", got, want)
		}
	}
	if _, err := db.GetSession(ctx, sessionID(), t0); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}

	// Touch moves last_seen_at forward only.
	if err := db.TouchSession(ctx, staff.IDHash, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchSession(ctx, staff.IDHash, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetSession(ctx, staff.IDHash, t0.Add(6*time.Minute)); !got.LastSeenAt.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("last seen = %v, want %v", got.LastSeenAt, t0.Add(5*time.Minute))
	}
	if err := db.TouchSession(ctx, sessionID(), t0); err != nil {
		t.Errorf("touch of an unknown session: %v", err)
	}

	// Revoke one: gone for Get, and a second revoke says so.
	if err := db.RevokeSession(ctx, staff.IDHash, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetSession(ctx, staff.IDHash, t0.Add(11*time.Minute)); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("revoked session: %v, want ErrNotFound", err)
	}
	if err := db.RevokeSession(ctx, staff.IDHash, t0.Add(12*time.Minute)); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("second revoke: %v, want ErrNotFound", err)
	}
	if err := db.TouchSession(ctx, staff.IDHash, t0.Add(13*time.Minute)); err != nil {
		t.Errorf("touch of a revoked session: %v", err)
	}
	if _, err := db.GetSession(ctx, citizen.IDHash, t0.Add(11*time.Minute)); err != nil {
		t.Errorf("the other session after a revoke: %v", err)
	}
}

// testSessionExpiry: the absolute expiry is the store's to enforce; the
// idle one is computed from LastSeenAt by the manager.
func testSessionExpiry(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	rec := newSessionRecord("RSSMRA80A01H501U", t0)
	createSession(t, db, rec)
	if _, err := db.GetSession(ctx, rec.IDHash, rec.ExpiresAt.Add(-time.Microsecond)); err != nil {
		t.Errorf("a microsecond before expiry: %v", err)
	}
	if _, err := db.GetSession(ctx, rec.IDHash, rec.ExpiresAt); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("at expiry: %v, want ErrNotFound", err)
	}
	if _, err := db.GetSession(ctx, rec.IDHash, rec.ExpiresAt.Add(time.Hour)); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("after expiry: %v, want ErrNotFound", err)
	}
	// Times in another zone are the same instants.
	rome := time.FixedZone("CET", 3600)
	if _, err := db.GetSession(ctx, rec.IDHash, rec.ExpiresAt.Add(-time.Second).In(rome)); err != nil {
		t.Errorf("a second before expiry, in CET: %v", err)
	}
	if _, err := db.GetSession(ctx, rec.IDHash, rec.ExpiresAt.In(rome)); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("at expiry, in CET: %v, want ErrNotFound", err)
	}
}

func testSessionRevokeSubject(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	var mine []session.Record
	for i := range 3 {
		rec := newSessionRecord("staff:marco", t0.Add(time.Duration(i)*time.Minute))
		createSession(t, db, rec)
		mine = append(mine, rec)
	}
	other := newSessionRecord("staff:lucia", t0)
	createSession(t, db, other)
	// One already revoked and one past its expiry are not counted again.
	if err := db.RevokeSession(ctx, mine[0].IDHash, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	old := newSessionRecord("staff:marco", t0.Add(-13*time.Hour))
	createSession(t, db, old)

	n, err := db.RevokeSubjectSessions(ctx, "staff:marco", t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("RevokeSubjectSessions = %d, %v; want 2", n, err)
	}
	for _, rec := range mine {
		if _, err := db.GetSession(ctx, rec.IDHash, t0.Add(3*time.Hour)); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("session of a revoked subject: %v", err)
		}
	}
	if _, err := db.GetSession(ctx, other.IDHash, t0.Add(3*time.Hour)); err != nil {
		t.Errorf("another subject's session: %v", err)
	}
	if n, err := db.RevokeSubjectSessions(ctx, "staff:marco", t0.Add(3*time.Hour)); err != nil || n != 0 {
		t.Errorf("second RevokeSubjectSessions = %d, %v; want 0", n, err)
	}
}

func testSessionDeleteExpired(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	// More than one batch of expired sessions (revoked or not), and some
	// that must stay.
	const expired = 300 // > storage.deleteBatch
	var wg sync.WaitGroup
	errs := make(chan error, expired)
	sem := make(chan struct{}, 8)
	for i := range expired {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rec := newSessionRecord("RSSMRA80A01H501U", t0.Add(-13*time.Hour))
			if i%2 == 0 {
				rec.RevokedAt = t0.Add(-12*time.Hour - time.Minute)
			}
			errs <- db.CreateSession(ctx, rec)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	live := newSessionRecord("RSSMRA80A01H501U", t0)
	createSession(t, db, live)
	revokedLive := newSessionRecord("RSSMRA80A01H501U", t0)
	createSession(t, db, revokedLive)
	if err := db.RevokeSession(ctx, revokedLive.IDHash, t0); err != nil {
		t.Fatal(err)
	}

	n, err := db.DeleteExpiredSessions(ctx, t0.Add(time.Minute))
	if err != nil || n != expired {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want %d", n, err, expired)
	}
	if _, err := db.GetSession(ctx, live.IDHash, t0.Add(time.Minute)); err != nil {
		t.Errorf("live session after cleanup: %v", err)
	}
	// The revoked one stays until its expiry, then goes too.
	if n, err := db.DeleteExpiredSessions(ctx, t0.Add(12*time.Hour)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredSessions at the others' expiry = %d, %v; want 2", n, err)
	}
	if n, err := db.DeleteExpiredSessions(ctx, t0.Add(13*time.Hour)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredSessions of an empty table = %d, %v", n, err)
	}
}
