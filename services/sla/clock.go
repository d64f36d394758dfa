package sla

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sportello/sportello/services/cases"
)

// Policy is a resolution target in working minutes for the cases of a
// department and priority.
type Policy struct {
	Department        string
	Priority          int
	ResolutionMinutes int
}

// PolicySource lists the policies (services/storage).
type PolicySource interface {
	ListSLAPolicies(ctx context.Context) ([]Policy, error)
}

// Clock is the cases.SLAClock of a calendar and a set of policies, which
// it caches for policyTTL so the calls made inside transactions never
// touch the database.
type Clock struct {
	cal    *Calendar
	src    PolicySource
	warnAt float64

	mu       sync.Mutex
	policies map[polKey]time.Duration
	loaded   time.Time
}

type polKey struct {
	dept string
	prio int
}

var _ cases.SLAClock = (*Clock)(nil)

const policyTTL = 30 * time.Second

// NewClock returns a Clock warning at warnAt (0.8 = 80 %) of each target.
func NewClock(cal *Calendar, src PolicySource, warnAt float64) (*Clock, error) {
	if warnAt <= 0 || warnAt > 1 {
		return nil, fmt.Errorf("sla: warning fraction %v outside (0, 1]", warnAt)
	}
	return &Clock{cal: cal, src: src, warnAt: warnAt}, nil
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
	m := make(map[polKey]time.Duration, len(list))
	for _, p := range list {
		m[polKey{p.Department, p.Priority}] = time.Duration(p.ResolutionMinutes) * time.Minute
	}
	c.policies, c.loaded = m, time.Now()
	return nil
}

// Due implements cases.SLAClock.
func (c *Clock) Due(dept string, p cases.Priority, start time.Time) (due, warn time.Time, ok bool, err error) {
	c.mu.Lock()
	target, found := c.policies[polKey{dept, int(p)}]
	c.mu.Unlock()
	if !found {
		return time.Time{}, time.Time{}, false, nil
	}
	due, warn, err = c.cal.Due(start, target, c.warnAt)
	return due.UTC(), warn.UTC(), err == nil, err
}

// Between implements cases.SLAClock.
func (c *Clock) Between(a, b time.Time) time.Duration { return c.cal.Between(a, b) }

// Add implements cases.SLAClock.
func (c *Clock) Add(start time.Time, d time.Duration) (time.Time, error) {
	t, err := c.cal.Add(start, d)
	return t.UTC(), err
}

// Resume implements cases.SLAClock.
func (c *Clock) Resume(deadline, pausedAt, resumedAt time.Time) (time.Time, error) {
	t, err := c.cal.Resume(deadline, pausedAt, resumedAt)
	return t.UTC(), err
}

// DemoPolicies are the resolution targets of the demo organisation, in
// working minutes (a working day is 7 hours).
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
			out = append(out, Policy{Department: dept, Priority: int(cases.PriorityLow) + i, ResolutionMinutes: m})
		}
	}
	return out
}
