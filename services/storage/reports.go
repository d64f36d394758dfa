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

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/reports"
)

var _ reports.Store = (*DB)(nil)

// openCases selects the statuses of the queue. A literal, not a bound
// parameter, so PostgreSQL can match the partial index cases_report_open
// whatever plan it caches.
const openCases = "status IN ('new', 'open', 'pending_citizen', 'on_hold')"

// Compliance of the cases of a report at @now: a target is met when the
// reply (resolution) came by its deadline; a case still waiting past the
// deadline counts as missed. sla_due_at is NoDeadline without a policy.
const (
	frTotal  = "first_response_due_at IS NOT NULL AND (first_responded_at IS NOT NULL OR first_response_due_at <= @now)"
	frMet    = "first_response_due_at IS NOT NULL AND first_responded_at IS NOT NULL AND first_responded_at <= first_response_due_at"
	resTotal = "sla_due_at < @never AND (resolved_at IS NOT NULL OR (sla_due_at <= @now AND " + openCases + "))"
	resMet   = "sla_due_at < @never AND resolved_at IS NOT NULL AND resolved_at <= sla_due_at"
)

func sumIf(cond, as string) string {
	return "SUM(CASE WHEN " + cond + " THEN 1 ELSE 0 END) AS " + as
}

// reportScope is the cases of f: opened in [From, To), of its departments.
func (db *DB) reportScope(ctx context.Context, f reports.Filter) *gorm.DB {
	q := db.gorm.WithContext(ctx).Model(&caseRow{}).Where("created_at >= ? AND created_at < ?", f.From.UTC(), f.To.UTC())
	if f.Departments != nil {
		q = q.Where("department_id IN ?", f.Departments)
	}
	return q
}

func reportArgs(now time.Time) []any {
	return []any{sql.Named("now", now.UTC()), sql.Named("never", cases.NoDeadline.Add(-24*time.Hour))}
}

// Buckets implements reports.Store with one GROUP BY over the
// cases_report_created index (on PostgreSQL an index-only scan).
func (db *DB) Buckets(ctx context.Context, f reports.Filter) ([]reports.Bucket, error) {
	// The bucket's start as an integer (seconds since 1970): cheap to
	// compute and to hash, where formatting a text per case is not.
	// PostgreSQL groups by day in the zone asked for, so a month is 30
	// rows per department and channel rather than 720.
	hour := "CAST(strftime('%s', created_at) AS INTEGER) / 3600 * 3600"
	args := reportArgs(f.Now)
	if db.dialect == Postgres {
		hour = "floor(date_part('epoch', created_at) / 3600)::bigint * 3600"
		if f.Days != nil {
			hour = "date_part('epoch', date_trunc('day', created_at, @tz))::bigint"
			args = append(args, sql.Named("tz", f.Days.String()))
		}
	}
	var rows []struct {
		Hour                                      int64
		DepartmentID, ChannelKind                 string
		Created, FrMet, FrTotal, ResMet, ResTotal int
	}
	sel := hour + " AS hour, department_id, channel_kind, COUNT(*) AS created, " +
		strings.Join([]string{sumIf(frMet, "fr_met"), sumIf(frTotal, "fr_total"), sumIf(resMet, "res_met"), sumIf(resTotal, "res_total")}, ", ")
	err := db.reportScope(ctx, f).Select(sel, args...).Group("1, department_id, channel_kind").Order("1, department_id, channel_kind").
		Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("report buckets: %w", err)
	}
	out := make([]reports.Bucket, len(rows))
	for i, r := range rows {
		out[i] = reports.Bucket{Start: time.Unix(r.Hour, 0).UTC(), Department: r.DepartmentID, Channel: r.ChannelKind, Created: r.Created,
			FirstResponse: reports.Compliance{Met: r.FrMet, Total: r.FrTotal}, Resolution: reports.Compliance{Met: r.ResMet, Total: r.ResTotal}}
	}
	return out, nil
}

type summaryRow struct {
	DepartmentID                              *string // NULL: the grand total (PostgreSQL grouping set)
	Created, FrMet, FrTotal, ResMet, ResTotal int
	Resolved, Reopened, FrCount, ResCount     int
	FrP50, FrP90, ResP50, ResP90              *int64
}

func (r summaryRow) summary() reports.Summary {
	sec := func(p *int64) time.Duration {
		if p == nil {
			return 0
		}
		return time.Duration(*p) * time.Second
	}
	s := reports.Summary{Created: r.Created, Resolved: r.Resolved, Reopened: r.Reopened,
		FirstResponseSLA: reports.Compliance{Met: r.FrMet, Total: r.FrTotal}, ResolutionSLA: reports.Compliance{Met: r.ResMet, Total: r.ResTotal},
		FirstResponse: reports.Durations{Count: r.FrCount, Median: sec(r.FrP50), P90: sec(r.FrP90)},
		Resolution:    reports.Durations{Count: r.ResCount, Median: sec(r.ResP50), P90: sec(r.ResP90)}}
	if r.DepartmentID != nil {
		s.Department = *r.DepartmentID
	}
	return s
}

const summarySums = "COUNT(*) AS created, COUNT(first_response_seconds) AS fr_count, COUNT(resolution_seconds) AS res_count, "

