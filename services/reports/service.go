package reports

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sportello/sportello/auth"
)

// MaxRange bounds a report's date range.
const MaxRange = 366 * 24 * time.Hour

// DefaultRange is a report's range when the request gives no start.
const DefaultRange = 7 * 24 * time.Hour

// Reporter applies the rules common to every report: who may see which
// departments, the default and maximum range, and days in the
// administration's time zone.
type Reporter struct {
	Store Store
	// Location is the time zone of the days of the reports.
	Location *time.Location
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// Scope returns the departments p may read a report of: dept alone if p
// supervises it (ErrPermissionDenied otherwise), or all of p's departments
// when dept is "" (nil for an administrator or a service account: all).
func Scope(p auth.Principal, dept string) ([]string, error) {
	if dept != "" {
		if !p.InDepartment(dept) {
			return nil, fmt.Errorf("%w: you do not supervise department %q", ErrPermissionDenied, dept)
		}
		return []string{dept}, nil
	}
	if p.AllDepartments() {
		return nil, nil
	}
	if p.Departments == nil {
		return []string{}, nil
	}
	return slices.Clone(p.Departments), nil
}

// Filter checks a request's range and scope: start and end may be zero
// (the last DefaultRange up to now).
func (r *Reporter) Filter(p auth.Principal, dept string, start, end time.Time) (Filter, error) {
	depts, err := Scope(p, dept)
	if err != nil {
		return Filter{}, err
	}
	now := r.now()
	if end.IsZero() {
		end = now
	}
	if start.IsZero() {
		start = end.Add(-DefaultRange)
	}
	if !end.After(start) {
		return Filter{}, fmt.Errorf("%w: end_time must be after start_time", ErrInvalidArgument)
	}
	if end.Sub(start) > MaxRange {
		return Filter{}, fmt.Errorf("%w: the range is longer than 366 days", ErrInvalidArgument)
	}
	return Filter{From: start.UTC(), To: end.UTC(), Departments: depts, Now: now}, nil
}

// Volume returns the buckets of f, hourly or by day of r.Location, in
// order of start, department, channel.
func (r *Reporter) Volume(ctx context.Context, f Filter, daily bool) ([]Bucket, error) {
	if daily {
		f.Days = r.Location
		if f.Days == nil {
			f.Days = time.UTC
		}
	}
	hours, err := r.Store.Buckets(ctx, f)
	if err != nil {
		return nil, err
	}
	if !daily {
		return hours, nil
	}
	type key struct {
		start         time.Time
		dept, channel string
	}
	days := map[key]*Bucket{}
	var order []key
	for _, h := range hours {
		k := key{r.DayStart(h.Start), h.Department, h.Channel}
		b, ok := days[k]
		if !ok {
			b = &Bucket{Start: k.start, Department: h.Department, Channel: h.Channel}
			days[k] = b
			order = append(order, k)
		}
		b.Created += h.Created
		b.FirstResponse = b.FirstResponse.Add(h.FirstResponse)
		b.Resolution = b.Resolution.Add(h.Resolution)
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if !a.start.Equal(b.start) {
			return a.start.Before(b.start)
		}
		if a.dept != b.dept {
			return a.dept < b.dept
		}
		return a.channel < b.channel
	})
	out := make([]Bucket, len(order))
	for i, k := range order {
		out[i] = *days[k]
	}
	return out, nil
}

// DayStart is the start (UTC) of t's day in r.Location.
func (r *Reporter) DayStart(t time.Time) time.Time {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
}

// Summaries returns the summaries of f, the total first.
func (r *Reporter) Summaries(ctx context.Context, f Filter) ([]Summary, error) {
	return r.Store.Summaries(ctx, f)
}

// Backlog returns the backlog of the departments now.
func (r *Reporter) Backlog(ctx context.Context, departments []string) ([]Backlog, time.Time, error) {
	now := r.now()
	b, err := r.Store.Backlog(ctx, departments, now)
	return b, now, err
}

// Operators returns the operators' load in f.
func (r *Reporter) Operators(ctx context.Context, f Filter) ([]OperatorLoad, error) {
	return r.Store.Operators(ctx, f)
}
