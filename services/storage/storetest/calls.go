package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/calls"
	"github.com/sportello/sportello/services/storage"
)

var callTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"CallCreateOnce", testCallCreateOnce},
	{"CallUpdateAndList", testCallUpdateAndList},
	{"BlockedNumbers", testBlockedNumbers},
	{"CTIReplays", testCTIReplays},
}

func newCall(ext string, at time.Time) calls.Call {
	return calls.Call{ID: uuid.Must(uuid.NewV7()).String(), ChannelID: "centralino", ExternalID: ext, Direction: "inbound",
		From: "+390612345678", To: "+39064673", Queue: "statistica", IVRChoice: "1", Department: "statistics",
		State: calls.StateRinging, StartedAt: at}
}

func testCallCreateOnce(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	// Concurrent newCalls of one PBX call (two replicas, a retry) store one row.
	var wg sync.WaitGroup
	var created atomic.Int32
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, fresh, err := db.CreateCall(ctx, newCall("pbx-1", t0))
			if err != nil {
				t.Error(err)
				return
			}
			if fresh {
				created.Add(1)
			}
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d creations, want 1", created.Load())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("callers got different calls: %v", ids)
		}
	}
	got, err := db.FindCall(ctx, "centralino", "pbx-1")
	if err != nil || got.ID != ids[0] || got.From != "+390612345678" || got.State != calls.StateRinging || !got.StartedAt.Equal(t0) {
		t.Fatalf("FindCall: %+v %v", got, err)
	}
	// The same PBX id on another channel is another call.
	other := newCall("pbx-1", t0)
	other.ChannelID = "sede-2"
	if _, fresh, err := db.CreateCall(ctx, other); err != nil || !fresh {
		t.Fatalf("other channel: fresh=%v %v", fresh, err)
	}
	if _, err := db.FindCall(ctx, "centralino", "nope"); !errors.Is(err, calls.ErrNotFound) {
		t.Fatalf("FindCall of a missing call: %v", err)
	}
	if _, err := db.GetCall(ctx, uuid.NewString()); !errors.Is(err, calls.ErrNotFound) {
		t.Fatalf("GetCall of a missing call: %v", err)
	}
}

