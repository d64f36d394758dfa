package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage"
)

var slaTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"SLAFields", testSLAFields},
	{"SLAOrderAndClaim", testSLAOrderAndClaim},
	{"CasesDueForSLA", testCasesDueForSLA},
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func withDue(nc intake.NewCase, due time.Duration) intake.NewCase {
	nc.SLADueAt, nc.SLAWarnAt = t0.Add(due), t0.Add(due*8/10)
	return nc
}

func testSLAFields(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, withDue(newCase("it", ""), 10*time.Hour), newCase("it", ""))
	c, _ := db.GetCase(ctx, out[0].CaseID)
	if !c.SLADueAt.Equal(t0.Add(10*time.Hour)) || !c.SLAWarnAt.Equal(t0.Add(8*time.Hour)) || !c.SLAPausedAt.IsZero() || c.SLAWarned {
		t.Fatalf("stored SLA = due %v warn %v paused %v", c.SLADueAt, c.SLAWarnAt, c.SLAPausedAt)
	}
	if none, _ := db.GetCase(ctx, out[1].CaseID); !none.SLADueAt.Equal(cases.NoDeadline) {
		t.Fatalf("case without policy: due %v", none.SLADueAt)
	}
	// A pause and the announcement flags survive a round trip.
	_, err := db.UpdateCase(ctx, c.ID, 0, func(c *cases.Case) ([]cases.Event, error) {
		c.SLAPausedAt, c.SLAWarned = t0.Add(time.Hour), true
		return []cases.Event{{Type: "test"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ = db.GetCase(ctx, c.ID)
	if !c.SLAPausedAt.Equal(t0.Add(time.Hour)) || !c.SLAWarned || c.SLABreached {
		t.Fatalf("after update: paused %v warned %v", c.SLAPausedAt, c.SLAWarned)
	}
}

func testSLAOrderAndClaim(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, withDue(newCase("it", ""), 30*time.Hour), newCase("it", ""),
		withDue(newCase("it", ""), 10*time.Hour), withDue(newCase("it", ""), 20*time.Hour))
	want := []string{out[2].CaseID, out[3].CaseID, out[0].CaseID, out[1].CaseID}
	var got []string
	q := cases.Query{Order: cases.OrderSLADue, Limit: 1}
	for {
		page, err := db.ListCases(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page[0].ID)
		q.After = &cases.Cursor{ID: page[0].ID, SLADueAt: page[0].SLADueAt}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sla_due order, a page at a time = %v, want %v", got, want)
	}
	c, err := db.ClaimNextCase(ctx, "op-it", []string{"it"}, "op-it")
	if err != nil || c.ID != out[2].CaseID {
		t.Fatalf("claim took %s (%v), want the nearest deadline %s", c.ID, err, out[2].CaseID)
	}
}

func testCasesDueForSLA(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, withDue(newCase("it", ""), 10*time.Hour), withDue(newCase("it", ""), 10*time.Hour),
		withDue(newCase("it", ""), 10*time.Hour), withDue(newCase("it", ""), 100*time.Hour), newCase("it", ""))
	// out[1] paused, out[2] resolved: not the timer's business.
	if _, err := db.UpdateCase(ctx, out[1].CaseID, 0, func(c *cases.Case) ([]cases.Event, error) {
		c.Status, c.SLAPausedAt = cases.StatusOnHold, t0
		return []cases.Event{{Type: "test"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateCase(ctx, out[2].CaseID, 0, cases.ChangeStatus("op", cases.StatusResolved, "")); err != nil {
		t.Fatal(err)
	}
	due := func(at time.Duration) string {
		ids, err := db.CasesDueForSLA(ctx, t0.Add(at), 100)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(ids)
	}
	if got := due(5 * time.Hour); got != "[]" {
		t.Fatalf("before any warning: %s", got)
	}
	if got, want := due(9*time.Hour), fmt.Sprint([]string{out[0].CaseID}); got != want {
		t.Fatalf("at the warning: %s, want %s", got, want)
	}
	// Once warned, only the breach brings it back.
	if _, err := db.UpdateCase(ctx, out[0].CaseID, 0, cases.SLATick(t0.Add(9*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if got := due(9 * time.Hour); got != "[]" {
		t.Fatalf("after the warning: %s", got)
	}
	if got, want := due(11*time.Hour), fmt.Sprint([]string{out[0].CaseID}); got != want {
		t.Fatalf("at the breach: %s, want %s", got, want)
	}
}
