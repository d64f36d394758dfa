package storage

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
)

// The reports' rollup (migration 00024). Reports select the cases opened
// in a range, but a case's facts (first reply, resolution, reopening,
// department, deadlines) change long after it was opened, so the figures
// of a past day change. The rollup therefore keeps whole UTC days, each
// recomputed from its cases by RefreshReportRollup when one of them was
// updated since the watermark (found through cases_updated): a full
// recomputation, never an increment, so a day refreshed twice, or by two
// replicas, is counted once. Intake and case updates write nothing more
// than before (no hot rollup row to lock at 5,000 cases/s); the price is
// that a report reads from the cases directly:
//   - the partial days at the edges of its range,
//   - the days with a case updated since the watermark (less the margin
//     that covers clock skew between replicas and transactions that
//     commit late), so a report is exact however stale the rollup,
// The rest comes from report_hours (volume) and report_days (performance,
// with duration histograms: see reporthist.go for the error bound). Open
// outcomes are stored as pending (missed once due) with the day's latest
// deadline; for the days whose deadlines are still ahead of the report's
// hour, one grouped query counts the outcomes not yet due (pendingAhead)
// and takes them off.

// rollupLockID is the PostgreSQL advisory lock of the refresher.
const rollupLockID int64 = relayLockID + 24

const day = 24 * time.Hour

// DefaultRollupMargin is how far before its watermark the refresher and
// the reports look for updated cases.
const DefaultRollupMargin = 2 * time.Minute

// SetReportRollupMargin sets the margin (DefaultRollupMargin when unset):
// cases updated less than the margin before the last refresh are read from
// the cases table, so an update whose transaction commits up to the margin
// late, or whose replica's clock is up to the margin behind, is not lost.
func (db *DB) SetReportRollupMargin(d time.Duration) { db.rollupMargin = &d }

func (db *DB) margin() time.Duration {
	if db.rollupMargin != nil {
		return *db.rollupMargin
	}
	return DefaultRollupMargin
}

// rollupCase is what the reports read of a case.
type rollupCase struct {
	DepartmentID, ChannelKind, Status string
	CreatedAt                         time.Time
	FirstResponseDueAt                *time.Time
	FirstRespondedAt                  *time.Time
	FirstResponseSeconds              *int64
	SLADueAt                          time.Time `gorm:"column:sla_due_at"`
	ResolvedAt                        *time.Time
	ResolutionSeconds                 *int64
	ReopenCount                       int
}

const rollupCols = "department_id, channel_kind, status, created_at, first_response_due_at, first_responded_at, " +
	"first_response_seconds, sla_due_at, resolved_at, resolution_seconds, reopen_count"

// Tally (exported for gorm only) counts cases against the SLA targets. Settled outcomes are known
// for good (a reply was sent, the case was resolved); pending ones (no
// reply yet, open and unresolved) count as missed once their deadline is
// past, so the rollup stores them all with the latest deadline, and a
// reading at an hour counts only those past due.
type Tally struct {
	Created                      int
	FrMet, FrKnown, FrPending    int
	ResMet, ResKnown, ResPending int
}

// never: a deadline at or after it means the case has none (cases.NoDeadline).
var never = cases.NoDeadline.Add(-day)

func isOpen(status string) bool {
	switch status {
	case "new", "open", "pending_citizen", "on_hold":
		return true
	}
	return false
}

// add counts c. With now nil every pending outcome counts (the rollup);
// otherwise only those past due at *now. It returns the latest deadline
// of c's pending outcomes (zero: none).
func (t *Tally) add(c *rollupCase, now *time.Time) time.Time {
	var pendingDue time.Time
	t.Created++
	if due := c.FirstResponseDueAt; due != nil {
		switch {
		case c.FirstRespondedAt != nil:
			t.FrKnown++
			if !c.FirstRespondedAt.After(*due) {
				t.FrMet++
			}
		case now == nil || !due.After(*now):
			t.FrPending++
			pendingDue = *due
		}
	}
	if c.SLADueAt.Before(never) {
		switch {
		case c.ResolvedAt != nil:
			t.ResKnown++
			if !c.ResolvedAt.After(c.SLADueAt) {
				t.ResMet++
			}
		case !isOpen(c.Status):
		case now == nil || !c.SLADueAt.After(*now):
			t.ResPending++
			if c.SLADueAt.After(pendingDue) {
				pendingDue = c.SLADueAt
			}
		}
	}
	return pendingDue
}

