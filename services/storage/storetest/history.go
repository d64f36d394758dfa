package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/storage"
)

var historyTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"CreatedEvent", testCreatedEvent},
	{"UpdateCase", testUpdateCase},
	{"UpdateCaseConcurrent", testUpdateCaseConcurrent},
	{"CaseEventsPaging", testCaseEventsPaging},
	{"RelayEvents", testRelayEvents},
	{"RequeueEvents", testRequeueEvents},
}

func testCreatedEvent(t *testing.T, db *storage.DB) {
	nc := newCase("statistics", "")
	nc.RoutingNote = `routed to statistics by category "microdata"`
	out := create(t, db, 2026, nc)
	evs, err := db.ListCaseEvents(context.Background(), out[0].CaseID, "", 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events = %v, %v", evs, err)
	}
	e := evs[0]
	if e.Type != cases.EventCreated || e.Actor != cases.SystemActor || e.Reason != nc.RoutingNote || e.CaseVersion != 1 ||
		e.Department != "statistics" || e.Changes["department"].After != "statistics" {
		t.Fatalf("created event = %+v", e)
	}
}

func testUpdateCase(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	id := create(t, db, 2026, newCase("it", ""))[0].CaseID
	c, err := db.UpdateCase(ctx, id, 1, cases.ChangeStatus("op-1", cases.StatusOpen, "taken"))
	if err != nil || c.Status != cases.StatusOpen || c.Version != 2 {
		t.Fatalf("UpdateCase = %+v, %v", c, err)
	}
	if got, _ := db.GetCase(ctx, id); got.Status != cases.StatusOpen || got.Version != 2 {
		t.Fatalf("stored case = %+v", got)
	}
	// A stale version is refused before the mutation runs.
	ran := false
	_, err = db.UpdateCase(ctx, id, 1, func(*cases.Case) ([]cases.Event, error) { ran = true; return nil, nil })
	if !errors.Is(err, cases.ErrConflict) || ran {
		t.Fatalf("stale version: %v (mutation ran: %v)", err, ran)
	}
	// A failing mutation writes nothing.
	_, err = db.UpdateCase(ctx, id, 0, cases.ChangeStatus("op-1", cases.StatusClosed, ""))
	if !errors.Is(err, cases.ErrFailedPrecondition) {
		t.Fatalf("open→closed = %v", err)
	}
	// A mutation without events is a no-op: no new version.
	if c, err := db.UpdateCase(ctx, id, 0, cases.ChangeStatus("op-1", cases.StatusOpen, "")); err != nil || c.Version != 2 {
		t.Fatalf("no-op = %+v, %v", c, err)
	}
	if _, err := db.UpdateCase(ctx, "01900000-0000-7000-8000-000000000000", 0, cases.ChangeStatus("x", cases.StatusOpen, "")); !errors.Is(err, cases.ErrNotFound) {
		t.Fatalf("unknown case = %v", err)
	}
	evs, _ := db.ListCaseEvents(ctx, id, "", 10)
	if len(evs) != 2 || evs[1].Type != cases.EventStatusChanged || evs[1].Actor != "op-1" || evs[1].Reason != "taken" || evs[1].CaseVersion != 2 {
		t.Fatalf("history = %+v", evs)
	}
}

// testUpdateCaseConcurrent: writers racing on the same version; exactly
// one wins each version, the history has no gaps or doubles.
func testUpdateCaseConcurrent(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	id := create(t, db, 2026, newCase("it", ""))[0].CaseID
	const writers = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.UpdateCase(ctx, id, 1, cases.ChangeStatus("op", cases.StatusOpen, ""))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, cases.ErrConflict):
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d writers won version 1, want 1", wins.Load())
	}
	evs, _ := db.ListCaseEvents(ctx, id, "", 100)
	if len(evs) != 2 {
		t.Fatalf("%d events, want created + one status change", len(evs))
	}
}

func testCaseEventsPaging(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	id := create(t, db, 2026, newCase("it", ""))[0].CaseID
	for _, s := range []cases.Status{cases.StatusOpen, cases.StatusPendingCitizen, cases.StatusOpen, cases.StatusResolved} {
		if _, err := db.UpdateCase(ctx, id, 0, cases.ChangeStatus("op", s, "")); err != nil {
			t.Fatal(err)
		}
	}
	var all []cases.Event
	after := ""
	for {
		page, err := db.ListCaseEvents(ctx, id, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(all) != 5 {
		t.Fatalf("%d events, want 5", len(all))
	}
	for i, e := range all {
		if e.CaseVersion != int64(i+1) {
			t.Fatalf("event %d at version %d", i, e.CaseVersion)
		}
	}
}

func testRelayEvents(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	create(t, db, 2026, newCase("it", ""), newCase("it", ""), newCase("it", ""))
	// A failed publish marks nothing.
	if _, err := db.RelayEvents(ctx, 10, func([]cases.Event) error { return errors.New("nats down") }); err == nil {
		t.Fatal("publish error swallowed")
	}
	var got []cases.Event
	relay := func(limit int) int {
		n, err := db.RelayEvents(ctx, limit, func(evs []cases.Event) error { got = append(got, evs...); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := relay(2); n != 2 {
		t.Fatalf("first relay = %d", n)
	}
	if n := relay(10); n != 1 {
		t.Fatalf("second relay = %d", n)
	}
	if n := relay(10); n != 0 {
		t.Fatalf("third relay = %d, want nothing left", n)
	}
	if len(got) != 3 || got[0].ID >= got[1].ID || got[1].ID >= got[2].ID {
		t.Fatalf("relayed %d events, out of order or repeated", len(got))
	}
}

func testRequeueEvents(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, newCase("it", ""), newCase("it", ""))
	if _, err := db.RelayEvents(ctx, 10, func([]cases.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	evs, _ := db.ListCaseEvents(ctx, out[0].CaseID, "", 10)
	first := evs[0].ID
	if n, err := db.RequeueEvents(ctx, first); err != nil || n != 2 {
		t.Fatalf("RequeueEvents(first) = %d, %v; want 2", n, err)
	}
	if n, err := db.RequeueEvents(ctx, first); err != nil || n != 0 {
		t.Fatalf("RequeueEvents twice = %d, %v; want 0 (already waiting)", n, err)
	}
	var again int
	if _, err := db.RelayEvents(ctx, 10, func(evs []cases.Event) error { again = len(evs); return nil }); err != nil || again != 2 {
		t.Fatalf("relayed %d again, %v", again, err)
	}
	if n, err := db.RequeueEvents(ctx, "ffffffff-ffff-7fff-bfff-ffffffffffff"); err != nil || n != 0 {
		t.Fatalf("RequeueEvents(after all) = %d, %v; want 0", n, err)
	}
	if _, err := db.RequeueEvents(ctx, "not-an-id"); err == nil {
		t.Fatal("a malformed bound was accepted")
	}
}
