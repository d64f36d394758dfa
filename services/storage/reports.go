package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/reports"
)

var _ reports.Store = (*DB)(nil)

// openCases selects the statuses of the queue. A literal, not a bound
// parameter, so PostgreSQL can match the partial index cases_report_open
// whatever plan it caches.
const openCases = "status IN ('new', 'open', 'pending_citizen', 'on_hold')"

func sumIf(cond, as string) string {
	return "SUM(CASE WHEN " + cond + " THEN 1 ELSE 0 END) AS " + as
}

// Buckets implements reports.Store: the rollup's hours (grouped by day of
// f.Days on PostgreSQL) where it is complete, the cases elsewhere (see
// reportrollup.go).
func (db *DB) Buckets(ctx context.Context, f reports.Filter) ([]reports.Bucket, error) {
	p, err := db.plan(ctx, f.From, f.To, f.Departments, f.Now, false)
	if err != nil {
		return nil, err
	}
	var out []reports.Bucket
	if len(p.rollup) > 0 {
		start := "hour_start"
		var args []any
		if db.dialect == Postgres && f.Days != nil {
			start = "date_trunc('day', hour_start, ?)"
			args = append(args, f.Days.String())
		}
		q := db.gorm.WithContext(ctx).Model(&reportHourRow{}).
			Select(start+" AS hour_start, department_id, channel_kind, SUM(created) AS created, SUM(fr_met) AS fr_met, SUM(fr_known) AS fr_known, "+
				"SUM(fr_pending) AS fr_pending, SUM(res_met) AS res_met, SUM(res_known) AS res_known, SUM(res_pending) AS res_pending", args...).
			Where(spansWhere(db.gorm, "hour_start", p.rollup))
		if f.Departments != nil {
			q = q.Where("department_id IN ?", f.Departments)
		}
		// Scanned by hand: a month is 14,400 rows, and gorm's reflective
		// Scan would cost more than the query.
		rows, err := q.Group("1, department_id, channel_kind").Rows()
		if err != nil {
			return nil, fmt.Errorf("report buckets: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				start         any // SQLite: text
				dept, channel string
				t             Tally
			)
			if err := rows.Scan(&start, &dept, &channel, &t.Created, &t.FrMet, &t.FrKnown, &t.FrPending, &t.ResMet, &t.ResKnown, &t.ResPending); err != nil {
				return nil, fmt.Errorf("report buckets: %w", err)
			}
			at, err := dbTime(start)
			if err != nil {
				return nil, fmt.Errorf("report buckets: %w", err)
			}
			out = append(out, bucket(at, dept, channel, t))
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("report buckets: %w", err)
		}
		// Take off the outcomes not yet due of the days with deadlines
		// ahead, grouped as the rows above.
		at := map[hourKey]int{}
		for i, b := range out {
			at[hourKey{b.Start.Unix(), b.Department, b.Channel}] = i
		}
		key, keyArgs := "CAST(strftime('%s', created_at) AS INTEGER) / 3600 * 3600", []any(nil)
		if db.dialect == Postgres {
			key = "floor(date_part('epoch', created_at) / 3600)::bigint * 3600"
			if f.Days != nil {
				key, keyArgs = "date_part('epoch', date_trunc('day', created_at, ?))::bigint", []any{f.Days.String()}
			}
		}
		err = db.pendingAhead(ctx, p, key, keyArgs, f.Departments, f.Now, func(k int64, dept, channel string, fr, res int) {
			if i, ok := at[hourKey{k, dept, channel}]; ok {
				out[i].FirstResponse.Total -= fr
				out[i].Resolution.Total -= res
			}
		})
		if err != nil {
			return nil, err
		}
	}
	hours := map[hourKey]*Tally{}
	err = db.readCases(ctx, p.live, f.Departments, func(c *rollupCase) {
		k := hourKey{c.CreatedAt.Truncate(time.Hour).Unix(), c.DepartmentID, c.ChannelKind}
		t := hours[k]
		if t == nil {
			t = &Tally{}
			hours[k] = t
		}
		t.add(c, &f.Now)
	})
	if err != nil {
		return nil, fmt.Errorf("report buckets: %w", err)
	}
	for k, t := range hours {
		out = append(out, bucket(time.Unix(k.hour, 0), k.dept, k.channel, *t))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Department != b.Department {
			return a.Department < b.Department
		}
		return a.Channel < b.Channel
	})
	return out, nil
}

// bucket turns a Tally whose pending outcomes are all past due into a
// bucket.
func bucket(start time.Time, dept, channel string, t Tally) reports.Bucket {
	return reports.Bucket{Start: start.UTC(), Department: dept, Channel: channel, Created: t.Created,
		FirstResponse: reports.Compliance{Met: t.FrMet, Total: t.FrKnown + t.FrPending},
		Resolution:    reports.Compliance{Met: t.ResMet, Total: t.ResKnown + t.ResPending}}
}