func (t *Tally) plus(o Tally) {
	t.Created += o.Created
	t.FrMet, t.FrKnown, t.FrPending = t.FrMet+o.FrMet, t.FrKnown+o.FrKnown, t.FrPending+o.FrPending
	t.ResMet, t.ResKnown, t.ResPending = t.ResMet+o.ResMet, t.ResKnown+o.ResKnown, t.ResPending+o.ResPending
}

type reportHourRow struct {
	HourStart    time.Time
	DepartmentID string
	ChannelKind  string
	Tally        `gorm:"embedded"`
}

func (reportHourRow) TableName() string { return "report_hours" }

type reportDayRow struct {
	DayStart           time.Time
	DepartmentID       string
	Tally              `gorm:"embedded"`
	Resolved, Reopened int
	PendingUntil       *time.Time
	FrHist, ResHist    []byte
}

func (reportDayRow) TableName() string { return "report_days" }

type hourKey struct {
	hour          int64
	dept, channel string
}

// dayFigures is one UTC day's rollup, computed from its cases.
type dayFigures struct {
	hours map[hourKey]*Tally
	depts map[string]*deptFigures
}

type deptFigures struct {
	Tally
	resolved, reopened int
	pendingUntil       time.Time
	fr, res            hist
}

// readCases reads the report columns of the cases opened in spans, of
// departments (nil: all), and hands each to fn.
func (db *DB) readCases(ctx context.Context, spans []span, departments []string, fn func(*rollupCase)) error {
	if len(spans) == 0 {
		return nil
	}
	q := db.gorm.WithContext(ctx).Model(&caseRow{}).Select(rollupCols)
	q = q.Where(spansWhere(db.gorm, "created_at", spans))
	if departments != nil {
		q = q.Where("department_id IN ?", departments)
	}
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		c                  rollupCase
		frDue, frAt, resAt sql.NullTime
		frSecs, resSecs    sql.NullInt64
	)
	ptr := func(t sql.NullTime) *time.Time {
		if !t.Valid {
			return nil
		}
		u := t.Time.UTC()
		return &u
	}
	num := func(n sql.NullInt64) *int64 {
		if !n.Valid {
			return nil
		}
		return &n.Int64
	}
	for rows.Next() {
		if err := rows.Scan(&c.DepartmentID, &c.ChannelKind, &c.Status, &c.CreatedAt, &frDue, &frAt, &frSecs, &c.SLADueAt,
			&resAt, &resSecs, &c.ReopenCount); err != nil {
			return err
		}
		c.CreatedAt, c.SLADueAt = c.CreatedAt.UTC(), c.SLADueAt.UTC()
		c.FirstResponseDueAt, c.FirstRespondedAt, c.ResolvedAt = ptr(frDue), ptr(frAt), ptr(resAt)
		c.FirstResponseSeconds, c.ResolutionSeconds = num(frSecs), num(resSecs)
		fn(&c)
	}
	return rows.Err()
}

// span is [from, to).
type span [2]time.Time

func spansWhere(g *gorm.DB, col string, spans []span) *gorm.DB {
	w := g.Where(col+" >= ? AND "+col+" < ?", spans[0][0].UTC(), spans[0][1].UTC())
	for _, s := range spans[1:] {
		w = w.Or(col+" >= ? AND "+col+" < ?", s[0].UTC(), s[1].UTC())
	}
	return w
}

