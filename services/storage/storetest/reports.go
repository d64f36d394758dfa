package storetest

import (
	"context"
	"database/sql"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/reports"
	"github.com/sportello/sportello/services/storage"
)

func init() {
	rawTests = append(rawTests, []struct {
		name string
		run  func(t *testing.T, db *storage.DB, raw *sql.DB)
	}{
		{"ReportSummaries", testReportSummaries},
		{"ReportBucketsBacklogOperatorsLive", testReportBucketsBacklogOperatorsLive},
	}...)
	reportFactTests = append(reportFactTests, struct {
		name string
		run  func(t *testing.T, db *storage.DB)
	}{"ReportFacts", testReportFacts})
}

// reportFactTests run with the seeded directory.
var reportFactTests []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}

// D is the Monday of the report fixtures.
var reportDay = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// fact is a case of the report fixture, written with raw SQL so every fact
// is exactly what the expectations were computed from by hand.
type fact struct {
	dept, channel, status, assignee string
	created                         time.Time
	frDue, responded                time.Duration // after created; 0: NULL
	frSeconds                       int64         // -1: NULL
	slaDue                          time.Duration // after created; 0: no deadline
	resolvedAfter                   time.Duration // 0: not resolved
	resSeconds                      int64         // -1: NULL
	reopened                        int
}