// durAcc gathers durations: the exact values while they all come from
// the cases, a histogram as soon as one of the rollup's is added.
type durAcc struct {
	vals   []int64
	h      hist
	n      int64
	approx bool
}

func (d *durAcc) add(v int64) {
	d.vals = append(d.vals, v)
	d.h.add(v)
	d.n++
}

func (d *durAcc) merge(enc []byte) error {
	n, err := d.h.merge(enc)
	d.n += n
	d.approx = d.approx || n > 0
	return err
}

func (d *durAcc) durations() reports.Durations {
	sec := func(p *int64) time.Duration {
		if p == nil {
			return 0
		}
		return time.Duration(*p) * time.Second
	}
	if d.approx {
		return reports.Durations{Count: int(d.n), Median: sec(d.h.rank(d.n, 0.5)), P90: sec(d.h.rank(d.n, 0.9))}
	}
	return reports.Durations{Count: int(d.n), Median: sec(nearestRank(d.vals, 0.5)), P90: sec(nearestRank(d.vals, 0.9))}
}

type summaryAcc struct {
	Tally
	resolved, reopened int
	fr, res            durAcc
}

func (a *summaryAcc) summary(dept string) reports.Summary {
	return reports.Summary{Department: dept, Created: a.Created, Resolved: a.resolved, Reopened: a.reopened,
		FirstResponseSLA: reports.Compliance{Met: a.FrMet, Total: a.FrKnown + a.FrPending},
		ResolutionSLA:    reports.Compliance{Met: a.ResMet, Total: a.ResKnown + a.ResPending},
		FirstResponse:    a.fr.durations(), Resolution: a.res.durations()}
}

// Summaries implements reports.Store from the rollup's days where it is
// complete and the cases elsewhere (see reportrollup.go). The medians and
// 90th percentiles are exact (nearest rank, as PostgreSQL's
// percentile_disc) when no rollup day is in the range, and within
// HistError (+1 s) of it otherwise.
func (db *DB) Summaries(ctx context.Context, f reports.Filter) ([]reports.Summary, error) {
	p, err := db.plan(ctx, f.From, f.To, f.Departments, f.Now, true)
	if err != nil {
		return nil, err
	}
	total, by := &summaryAcc{}, map[string]*summaryAcc{}
	get := func(dept string) *summaryAcc {
		a := by[dept]
		if a == nil {
			a = &summaryAcc{}
			by[dept] = a
		}
		return a
	}
	for _, r := range p.days {
		for _, a := range []*summaryAcc{total, get(r.DepartmentID)} {
			a.plus(r.Tally)
			a.resolved, a.reopened = a.resolved+r.Resolved, a.reopened+r.Reopened
			if err := a.fr.merge(r.FrHist); err != nil {
				return nil, err
			}
			if err := a.res.merge(r.ResHist); err != nil {
				return nil, err
			}
		}
	}
	err = db.pendingAhead(ctx, p, "", nil, f.Departments, f.Now, func(_ int64, dept, _ string, fr, res int) {
		for _, a := range []*summaryAcc{total, get(dept)} {
			a.FrPending -= fr
			a.ResPending -= res
		}
	})
	if err != nil {
		return nil, err
	}
	err = db.readCases(ctx, p.live, f.Departments, func(c *rollupCase) {
		for _, a := range []*summaryAcc{total, get(c.DepartmentID)} {
			a.add(c, &f.Now)
			if c.ResolvedAt != nil || c.ReopenCount > 0 {
				a.resolved++
			}
			if c.ReopenCount > 0 {
				a.reopened++
			}
			if c.FirstResponseSeconds != nil {
				a.fr.add(*c.FirstResponseSeconds)
			}
			if c.ResolutionSeconds != nil {
				a.res.add(*c.ResolutionSeconds)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("report summaries: %w", err)
	}
	out := []reports.Summary{total.summary("")}
	for dept, a := range by {
		if a.Created > 0 {
			out = append(out, a.summary(dept))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Department < out[j].Department }) // the total ("") first
	return out, nil
}

// nearestRank is the smallest value with at least p of vs at or below it
// (PostgreSQL's percentile_disc); nil for no values.
func nearestRank(vs []int64, p float64) *int64 {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999999) - 1
	v := s[min(max(i, 0), len(s)-1)]
	return &v
}

// Backlog implements reports.Store over the open cases (cases_status).
func (db *DB) Backlog(ctx context.Context, departments []string, now time.Time) ([]reports.Backlog, error) {
	sums := make([]string, len(reports.AgeLabels))
	args := make([]any, len(reports.AgeBuckets))
	for i := range reports.AgeLabels {
		var cond []string
		if i < len(reports.AgeBuckets) {
			cond = append(cond, fmt.Sprintf("created_at > @b%d", i))
			args[i] = sql.Named(fmt.Sprintf("b%d", i), now.UTC().Add(-reports.AgeBuckets[i]))
		}
		if i > 0 {
			cond = append(cond, fmt.Sprintf("created_at <= @b%d", i-1))
		}
		sums[i] = sumIf(strings.Join(cond, " AND "), "a"+fmt.Sprint(i))
	}
	q := db.gorm.WithContext(ctx).Model(&caseRow{}).Select("department_id, "+strings.Join(sums, ", "), args...).Where(openCases)
	if departments != nil {
		q = q.Where("department_id IN ?", departments)
	}
	var rows []struct {
		DepartmentID       string
		A0, A1, A2, A3, A4 int
	}
	if err := q.Group("department_id").Order("department_id").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("report backlog: %w", err)
	}
	out := make([]reports.Backlog, len(rows))
	for i, r := range rows {
		out[i] = reports.Backlog{Department: r.DepartmentID, Ages: []int{r.A0, r.A1, r.A2, r.A3, r.A4}}
	}
	return out, nil
}

// Operators implements reports.Store: resolutions in the range
// (cases_report_resolved) and open assigned cases (cases_assignee).
func (db *DB) Operators(ctx context.Context, f reports.Filter) ([]reports.OperatorLoad, error) {
	type row struct {
		AssigneeID, DepartmentID string
		N                        int
	}
	scope := func(q *gorm.DB) *gorm.DB {
		q = q.Select("assignee_id, department_id, COUNT(*) AS n").Where("assignee_id <> ''")
		if f.Departments != nil {
			q = q.Where("department_id IN ?", f.Departments)
		}
		return q.Group("assignee_id, department_id")
	}
	g := db.gorm.WithContext(ctx).Model(&caseRow{})
	var handled, open []row
	if err := scope(g.Where("resolved_at >= ? AND resolved_at < ?", f.From.UTC(), f.To.UTC())).Scan(&handled).Error; err != nil {
		return nil, fmt.Errorf("report operators: %w", err)
	}
	g = db.gorm.WithContext(ctx).Model(&caseRow{})
	if err := scope(g.Where(openCases)).Scan(&open).Error; err != nil {
		return nil, fmt.Errorf("report operators: %w", err)
	}
	byKey := map[[2]string]*reports.OperatorLoad{}
	get := func(r row) *reports.OperatorLoad {
		k := [2]string{r.AssigneeID, r.DepartmentID}
		if byKey[k] == nil {
			byKey[k] = &reports.OperatorLoad{Operator: r.AssigneeID, Department: r.DepartmentID}
		}
		return byKey[k]
	}
	for _, r := range handled {
		get(r).Handled = r.N
	}
	for _, r := range open {
		get(r).Open = r.N
	}
	out := make([]reports.OperatorLoad, 0, len(byKey))
	for _, o := range byKey {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Department != out[j].Department {
			return out[i].Department < out[j].Department
		}
		return out[i].Operator < out[j].Operator
	})
	return out, nil
}

