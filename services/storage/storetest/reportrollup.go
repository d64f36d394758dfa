package storetest

import (
	"context"
	"database/sql"
	"encoding/binary"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/reports"
	"github.com/sportello/sportello/services/storage"
)

func init() {
	rawTests = append(rawTests, []struct {
		name string
		run  func(t *testing.T, db *storage.DB, raw *sql.DB)
	}{
		{"ReportRollupAgrees", testReportRollupAgrees},
		{"ReportRollupFollowsLateFacts", testReportRollupFollowsLateFacts},
		{"ReportRollupSweepsLateCommits", testReportRollupSweepsLateCommits},
		{"ReportRollupTwoRefreshers", testReportRollupTwoRefreshers},
	}...)
}

// closeSummaries: the counts equal, the durations within the rollup's
// error bound.
func closeSummaries(t *testing.T, got, want []reports.Summary) {
	t.Helper()
	within := func(a, b time.Duration) bool {
		d := (a - b).Seconds()
		if d < 0 {
			d = -d
		}
		return d <= storage.HistError*b.Seconds()+1
	}
	if len(got) != len(want) {
		t.Fatalf("summaries:\n got %+v\nwant %+v", got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		for _, d := range [][2]reports.Durations{{g.FirstResponse, w.FirstResponse}, {g.Resolution, w.Resolution}} {
			if d[0].Count != d[1].Count || !within(d[0].Median, d[1].Median) || !within(d[0].P90, d[1].P90) {
				t.Fatalf("summary %q durations %+v, want about %+v", g.Department, d[0], d[1])
			}
		}
		g.FirstResponse, g.Resolution, w.FirstResponse, w.Resolution = reports.Durations{}, reports.Durations{}, reports.Durations{}, reports.Durations{}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("summary:\n got %+v\nwant %+v", g, w)
		}
	}
}