func testCallUpdateAndList(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, newCase("statistics", "caller@example.it"))
	c0, err := db.GetCase(ctx, out[0].CaseID)
	if err != nil {
		t.Fatal(err)
	}
	contact := c0.ContactID
	var ids []string
	for i := range 3 {
		c := newCall(fmt.Sprintf("pbx-%d", i), t0.Add(time.Duration(i)*time.Minute))
		c.ContactID = contact
		stored, _, err := db.CreateCall(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, stored.ID)
	}
	answered := t0.Add(30 * time.Second)
	c, err := db.UpdateCall(ctx, ids[0], func(c *calls.Call) (bool, error) {
		c.State, c.Operator, c.AnsweredAt = calls.StateAnswered, "op-stat-1", answered
		c.ID, c.ExternalID = "tampered", "tampered" // ignored: the store keeps the identity
		return true, nil
	})
	if err != nil || c.State != calls.StateAnswered || c.Operator != "op-stat-1" || !c.AnsweredAt.Equal(answered) || c.ID != ids[0] {
		t.Fatalf("UpdateCall: %+v %v", c, err)
	}
	// No change, no write; an error rolls back.
	if _, err := db.UpdateCall(ctx, ids[0], func(c *calls.Call) (bool, error) { c.Operator = "x"; return false, nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := db.UpdateCall(ctx, ids[0], func(c *calls.Call) (bool, error) { c.Operator = "y"; return true, boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateCall error: %v", err)
	}
	got, _ := db.GetCall(ctx, ids[0])
	if got.Operator != "op-stat-1" || got.ExternalID != "pbx-0" {
		t.Fatalf("after no-op and failed updates: %+v", got)
	}
	ended := t0.Add(5 * time.Minute)
	if _, err := db.UpdateCall(ctx, ids[0], func(c *calls.Call) (bool, error) {
		c.State, c.Cause, c.Duration, c.EndedAt, c.Recording, c.Notes = calls.StateEnded, "normalClearing", 271, ended, "https://pbx/r.wav", "note"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateCall(ctx, uuid.NewString(), func(*calls.Call) (bool, error) { return true, nil }); !errors.Is(err, calls.ErrNotFound) {
		t.Fatalf("UpdateCall of a missing call: %v", err)
	}
	list, err := db.ListCalls(ctx, contact, 10)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListCalls: %d %v", len(list), err)
	}
	if list[0].ID != ids[2] || list[2].ID != ids[0] {
		t.Fatalf("ListCalls not newest first: %s %s %s", list[0].ExternalID, list[1].ExternalID, list[2].ExternalID)
	}
	e := list[2]
	if e.State != calls.StateEnded || e.Duration != 271 || !e.EndedAt.Equal(ended) || e.Recording != "https://pbx/r.wav" || e.Notes != "note" || e.ContactID != contact {
		t.Fatalf("ended call read back as %+v", e)
	}
	if l, _ := db.ListCalls(ctx, contact, 2); len(l) != 2 {
		t.Fatalf("limit: %d", len(l))
	}
	if l, _ := db.ListCalls(ctx, uuid.NewString(), 10); len(l) != 0 {
		t.Fatalf("another contact's calls: %d", len(l))
	}
}

func testBlockedNumbers(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	if b, err := db.IsBlocked(ctx, "+39061111111"); err != nil || b {
		t.Fatalf("IsBlocked before: %v %v", b, err)
	}
	got, err := db.BlockNumber(ctx, calls.Blocked{Number: "+39061111111", Reason: "molestie", CreatedBy: "admin", CreatedAt: t0})
	if err != nil || got.Reason != "molestie" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("BlockNumber: %+v %v", got, err)
	}
	got, err = db.BlockNumber(ctx, calls.Blocked{Number: "+39061111111", Reason: "spam", CreatedBy: "admin2", CreatedAt: t0.Add(time.Hour)})
	if err != nil || got.Reason != "spam" || got.CreatedBy != "admin" {
		t.Fatalf("BlockNumber again: %+v %v", got, err)
	}
	if _, err := db.BlockNumber(ctx, calls.Blocked{Number: "+39062222222", Reason: "", CreatedBy: "admin", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if b, err := db.IsBlocked(ctx, "+39061111111"); err != nil || !b {
		t.Fatalf("IsBlocked: %v %v", b, err)
	}
	list, err := db.ListBlocked(ctx)
	if err != nil || len(list) != 2 || list[0].Number != "+39061111111" {
		t.Fatalf("ListBlocked: %+v %v", list, err)
	}
	if err := db.UnblockNumber(ctx, "+39061111111"); err != nil {
		t.Fatal(err)
	}
	if err := db.UnblockNumber(ctx, "+39061111111"); !errors.Is(err, calls.ErrNotFound) {
		t.Fatalf("second unblock: %v", err)
	}
	if b, _ := db.IsBlocked(ctx, "+39061111111"); b {
		t.Fatal("still blocked")
	}
}

func testCTIReplays(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	c := &clock{t: t0}
	// Two replicas share the memory of accepted signatures.
	r1, r2 := db.Replays(c.Now), db.Replays(c.Now)
	if ok, err := r1.Claim(ctx, "centralino:aa", t0.Add(5*time.Minute)); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := r2.Claim(ctx, "centralino:aa", t0.Add(5*time.Minute)); err != nil || ok {
		t.Fatalf("replay on the other replica: %v %v", ok, err)
	}
	if ok, _ := r2.Claim(ctx, "sede-2:aa", t0.Add(5*time.Minute)); !ok {
		t.Fatal("same signature on another channel refused")
	}
	// Released after a failure: the same request may come again.
	if err := r1.Release(ctx, "centralino:aa"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r2.Claim(ctx, "centralino:aa", t0.Add(5*time.Minute)); !ok {
		t.Fatal("released key refused")
	}
	// Concurrent claims of one key: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := r1.Claim(ctx, "centralino:bb", t0.Add(5*time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent claims won", wins.Load())
	}
	// Past its expiry a key is swept (its timestamp is stale by then anyway).
	c.Add(6 * time.Minute)
	if ok, err := r1.Claim(ctx, "centralino:aa", c.Now().Add(5*time.Minute)); err != nil || !ok {
		t.Fatalf("claim after expiry: %v %v", ok, err)
	}
}