// reportFixture: six statistics cases and three IT cases opened on the
// Monday, and one statistics case of the day before.
func reportFixture() []fact {
	h := func(hh, mm int) time.Time {
		return reportDay.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	return []fact{
		// statistics: first replies 600, 1200, 1800, 3600, 7200 s against a 1 h target;
		// resolutions 3600, 7200, 36000 s against 8 h.
		{"statistics", "webform", "resolved", "op-statistics", h(9, 10), time.Hour, 10 * time.Minute, 600, 8 * time.Hour, time.Hour, 3600, 0},
		{"statistics", "webform", "closed", "op-statistics", h(9, 40), time.Hour, 20 * time.Minute, 1200, 8 * time.Hour, 2 * time.Hour, 7200, 0},
		{"statistics", "email", "open", "op-statistics", h(10, 5), time.Hour, 30 * time.Minute, 1800, 8 * time.Hour, 0, -1, 0},
		{"statistics", "email", "resolved", "", h(10, 15), time.Hour, time.Hour, 3600, 8 * time.Hour, 10 * time.Hour, 36000, 0},
		{"statistics", "email", "open", "", h(14, 0), time.Hour, 2 * time.Hour, 7200, 8 * time.Hour, 0, -1, 1},
		{"statistics", "webform", "new", "", h(16, 30), 0, 0, -1, 0, 0, -1, 0},
		// it: first replies 300, 900 s and one never sent; one resolution of 10000 s.
		{"it", "email", "resolved", "op-it", h(11, 0), time.Hour, 5 * time.Minute, 300, 8 * time.Hour, 10000 * time.Second, 10000, 0},
		{"it", "email", "open", "op-it", h(11, 30), time.Hour, 15 * time.Minute, 900, 30 * 24 * time.Hour, 0, -1, 0},
		{"it", "webform", "new", "", h(15, 0), time.Hour, 0, -1, 8 * time.Hour, 0, -1, 0},
		// The day before: outside the range.
		{"statistics", "webform", "open", "", h(9, 0).Add(-24 * time.Hour), time.Hour, 0, -1, 8 * time.Hour, 0, -1, 0},
	}
}

func loadFixture(t *testing.T, db *storage.DB, raw *sql.DB, facts []fact) []string {
	t.Helper()
	seed(t, db)
	ncs := make([]intake.NewCase, len(facts))
	for i, f := range facts {
		ncs[i] = newCase(f.dept, "")
	}
	out := create(t, db, 2026, ncs...)
	ph := func(n int) string { // $n on PostgreSQL, ? on SQLite
		if db.Dialect() == storage.Postgres {
			return "$" + strconv.Itoa(n)
		}
		return "?"
	}
	q := "UPDATE cases SET channel_kind = " + ph(1) + ", status = " + ph(2) + ", assignee_id = " + ph(3) + ", created_at = " + ph(4) +
		", first_response_due_at = " + ph(5) + ", first_responded_at = " + ph(6) + ", first_response_seconds = " + ph(7) +
		", sla_due_at = " + ph(8) + ", resolved_at = " + ph(9) + ", resolution_seconds = " + ph(10) + ", reopen_count = " + ph(11) +
		" WHERE id = " + ph(12)
	ids := make([]string, len(facts))
	for i, f := range facts {
		at := func(d time.Duration) any {
			if d == 0 {
				return nil
			}
			return f.created.Add(d)
		}
		secs := func(s int64) any {
			if s < 0 {
				return nil
			}
			return s
		}
		due := cases.NoDeadline
		if f.slaDue != 0 {
			due = f.created.Add(f.slaDue)
		}
		ids[i] = out[i].CaseID
		if _, err := raw.Exec(q, f.channel, f.status, f.assignee, f.created, at(f.frDue), at(f.responded), secs(f.frSeconds),
			due, at(f.resolvedAfter), secs(f.resSeconds), f.reopened, out[i].CaseID); err != nil {
			t.Fatalf("fixture %d: %v", i, err)
		}
	}
	return ids
}

func testReportSummaries(t *testing.T, db *storage.DB, raw *sql.DB) {
	loadFixture(t, db, raw, reportFixture())
	s := func(n int64) time.Duration { return time.Duration(n) * time.Second }
	f := reports.Filter{From: reportDay, To: reportDay.Add(24 * time.Hour), Now: reportDay.Add(10 * 24 * time.Hour)}
	want := []reports.Summary{
		{Department: "", Created: 9,
			// 300 600 900 1200 1800 3600 7200: rank ceil(3.5)=4, ceil(6.3)=7
			FirstResponse: reports.Durations{Count: 7, Median: s(1200), P90: s(7200)},
			// 3600 7200 10000 36000: rank 2, ceil(3.6)=4
			Resolution:       reports.Durations{Count: 4, Median: s(7200), P90: s(36000)},
			FirstResponseSLA: reports.Compliance{Met: 6, Total: 8}, ResolutionSLA: reports.Compliance{Met: 3, Total: 7},
			Resolved: 5, Reopened: 1},
		{Department: "it", Created: 3,
			FirstResponse:    reports.Durations{Count: 2, Median: s(300), P90: s(900)},
			Resolution:       reports.Durations{Count: 1, Median: s(10000), P90: s(10000)},
			FirstResponseSLA: reports.Compliance{Met: 2, Total: 3}, ResolutionSLA: reports.Compliance{Met: 1, Total: 2},
			Resolved: 1},
		{Department: "statistics", Created: 6,
			// 600 1200 1800 3600 7200: rank ceil(2.5)=3, ceil(4.5)=5
			FirstResponse: reports.Durations{Count: 5, Median: s(1800), P90: s(7200)},
			// 3600 7200 36000: rank ceil(1.5)=2, ceil(2.7)=3
			Resolution:       reports.Durations{Count: 3, Median: s(7200), P90: s(36000)},
			FirstResponseSLA: reports.Compliance{Met: 4, Total: 5}, ResolutionSLA: reports.Compliance{Met: 2, Total: 5},
			Resolved: 4, Reopened: 1},
	}
	got, err := db.Summaries(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Summaries:\n got %+v\nwant %+v", got, want)
	}

	// One department: its row and a total equal to it.
	f.Departments = []string{"it"}
	got, err = db.Summaries(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	total := want[1]
	total.Department = ""
	if !reflect.DeepEqual(got, []reports.Summary{total, want[1]}) {
		t.Fatalf("Summaries of it:\n got %+v", got)
	}

	// No cases: an empty total only.
	f.Departments = []string{"communication"}
	if got, err = db.Summaries(context.Background(), f); err != nil || !reflect.DeepEqual(got, []reports.Summary{{}}) {
		t.Fatalf("Summaries of an empty department = %+v, %v", got, err)
	}
}

func testReportBucketsBacklogOperatorsLive(t *testing.T, db *storage.DB, raw *sql.DB) {
	loadFixture(t, db, raw, reportFixture())
	ctx := context.Background()
	now := reportDay.Add(2*24*time.Hour + 12*time.Hour) // Wednesday 12:00
	f := reports.Filter{From: reportDay, To: reportDay.Add(24 * time.Hour), Now: reportDay.Add(10 * 24 * time.Hour)}
	got, err := db.Buckets(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	hr := func(h int) time.Time { return reportDay.Add(time.Duration(h) * time.Hour) }
	c := func(met, total int) reports.Compliance { return reports.Compliance{Met: met, Total: total} }
	want := []reports.Bucket{
		{Start: hr(9), Department: "statistics", Channel: "webform", Created: 2, FirstResponse: c(2, 2), Resolution: c(2, 2)},
		{Start: hr(10), Department: "statistics", Channel: "email", Created: 2, FirstResponse: c(2, 2), Resolution: c(0, 2)},
		{Start: hr(11), Department: "it", Channel: "email", Created: 2, FirstResponse: c(2, 2), Resolution: c(1, 1)},
		{Start: hr(14), Department: "statistics", Channel: "email", Created: 1, FirstResponse: c(0, 1), Resolution: c(0, 1)},
		{Start: hr(15), Department: "it", Channel: "webform", Created: 1, FirstResponse: c(0, 1), Resolution: c(0, 1)},
		{Start: hr(16), Department: "statistics", Channel: "webform", Created: 1, FirstResponse: c(0, 0), Resolution: c(0, 0)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Buckets:\n got %+v\nwant %+v", got, want)
	}

	// By day in Rome (UTC+1 in November): the store's buckets, hourly or
	// daily, re-bucketed by the reporter.
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	days, err := (&reports.Reporter{Store: db, Location: rome}).Volume(ctx, f, true)
	if err != nil {
		t.Fatal(err)
	}
	monday := reportDay.Add(-time.Hour)
	wantDays := []reports.Bucket{
		{Start: monday, Department: "it", Channel: "email", Created: 2, FirstResponse: c(2, 2), Resolution: c(1, 1)},
		{Start: monday, Department: "it", Channel: "webform", Created: 1, FirstResponse: c(0, 1), Resolution: c(0, 1)},
		{Start: monday, Department: "statistics", Channel: "email", Created: 3, FirstResponse: c(2, 3), Resolution: c(0, 3)},
		{Start: monday, Department: "statistics", Channel: "webform", Created: 3, FirstResponse: c(2, 2), Resolution: c(2, 2)},
	}
	if !reflect.DeepEqual(days, wantDays) {
		t.Fatalf("daily volume:\n got %+v\nwant %+v", days, wantDays)
	}

	// The backlog on Wednesday noon: Monday's open cases are 1–3 days old,
	// Sunday's 3–7 days.
	backlog, err := db.Backlog(ctx, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	wantBacklog := []reports.Backlog{{Department: "it", Ages: []int{0, 2, 0, 0, 0}}, {Department: "statistics", Ages: []int{0, 3, 1, 0, 0}}}
	if !reflect.DeepEqual(backlog, wantBacklog) {
		t.Fatalf("Backlog = %+v, want %+v", backlog, wantBacklog)
	}
	if backlog, err = db.Backlog(ctx, []string{"it"}, now); err != nil || !reflect.DeepEqual(backlog, wantBacklog[:1]) {
		t.Fatalf("Backlog of it = %+v, %v", backlog, err)
	}

	ops, err := db.Operators(ctx, reports.Filter{From: reportDay, To: reportDay.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// Resolved on Monday: op-statistics twice (the 10 h resolution of the
	// unassigned case does not count), op-it once.
	wantOps := []reports.OperatorLoad{{Operator: "op-it", Department: "it", Handled: 1, Open: 1}, {Operator: "op-statistics", Department: "statistics", Handled: 2, Open: 1}}
	if !reflect.DeepEqual(ops, wantOps) {
		t.Fatalf("Operators = %+v, want %+v", ops, wantOps)
	}

	live, err := db.Live(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	wantQueue := map[[2]string]int{{"statistics", "open"}: 3, {"statistics", "new"}: 1, {"it", "open"}: 1, {"it", "new"}: 1}
	if !reflect.DeepEqual(live.Queue, wantQueue) {
		t.Errorf("Live queue = %v, want %v", live.Queue, wantQueue)
	}
	// Unassigned and waiting: statistics since Sunday 09:00, it since Monday 15:00.
	wantOldest := map[string]time.Time{"statistics": reportDay.Add(-15 * time.Hour), "it": hr(15)}
	if len(live.OldestUnassigned) != 2 || !live.OldestUnassigned["statistics"].Equal(wantOldest["statistics"]) || !live.OldestUnassigned["it"].Equal(wantOldest["it"]) {
		t.Errorf("Live oldest unassigned = %v, want %v", live.OldestUnassigned, wantOldest)
	}
	// Past the deadline on Wednesday: statistics' three open cases with an
	// 8 h target, it's new case; it's open case has 30 days.
	if want := map[string]int{"statistics": 3, "it": 1}; !reflect.DeepEqual(live.Breached, want) {
		t.Errorf("Live breached = %v, want %v", live.Breached, want)
	}
}

// halfTime is a calendar in which half of the wall-clock time is working
// time.
type halfTime struct{}

func (halfTime) Between(_ string, a, b time.Time) time.Duration { return b.Sub(a) / 2 }

// testReportFacts: the facts follow the case through UpdateCase.
func testReportFacts(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	db.SetWorkingTime(halfTime{})
	out := create(t, db, 2026, newCase("it", ""))
	id := out[0].CaseID
	c, err := db.GetCase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	update := func(fn func(c *cases.Case)) {
		t.Helper()
		if _, err := db.UpdateCase(ctx, id, 0, func(c *cases.Case) ([]cases.Event, error) {
			fn(c)
			return []cases.Event{{Type: "test"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	summary := func() reports.Summary {
		t.Helper()
		s, err := db.Summaries(ctx, reports.Filter{From: c.CreatedAt.Add(-time.Minute), To: c.CreatedAt.Add(time.Minute), Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return s[0]
	}
	// Replied 2 h after opening, 30 min of it paused: 1 h of working time
	// less the pause.
	update(func(c *cases.Case) { c.FirstRespondedAt, c.SLAPausedFor = c.CreatedAt.Add(2*time.Hour), 30*time.Minute })
	if s := summary(); s.FirstResponse != (reports.Durations{Count: 1, Median: 30 * time.Minute, P90: 30 * time.Minute}) {
		t.Fatalf("after the reply: %+v", s.FirstResponse)
	}
	// A later reply does not move it.
	update(func(c *cases.Case) { c.FirstRespondedAt = c.CreatedAt.Add(4 * time.Hour) })
	update(func(c *cases.Case) { c.Status = cases.StatusResolved })
	if s := summary(); s.FirstResponse.Median != 30*time.Minute || s.Resolution.Count != 1 || s.Resolved != 1 || s.Reopened != 0 {
		t.Fatalf("after resolving: %+v", s)
	}
	update(func(c *cases.Case) { c.Status = cases.StatusOpen })
	if s := summary(); s.Resolution.Count != 0 || s.Resolved != 1 || s.Reopened != 1 {
		t.Fatalf("after reopening: %+v", s)
	}
	update(func(c *cases.Case) { c.Status = cases.StatusResolved })
	update(func(c *cases.Case) { c.Status = cases.StatusClosed })
	if s := summary(); s.Resolution.Count != 1 || s.Resolved != 1 || s.Reopened != 1 {
		t.Fatalf("after resolving again and closing: %+v", s)
	}
}