// Summaries implements reports.Store. PostgreSQL computes the percentiles
// (percentile_disc is the nearest rank) per department and in total in
// one pass with grouping sets; SQLite has no percentiles, so the durations
// are read and ranked here.
func (db *DB) Summaries(ctx context.Context, f reports.Filter) ([]reports.Summary, error) {
	sel := summarySums + strings.Join([]string{sumIf(frMet, "fr_met"), sumIf(frTotal, "fr_total"), sumIf(resMet, "res_met"),
		sumIf(resTotal, "res_total"), sumIf("resolved_at IS NOT NULL OR reopen_count > 0", "resolved"), sumIf("reopen_count > 0", "reopened")}, ", ")
	var rows []summaryRow
	if db.dialect == Postgres {
		sel = "department_id, " + sel + ", " +
			"percentile_disc(0.5) WITHIN GROUP (ORDER BY first_response_seconds) AS fr_p50, " +
			"percentile_disc(0.9) WITHIN GROUP (ORDER BY first_response_seconds) AS fr_p90, " +
			"percentile_disc(0.5) WITHIN GROUP (ORDER BY resolution_seconds) AS res_p50, " +
			"percentile_disc(0.9) WITHIN GROUP (ORDER BY resolution_seconds) AS res_p90"
		err := db.reportScope(ctx, f).Select(sel, reportArgs(f.Now)...).Group("GROUPING SETS ((department_id), ())").Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("report summaries: %w", err)
		}
	} else {
		err := db.reportScope(ctx, f).Select("department_id, "+sel, reportArgs(f.Now)...).Group("department_id").Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("report summaries: %w", err)
		}
		if rows, err = db.rankInGo(ctx, f, rows); err != nil {
			return nil, err
		}
	}
	out := make([]reports.Summary, 0, len(rows)+1)
	for _, r := range rows {
		out = append(out, r.summary())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Department < out[j].Department }) // the total ("") first
	if len(out) == 0 || out[0].Department != "" {
		out = append([]reports.Summary{{}}, out...) // no cases: an empty total
	}
	return out, nil
}

// rankInGo adds the percentiles and the grand total to SQLite's
// per-department rows.
func (db *DB) rankInGo(ctx context.Context, f reports.Filter, rows []summaryRow) ([]summaryRow, error) {
	var durs []struct {
		DepartmentID                            string
		FirstResponseSeconds, ResolutionSeconds *int64
	}
	err := db.reportScope(ctx, f).Select("department_id, first_response_seconds, resolution_seconds").
		Where("first_response_seconds IS NOT NULL OR resolution_seconds IS NOT NULL").Scan(&durs).Error
	if err != nil {
		return nil, fmt.Errorf("report durations: %w", err)
	}
	fr, res := map[string][]int64{}, map[string][]int64{}
	for _, d := range durs {
		for _, k := range []string{d.DepartmentID, ""} {
			if d.FirstResponseSeconds != nil {
				fr[k] = append(fr[k], *d.FirstResponseSeconds)
			}
			if d.ResolutionSeconds != nil {
				res[k] = append(res[k], *d.ResolutionSeconds)
			}
		}
	}
	var total summaryRow
	total.DepartmentID = new(string)
	for _, r := range rows {
		total.Created += r.Created
		total.FrMet, total.FrTotal, total.ResMet, total.ResTotal = total.FrMet+r.FrMet, total.FrTotal+r.FrTotal, total.ResMet+r.ResMet, total.ResTotal+r.ResTotal
		total.Resolved, total.Reopened, total.FrCount, total.ResCount = total.Resolved+r.Resolved, total.Reopened+r.Reopened, total.FrCount+r.FrCount, total.ResCount+r.ResCount
	}
	if len(rows) > 0 {
		rows = append(rows, total)
	}
	for i := range rows {
		k := *rows[i].DepartmentID
		rows[i].FrP50, rows[i].FrP90 = nearestRank(fr[k], 0.5), nearestRank(fr[k], 0.9)
		rows[i].ResP50, rows[i].ResP90 = nearestRank(res[k], 0.5), nearestRank(res[k], 0.9)
	}
	return rows, nil
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

// Live implements reports.Store with three aggregates over the open cases
// only (cases_status, cases_claim), so their cost follows the backlog, not
// the history.
func (db *DB) Live(ctx context.Context, now time.Time) (reports.Live, error) {
	g := db.gorm.WithContext(ctx).Model(&caseRow{})
	live := reports.Live{Queue: map[[2]string]int{}, OldestUnassigned: map[string]time.Time{}, Breached: map[string]int{}}
	var queue []struct {
		DepartmentID, Status string
		N                    int
	}
	if err := g.Select("department_id, status, COUNT(*) AS n").Where(openCases).Group("department_id, status").Scan(&queue).Error; err != nil {
		return live, fmt.Errorf("live queue: %w", err)
	}
	for _, q := range queue {
		live.Queue[[2]string{q.DepartmentID, q.Status}] = q.N
	}
	g = db.gorm.WithContext(ctx).Model(&caseRow{})
	rows, err := g.Select("department_id, MIN(created_at) AS oldest").Where("assignee_id = '' AND " + openCases).
		Group("department_id").Rows()
	if err != nil {
		return live, fmt.Errorf("live oldest: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			dept   string
			oldest any // an aggregate loses SQLite's column type: text there
		)
		if err := rows.Scan(&dept, &oldest); err != nil {
			return live, fmt.Errorf("live oldest: %w", err)
		}
		t, err := dbTime(oldest)
		if err != nil {
			return live, fmt.Errorf("live oldest: %w", err)
		}
		live.OldestUnassigned[dept] = t
	}
	if err := rows.Err(); err != nil {
		return live, fmt.Errorf("live oldest: %w", err)
	}
	var breached []struct {
		DepartmentID string
		N            int
	}
	g = db.gorm.WithContext(ctx).Model(&caseRow{})
	if err := g.Select("department_id, COUNT(*) AS n").Where(openCases+" AND sla_paused_at IS NULL AND sla_due_at <= ?", now.UTC()).
		Group("department_id").Scan(&breached).Error; err != nil {
		return live, fmt.Errorf("live breached: %w", err)
	}
	for _, b := range breached {
		live.Breached[b.DepartmentID] = b.N
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
