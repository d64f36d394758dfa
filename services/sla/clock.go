package sla

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sportello/sportello/services/cases"
)

// Policy is the targets, in working minutes, for the cases of a
// department and priority: the resolution, and the first reply (0 for
// none).
type Policy struct {
	Department           string
	Priority             int
	FirstResponseMinutes int
	ResolutionMinutes    int
}

// PolicySource lists the policies and the departments' own working hours
// (services/storage).
type PolicySource interface {
	ListSLAPolicies(ctx context.Context) ([]Policy, error)
	// DepartmentHours returns the departments that have working hours of
	// their own.
	DepartmentHours(ctx context.Context) (map[string][]DayHours, error)
}

// Clock is the cases.SLAClock of the administration's calendar, the
// departments' working hours and the policies, which it caches for
// policyTTL so the calls made inside transactions never touch the
// database.
type Clock struct {
	base   Config
	cal    *Calendar
	src    PolicySource
	warnAt float64

	mu       sync.Mutex
	policies map[polKey]Policy
	cals     map[string]*Calendar // departments with hours of their own
	loaded   time.Time
}

type polKey struct {
	dept string
	prio int
}

var _ cases.SLAClock = (*Clock)(nil)

const policyTTL = 30 * time.Second

// NewClock returns a Clock on the calendar cfg describes, warning at
// warnAt (0.8 = 80 %) of each resolution target. A department with
// working hours of its own gets cfg with its week.
func NewClock(cfg Config, src PolicySource, warnAt float64) (*Clock, error) {
	if warnAt <= 0 || warnAt > 1 {
		return nil, fmt.Errorf("sla: warning fraction %v outside (0, 1]", warnAt)
	}
	cal, err := NewCalendar(cfg)
	if err != nil {
		return nil, err
	}
	return &Clock{base: cfg, cal: cal, src: src, warnAt: warnAt}, nil
}

// Prepare implements cases.SLAClock.
func (c *Clock) Prepare(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.policies != nil && time.Since(c.loaded) < policyTTL {
		return nil
	}
	list, err := c.src.ListSLAPolicies(ctx)
	if err != nil {
		return fmt.Errorf("load SLA policies: %w", err)
	}
	hours, err := c.src.DepartmentHours(ctx)
	if err != nil {
		return fmt.Errorf("load working hours: %w", err)
	}
	m := make(map[polKey]Policy, len(list))
	for _, p := range list {
		m[polKey{p.Department, p.Priority}] = p
	}
	cals := make(map[string]*Calendar, len(hours))
	for dept, h := range hours {
		week, err := ParseWeek(h)
		if err != nil {
			return fmt.Errorf("working hours of %s: %w", dept, err)
		}
		cfg := c.base
		cfg.Week = week
		if cals[dept], err = NewCalendar(cfg); err != nil {
			return fmt.Errorf("working hours of %s: %w", dept, err)
		}
	}
	c.policies, c.cals, c.loaded = m, cals, time.Now()
	return nil
}

// Invalidate makes the next Prepare reload, after an administrator
// changed policies or working hours on this replica.
func (c *Clock) Invalidate() {
	c.mu.Lock()
	c.policies = nil
	c.mu.Unlock()
}

func (c *Clock) calendar(dept string) *Calendar {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cal, ok := c.cals[dept]; ok {
		return cal
	}
	return c.cal
}

// Due implements cases.SLAClock.
func (c *Clock) Due(dept string, p cases.Priority, start time.Time) (cases.Deadlines, bool, error) {
	c.mu.Lock()
	pol, found := c.policies[polKey{dept, int(p)}]
	c.mu.Unlock()
	if !found {
		return cases.Deadlines{}, false, nil
	}
	cal := c.calendar(dept)
	due, warn, err := cal.Due(start, time.Duration(pol.ResolutionMinutes)*time.Minute, c.warnAt)
	if err != nil {
		return cases.Deadlines{}, false, err
	}
	d := cases.Deadlines{Resolution: due.UTC(), Warning: warn.UTC()}
	if pol.FirstResponseMinutes > 0 {
		fr, err := cal.Add(start, time.Duration(pol.FirstResponseMinutes)*time.Minute)
		if err != nil {
			return cases.Deadlines{}, false, err
		}
		d.FirstResponse = fr.UTC()
	}
	return d, true, nil
}

// Between implements cases.SLAClock.
func (c *Clock) Between(dept string, a, b time.Time) time.Duration {
	return c.calendar(dept).Between(a, b)
}

// Add implements cases.SLAClock.
func (c *Clock) Add(dept string, start time.Time, d time.Duration) (time.Time, error) {
	t, err := c.calendar(dept).Add(start, d)
	return t.UTC(), err
}

// Resume implements cases.SLAClock.
func (c *Clock) Resume(dept string, deadline, pausedAt, resumedAt time.Time) (time.Time, error) {
	t, err := c.calendar(dept).Resume(deadline, pausedAt, resumedAt)
	return t.UTC(), err
}

// DemoPolicies are the targets of the demo organisation, in working
// minutes (a working day is 7 hours): a first reply within a fifth of the
// resolution target, at most one working day.
func DemoPolicies() []Policy {
	const day = 7 * 60
	targets := map[string][4]int{ // low, normal, high, urgent
		"statistics":    {10 * day, 5 * day, 2 * day, day},
		"communication": {5 * day, 2 * day, day, 3 * 60},
		"it":            {5 * day, 3 * day, day, 4 * 60},
		"triage":        {2 * day, day, day / 2, 2 * 60},
	}
	var out []Policy
	for dept, t := range targets {
		for i, m := range t {
			out = append(out, Policy{Department: dept, Priority: int(cases.PriorityLow) + i, ResolutionMinutes: m,
				FirstResponseMinutes: min(m/5, day)})
		}
	}
	return out
}