// Live implements reports.Store with one pass over the open cases only
// (the partial index cases_report_open, index-only on PostgreSQL), so its
// cost follows the backlog, not the history.
func (db *DB) Live(ctx context.Context, now time.Time) (reports.Live, error) {
	live := reports.Live{Queue: map[[2]string]int{}, OldestUnassigned: map[string]time.Time{}, Breached: map[string]int{}}
	rows, err := db.gorm.WithContext(ctx).Model(&caseRow{}).
		Select("department_id, status, COUNT(*), MIN(CASE WHEN assignee_id = '' THEN created_at END), "+
			"SUM(CASE WHEN sla_paused_at IS NULL AND sla_due_at <= ? THEN 1 ELSE 0 END)", now.UTC()).
		Where(openCases).Group("department_id, status").Rows()
	if err != nil {
		return live, fmt.Errorf("live queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			dept, status string
			n, breached  int
			oldest       any // an aggregate loses SQLite's column type: text there
		)
		if err := rows.Scan(&dept, &status, &n, &oldest, &breached); err != nil {
			return live, fmt.Errorf("live queue: %w", err)
		}
		live.Queue[[2]string{dept, status}] = n
		if breached > 0 {
			live.Breached[dept] += breached
		}
		if oldest == nil {
			continue
		}
		t, err := dbTime(oldest)
		if err != nil {
			return live, fmt.Errorf("live oldest: %w", err)
		}
		if o, ok := live.OldestUnassigned[dept]; !ok || t.Before(o) {
			live.OldestUnassigned[dept] = t
		}
	}
	if err := rows.Err(); err != nil {
		return live, fmt.Errorf("live queue: %w", err)
	}
	return live, nil
}

// dbTime reads a timestamp an aggregate returned: a time.Time from
// PostgreSQL, text from SQLite.
func dbTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case string:
		return parseSQLiteTime(t)
	case []byte:
		return parseSQLiteTime(string(t))
	}
	return time.Time{}, fmt.Errorf("unexpected timestamp %T", v)
}

func parseSQLiteTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable timestamp %q", s)
}