func refresh(t *testing.T, db *storage.DB) int {
	t.Helper()
	n, err := db.RefreshReportRollup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testReportRollupAgrees: the reports read from the rollup agree with the
// reports read from the cases (the durations within the error bound),
// whether the deadlines of the open cases are past or ahead, and a case
// updated after the refresh is read from the cases.
func testReportRollupAgrees(t *testing.T, db *storage.DB, raw *sql.DB) {
	ids := loadFixture(t, db, raw, reportFixture())
	db.SetReportRollupMargin(0)
	ctx := context.Background()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	rep := &reports.Reporter{Store: db, Location: rome}
	// Sunday to Tuesday: whole days and partial ones; open deadlines ahead
	// (day 10: it's 30-day target) and all past (day 40).
	filters := []reports.Filter{
		{From: reportDay.Add(-30 * time.Hour), To: reportDay.Add(36 * time.Hour), Now: reportDay.Add(10 * 24 * time.Hour)},
		{From: reportDay.Add(-30 * time.Hour), To: reportDay.Add(36 * time.Hour), Now: reportDay.Add(40 * 24 * time.Hour)},
		{From: reportDay, To: reportDay.Add(24 * time.Hour), Now: reportDay.Add(40 * 24 * time.Hour), Departments: []string{"it"}},
		{From: reportDay.Add(-24 * time.Hour), To: reportDay.Add(48 * time.Hour), Now: reportDay.Add(40 * 24 * time.Hour), Departments: []string{"communication"}},
	}
	type result struct {
		sums        []reports.Summary
		hours, days []reports.Bucket
	}
	read := func(f reports.Filter) result {
		t.Helper()
		var r result
		var err error
		if r.sums, err = db.Summaries(ctx, f); err != nil {
			t.Fatal(err)
		}
		if r.hours, err = rep.Volume(ctx, f, false); err != nil {
			t.Fatal(err)
		}
		if r.days, err = rep.Volume(ctx, f, true); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var exact []result
	for _, f := range filters {
		exact = append(exact, read(f))
	}
	if n := refresh(t, db); n != 2 {
		t.Fatalf("first refresh recomputed %d days, want 2 (Sunday, Monday)", n)
	}
	if n := refresh(t, db); n != 0 {
		t.Fatalf("refresh without changes recomputed %d days", n)
	}
	for i, f := range filters {
		got := read(f)
		closeSummaries(t, got.sums, exact[i].sums)
		if !reflect.DeepEqual(got.hours, exact[i].hours) || !reflect.DeepEqual(got.days, exact[i].days) {
			t.Fatalf("filter %d: volume from the rollup\n got %+v %+v\nwant %+v %+v", i, got.hours, got.days, exact[i].hours, exact[i].days)
		}
	}

	// The rollup is what is read: a write that does not mark the case
	// updated is not seen (every store write does)...
	f := filters[1]
	if _, err := raw.Exec(rebind(db, "UPDATE cases SET first_response_seconds = 100000 WHERE id = ?"), ids[0]); err != nil {
		t.Fatal(err)
	}
	got := read(f)
	closeSummaries(t, got.sums, exact[1].sums)
	// ... and one that does is read from the cases until the next refresh.
	if _, err := raw.Exec(rebind(db, "UPDATE cases SET updated_at = ? WHERE id = ?"), time.Now().UTC().Add(time.Second), ids[0]); err != nil {
		t.Fatal(err)
	}
	got = read(f)
	if got.sums[0].FirstResponse.Median != 1800*time.Second { // 300 900 1200 1800 3600 7200 100000
		t.Fatalf("after the update: %+v", got.sums[0].FirstResponse)
	}
	time.Sleep(10 * time.Millisecond)
	if n := refresh(t, db); n != 1 {
		t.Fatalf("refresh after one update recomputed %d days, want 1", n)
	}
	got = read(f)
	want := exact[1].sums[0]
	want.FirstResponse.Median, want.FirstResponse.P90 = 1800*time.Second, 100000*time.Second
	closeSummaries(t, got.sums[:1], []reports.Summary{want})
}

func rebind(db *storage.DB, q string) string {
	if db.Dialect() != storage.Postgres {
		return q
	}
	out, n := []byte{}, 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$', byte('0'+n))
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

// testReportRollupFollowsLateFacts: a case opened days ago and resolved,
// reopened and resolved again now moves its day's figures in the rollup.
func testReportRollupFollowsLateFacts(t *testing.T, db *storage.DB, raw *sql.DB) {
	seed(t, db)
	db.SetReportRollupMargin(0)
	ctx := context.Background()
	id := create(t, db, 2026, newCase("it", ""))[0].CaseID
	opened := time.Now().UTC().Add(-5 * 24 * time.Hour).Truncate(time.Hour)
	if _, err := raw.Exec(rebind(db, "UPDATE cases SET created_at = ?, updated_at = ? WHERE id = ?"), opened, opened, id); err != nil {
		t.Fatal(err)
	}
	refresh(t, db)
	dayRow := func() (created, resolved, reopened, resCount int) {
		t.Helper()
		var hist []byte
		err := raw.QueryRow(rebind(db, "SELECT created, resolved, reopened, res_hist FROM report_days WHERE department_id = 'it' AND day_start = ?"),
			opened.Truncate(24*time.Hour)).Scan(&created, &resolved, &reopened, &hist)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) > 0 { // one bucket: (gap, count)
			_, n := binary.Uvarint(hist)
			c, _ := binary.Uvarint(hist[n:])
			resCount = int(c)
		}
		return
	}
	if c, r, o, n := dayRow(); c != 1 || r != 0 || o != 0 || n != 0 {
		t.Fatalf("opened: day row %d created %d resolved %d reopened %d resolutions", c, r, o, n)
	}
	f := reports.Filter{From: opened.Truncate(24 * time.Hour).Add(-24 * time.Hour), To: opened.Truncate(24 * time.Hour).Add(48 * time.Hour),
		Now: time.Now().Add(400 * 24 * time.Hour)}
	steps := []struct {
		status                     cases.Status
		resolved, reopened, resCnt int
	}{
		{cases.StatusResolved, 1, 0, 1},
		{cases.StatusOpen, 1, 1, 0},
		{cases.StatusResolved, 1, 1, 1},
	}
	for _, s := range steps {
		if _, err := db.UpdateCase(ctx, id, 0, func(c *cases.Case) ([]cases.Event, error) {
			c.Status = s.status
			return []cases.Event{{Type: "test"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		// Before the refresh: read from the cases.
		sums, err := db.Summaries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if sums[0].Resolved != s.resolved || sums[0].Reopened != s.reopened || sums[0].Resolution.Count != s.resCnt {
			t.Fatalf("%s, before the refresh: %+v", s.status, sums[0])
		}
		if n := refresh(t, db); n != 1 {
			t.Fatalf("%s: refresh recomputed %d days, want 1", s.status, n)
		}
		if c, r, o, n := dayRow(); c != 1 || r != s.resolved || o != s.reopened || n != s.resCnt {
			t.Fatalf("%s: day row %d created %d resolved %d reopened %d resolutions", s.status, c, r, o, n)
		}
		if sums, err = db.Summaries(ctx, f); err != nil {
			t.Fatal(err)
		}
		if sums[0].Created != 1 || sums[0].Resolved != s.resolved || sums[0].Reopened != s.reopened || sums[0].Resolution.Count != s.resCnt {
			t.Fatalf("%s, from the rollup: %+v", s.status, sums[0])
		}
	}
}

// testReportRollupTwoRefreshers: refreshers running at once (two
// replicas) count every case once.
func testReportRollupTwoRefreshers(t *testing.T, db *storage.DB, raw *sql.DB) {
	loadFixture(t, db, raw, reportFixture())
	db.SetReportRollupMargin(time.Hour) // every run recomputes every day
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				if _, err := db.RefreshReportRollup(context.Background()); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, table := range []string{"report_days", "report_hours"} {
		var n int
		if err := raw.QueryRow("SELECT SUM(created) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(reportFixture()) {
			t.Errorf("%s counts %d cases, want %d", table, n, len(reportFixture()))
		}
	}
}

// testReportRollupSweepsLateCommits: a change whose updated_at is older
// than the watermark less the margin (a transaction that committed late,
// or a replica's clock behind) is missed by the refresh, so the day's
// rollup row is stale; a sweep recomputes it, and leaves the watermark.
func testReportRollupSweepsLateCommits(t *testing.T, db *storage.DB, raw *sql.DB) {
	seed(t, db)
	db.SetReportRollupMargin(time.Minute)
	ctx := context.Background()
	id := create(t, db, 2026, newCase("it", ""))[0].CaseID
	opened := time.Now().UTC().Add(-5 * 24 * time.Hour).Truncate(time.Hour)
	if _, err := raw.Exec(rebind(db, "UPDATE cases SET created_at = ?, updated_at = ? WHERE id = ?"), opened, opened, id); err != nil {
		t.Fatal(err)
	}
	refresh(t, db)
	itDay := func() (n int) {
		t.Helper()
		err := raw.QueryRow(rebind(db, "SELECT COALESCE(SUM(created), 0) FROM report_days WHERE department_id = 'it' AND day_start = ?"),
			opened.Truncate(24*time.Hour)).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := itDay(); n != 1 {
		t.Fatalf("it's day row counts %d cases, want 1", n)
	}
	// Transferred to statistics by a transaction stamped 20 minutes ago
	// that commits only now.
	late := time.Now().UTC().Add(-20 * time.Minute)
	if _, err := raw.Exec(rebind(db, "UPDATE cases SET department_id = 'statistics', updated_at = ? WHERE id = ?"), late, id); err != nil {
		t.Fatal(err)
	}
	if n := refresh(t, db); n != 0 {
		t.Fatalf("the refresh recomputed %d days; this test needs it to miss the late commit", n)
	}
	if n := itDay(); n != 1 {
		t.Fatalf("it's day row counts %d cases before the sweep, want the stale 1", n)
	}
	if n, err := db.SweepReportRollup(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("SweepReportRollup = %d, %v; want 1 day", n, err)
	}
	if n := itDay(); n != 0 {
		t.Fatalf("it's day row counts %d cases after the sweep, want 0", n)
	}
	// A sweep whose lookback does not reach the change recomputes nothing.
	if n, err := db.SweepReportRollup(ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("short SweepReportRollup = %d, %v; want 0 days", n, err)
	}
}