func (db *DB) computeDay(ctx context.Context, d time.Time) (*dayFigures, error) {
	f := &dayFigures{hours: map[hourKey]*Tally{}, depts: map[string]*deptFigures{}}
	err := db.readCases(ctx, []span{{d, d.Add(day)}}, nil, func(c *rollupCase) {
		k := hourKey{c.CreatedAt.UTC().Truncate(time.Hour).Unix(), c.DepartmentID, c.ChannelKind}
		h := f.hours[k]
		if h == nil {
			h = &Tally{}
			f.hours[k] = h
		}
		h.add(c, nil)
		dp := f.depts[c.DepartmentID]
		if dp == nil {
			dp = &deptFigures{}
			f.depts[c.DepartmentID] = dp
		}
		if due := dp.add(c, nil); due.After(dp.pendingUntil) {
			dp.pendingUntil = due
		}
		if c.ResolvedAt != nil || c.ReopenCount > 0 {
			dp.resolved++
		}
		if c.ReopenCount > 0 {
			dp.reopened++
		}
		if c.FirstResponseSeconds != nil {
			dp.fr.add(*c.FirstResponseSeconds)
		}
		if c.ResolutionSeconds != nil {
			dp.res.add(*c.ResolutionSeconds)
		}
	})
	return f, err
}

// storeDay replaces day d's rows with f.
func storeDay(tx *gorm.DB, d time.Time, f *dayFigures) error {
	if err := tx.Where("hour_start >= ? AND hour_start < ?", d, d.Add(day)).Delete(&reportHourRow{}).Error; err != nil {
		return err
	}
	if err := tx.Where("day_start = ?", d).Delete(&reportDayRow{}).Error; err != nil {
		return err
	}
	hours := make([]reportHourRow, 0, len(f.hours))
	for k, t := range f.hours {
		hours = append(hours, reportHourRow{HourStart: time.Unix(k.hour, 0).UTC(), DepartmentID: k.dept, ChannelKind: k.channel, Tally: *t})
	}
	if len(hours) > 0 {
		if err := tx.CreateInBatches(hours, 500).Error; err != nil {
			return err
		}
	}
	days := make([]reportDayRow, 0, len(f.depts))
	for dept, dp := range f.depts {
		r := reportDayRow{DayStart: d, DepartmentID: dept, Tally: dp.Tally, Resolved: dp.resolved, Reopened: dp.reopened,
			FrHist: dp.fr.encode(), ResHist: dp.res.encode()}
		if !dp.pendingUntil.IsZero() {
			u := dp.pendingUntil.UTC()
			r.PendingUntil = &u
		}
		days = append(days, r)
	}
	if len(days) > 0 {
		return tx.CreateInBatches(days, 200).Error
	}
	return nil
}

// dayNumber is the SQL of created_at's UTC day, in days since 1970.
func (db *DB) dayNumber() string {
	if db.dialect == Postgres {
		return "floor(date_part('epoch', created_at) / 86400)::bigint"
	}
	return "CAST(strftime('%s', created_at) AS INTEGER) / 86400"
}

// rollupWatermark is the last refresh's start, nil before the first.
func rollupWatermark(g *gorm.DB) (*time.Time, error) {
	var w any
	if err := g.Raw("SELECT watermark FROM report_rollup_state WHERE id = 1").Row().Scan(&w); err != nil {
		return nil, fmt.Errorf("report rollup watermark: %w", err)
	}
	if w == nil {
		return nil, nil
	}
	t, err := dbTime(w)
	if err != nil {
		return nil, fmt.Errorf("report rollup watermark: %w", err)
	}
	return &t, nil
}

// dirtyDays returns the UTC days in [from, to) with a case updated at or
// after since; every day with a case when since is nil. Whatever the
// departments of a report: a case transferred out of a department since
// the last refresh no longer names it, yet its day's rollup still counts
// it there.
func (db *DB) dirtyDays(g *gorm.DB, since *time.Time, from, to time.Time) ([]time.Time, error) {
	q := g.Model(&caseRow{}).Distinct(db.dayNumber())
	if since != nil {
		q = q.Where("updated_at >= ?", since.UTC())
	}
	if !from.IsZero() {
		q = q.Where("created_at >= ? AND created_at < ?", from.UTC(), to.UTC())
	}
	var nums []int64
	if err := q.Scan(&nums).Error; err != nil {
		return nil, fmt.Errorf("report rollup dirty days: %w", err)
	}
	out := make([]time.Time, len(nums))
	for i, n := range nums {
		out[i] = time.Unix(n*86400, 0).UTC()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// RefreshReportRollup recomputes the rollup's days that have a case
// updated since the last refresh (every day on the first run), and returns
// how many. On PostgreSQL it runs in one transaction holding an advisory
// lock, so one replica refreshes at a time (another returns 0 at once) and
// readers see the days and the new watermark together; on SQLite each day
// is replaced in its own short write transaction, so intake waits at most
// for one day.
func (db *DB) RefreshReportRollup(ctx context.Context) (int, error) {
	return db.refreshRollup(ctx, 0)
}

// SweepReportRollup recomputes the rollup's days that have a case updated
// in the last lookback (plus the margin), whatever the watermark, and
// leaves the watermark alone. The refresh trusts that a case's updated_at
// is committed within the margin; a transaction that committed later (a
// long lock wait) or a replica whose clock is behind by more than the
// margin would leave its day stale in the rollup for good. A periodic
// sweep (services/reports.Refresher) bounds that to its interval.
func (db *DB) SweepReportRollup(ctx context.Context, lookback time.Duration) (int, error) {
	return db.refreshRollup(ctx, lookback)
}

// refreshRollup is RefreshReportRollup (lookback 0) or SweepReportRollup.
func (db *DB) refreshRollup(ctx context.Context, lookback time.Duration) (int, error) {
	start := time.Now().UTC()
	n := 0
	run := func(g *gorm.DB, perDay func(func(tx *gorm.DB) error) error) error {
		w, err := rollupWatermark(g)
		if err != nil {
			return err
		}
		if w == nil && lookback > 0 {
			return nil // never built: the next refresh builds every day
		}
		if lookback > 0 {
			since := start.Add(-lookback - db.margin())
			w = &since
		} else if w != nil {
			since := w.Add(-db.margin())
			w = &since
		}
		days, err := db.dirtyDays(g, w, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		for _, d := range days {
			f, err := db.computeDay(ctx, d)
			if err != nil {
				return fmt.Errorf("report rollup %s: %w", d.Format(time.DateOnly), err)
			}
			if err := perDay(func(tx *gorm.DB) error { return storeDay(tx, d, f) }); err != nil {
				return fmt.Errorf("report rollup %s: %w", d.Format(time.DateOnly), err)
			}
			n++
		}
		if lookback > 0 {
			return nil
		}
		return g.Exec("UPDATE report_rollup_state SET watermark = ? WHERE id = 1", start).Error
	}
	if db.dialect == SQLite {
		g := db.gorm.WithContext(ctx)
		return n, run(g, func(fn func(tx *gorm.DB) error) error { return g.Transaction(fn) })
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var got bool
		if err := tx.Raw("SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema(), ?))", rollupLockID).Scan(&got).Error; err != nil || !got {
			return err
		}
		return run(tx, func(fn func(tx *gorm.DB) error) error { return fn(tx) })
	})
	if err != nil {
		return 0, fmt.Errorf("refresh report rollup: %w", err)
	}
	return n, nil
}

// reportPlan splits a report's range between the rollup and the cases.
type reportPlan struct {
	live   []span // read from cases
	rollup []span // whole UTC days read from the rollup
	// days holds the rollup's day rows of the rollup spans, when asked for.
	days []reportDayRow
	// ahead are the rollup days with pending outcomes whose deadline is
	// still ahead: the rollup counts them as missed, so the cases of these
	// days not yet due are counted (pendingAhead) and taken off.
	ahead []span
}

// plan decides where each part of [f.From, f.To) is read from (see the
// top of this file). withHists reads the day rows' histograms too.
func (db *DB) plan(ctx context.Context, from, to time.Time, departments []string, now time.Time, withHists bool) (reportPlan, error) {
	g := db.gorm.WithContext(ctx)
	whole := reportPlan{live: []span{{from, to}}}
	d0, d1 := from.UTC().Add(day-1).Truncate(day), to.UTC().Truncate(day)
	if !d0.Before(d1) {
		return whole, nil
	}
	w, err := rollupWatermark(g)
	if err != nil || w == nil {
		return whole, err
	}
	since := w.Add(-db.margin())
	dirty, err := db.dirtyDays(g, &since, d0, d1)
	if err != nil {
		return whole, err
	}
	liveDay := map[int64]bool{}
	for _, d := range dirty {
		liveDay[d.Unix()] = true
	}
	cols := "day_start, department_id, created, fr_met, fr_known, fr_pending, res_met, res_known, res_pending, resolved, reopened, pending_until"
	if withHists {
		cols += ", fr_hist, res_hist"
	}
	q := g.Model(&reportDayRow{}).Select(cols).Where("day_start >= ? AND day_start < ?", d0, d1)
	if departments != nil {
		q = q.Where("department_id IN ?", departments)
	}
	var rows []reportDayRow
	if err := q.Scan(&rows).Error; err != nil {
		return whole, fmt.Errorf("report rollup days: %w", err)
	}
	var p reportPlan
	aheadDay := map[int64]bool{}
	for _, r := range rows {
		if r.PendingUntil != nil && r.PendingUntil.After(now) {
			aheadDay[r.DayStart.UTC().Unix()] = true
		}
	}
	addSpan := func(list *[]span, s span) {
		if n := len(*list); n > 0 && (*list)[n-1][1].Equal(s[0]) {
			(*list)[n-1][1] = s[1]
			return
		}
		*list = append(*list, s)
	}
	if from.Before(d0) {
		addSpan(&p.live, span{from, d0})
	}
	for d := d0; d.Before(d1); d = d.Add(day) {
		switch {
		case liveDay[d.Unix()]:
			addSpan(&p.live, span{d, d.Add(day)})
		case aheadDay[d.Unix()]:
			addSpan(&p.ahead, span{d, d.Add(day)})
			fallthrough
		default:
			addSpan(&p.rollup, span{d, d.Add(day)})
		}
	}
	if d1.Before(to) {
		addSpan(&p.live, span{d1, to})
	}
	for _, r := range rows {
		if !liveDay[r.DayStart.UTC().Unix()] {
			p.days = append(p.days, r)
		}
	}
	return p, nil
}

// pendingAhead counts, in the ahead spans of p, the pending outcomes whose
// deadline is after now (the rollup counted them as missed), grouped by
// the SQL expression key (an integer; empty: 0), department_id and
// channel_kind, and hands each group to fn.
func (db *DB) pendingAhead(ctx context.Context, p reportPlan, key string, keyArgs []any, departments []string, now time.Time,
	fn func(key int64, dept, channel string, fr, res int)) error {
	if len(p.ahead) == 0 {
		return nil
	}
	if key == "" {
		key = "0"
	}
	args := append(keyArgs, now.UTC(), never, now.UTC())
	q := db.gorm.WithContext(ctx).Model(&caseRow{}).
		Select(key+" AS k, department_id, channel_kind, "+
			"SUM(CASE WHEN first_responded_at IS NULL AND first_response_due_at > ? THEN 1 ELSE 0 END), "+
			"SUM(CASE WHEN resolved_at IS NULL AND "+openCases+" AND sla_due_at < ? AND sla_due_at > ? THEN 1 ELSE 0 END)", args...).
		Where(spansWhere(db.gorm, "created_at", p.ahead))
	if departments != nil {
		q = q.Where("department_id IN ?", departments)
	}
	rows, err := q.Group("1, department_id, channel_kind").Rows()
	if err != nil {
		return fmt.Errorf("report pending outcomes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k             int64
			dept, channel string
			fr, res       int
		)
		if err := rows.Scan(&k, &dept, &channel, &fr, &res); err != nil {
			return fmt.Errorf("report pending outcomes: %w", err)
		}
		fn(k, dept, channel, fr, res)
	}
	return rows.Err()
}
