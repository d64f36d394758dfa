package cases

import (
	"context"
	"time"
)

// SLAClock computes resolution deadlines; services/sla provides it. Its
// methods are called inside store transactions, so they must not block
// (Prepare loads what they need beforehand).
type SLAClock interface {
	// Prepare makes sure the policies are loaded; call it before a
	// transaction that may compute deadlines.
	Prepare(ctx context.Context) error
	// Due returns the deadline and warning instant of a case of dept and
	// priority opened at start; ok is false when no policy applies.
	Due(dept string, p Priority, start time.Time) (due, warn time.Time, ok bool, err error)
	// Resume moves a deadline after a pause from pausedAt to resumedAt.
	Resume(deadline, pausedAt, resumedAt time.Time) (time.Time, error)
	// Between is the working time from a to b.
	Between(a, b time.Time) time.Duration
	// Add is start plus d of working time.
	Add(start time.Time, d time.Duration) (time.Time, error)
}

// Paused reports whether the SLA clock stops in status s: the case is
// waiting for the citizen or put on hold.
func (s Status) Paused() bool { return s == StatusPendingCitizen || s == StatusOnHold }

// ApplySLA keeps c's deadline in step with a status change from before,
// at now: entering a paused status stops the clock, leaving it moves the
// deadline and the warning by the working time spent paused.
func ApplySLA(c *Case, before Status, now time.Time, clock SLAClock) error {
	if clock == nil || c.SLADueAt.Equal(NoDeadline) || c.SLADueAt.IsZero() {
		return nil
	}
	switch {
	case !before.Paused() && c.Status.Paused():
		c.SLAPausedAt = now
	case before.Paused() && !c.Status.Paused() && !c.SLAPausedAt.IsZero():
		due, err := clock.Resume(c.SLADueAt, c.SLAPausedAt, now)
		if err != nil {
			return err
		}
		warn, err := clock.Resume(c.SLAWarnAt, c.SLAPausedAt, now)
		if err != nil {
			return err
		}
		c.SLAPausedFor += clock.Between(c.SLAPausedAt, now)
		c.SLADueAt, c.SLAWarnAt, c.SLAPausedAt = due, warn, time.Time{}
	}
	return nil
}

// RetargetSLA recomputes c's deadline after its department or priority
// changed: created + the new target + the working time spent paused. The
// warning and breach become due again if they now lie ahead of now.
func RetargetSLA(c *Case, now time.Time, clock SLAClock) error {
	if clock == nil {
		return nil
	}
	due, warn, ok, err := clock.Due(c.Department, c.Priority, c.CreatedAt)
	if err != nil {
		return err
	}
	if !ok {
		c.SLADueAt, c.SLAWarnAt = NoDeadline, time.Time{}
		return nil
	}
	if c.SLAPausedFor > 0 {
		if due, err = clock.Add(due, c.SLAPausedFor); err != nil {
			return err
		}
		if warn, err = clock.Add(warn, c.SLAPausedFor); err != nil {
			return err
		}
	}
	if !c.SLAPausedAt.IsZero() {
		// Still paused: the time since the pause is not spent either.
		spent := clock.Between(c.SLAPausedAt, now)
		if due, err = clock.Add(due, spent); err != nil {
			return err
		}
		if warn, err = clock.Add(warn, spent); err != nil {
			return err
		}
	}
	c.SLADueAt, c.SLAWarnAt = due, warn
	if now.Before(warn) {
		c.SLAWarned = false
	}
	if now.Before(due) {
		c.SLABreached = false
	}
	return nil
}

// SLAState is how a case stands against its deadline at now.
type SLAState string

const (
	SLANone     SLAState = "none"
	SLAOK       SLAState = "ok"
	SLAWarning  SLAState = "warning"
	SLABreached SLAState = "breached"
	SLAPaused   SLAState = "paused"
)

// SLAStateAt classifies c at now.
func (c Case) SLAStateAt(now time.Time) SLAState {
	switch {
	case c.SLADueAt.IsZero() || c.SLADueAt.Equal(NoDeadline) || !c.Status.Open():
		return SLANone
	case !c.SLAPausedAt.IsZero():
		return SLAPaused
	case !now.Before(c.SLADueAt):
		return SLABreached
	case !now.Before(c.SLAWarnAt):
		return SLAWarning
	}
	return SLAOK
}

// SLATick is the timer's Mutation at now: it announces the warning and the
// breach once each. The flags it sets are written in the same conditional
// update as the event, so replicas running the timer together cannot
// announce twice.
func SLATick(now time.Time) Mutation {
	return func(c *Case) ([]Event, error) {
		if !c.Status.Open() || !c.SLAPausedAt.IsZero() || c.SLADueAt.Equal(NoDeadline) || c.SLADueAt.IsZero() {
			return nil, nil
		}
		var evs []Event
		due := map[string]Change{"sla_due": {After: c.SLADueAt.UTC().Format(time.RFC3339)}}
		if !c.SLAWarned && !now.Before(c.SLAWarnAt) {
			c.SLAWarned = true
			evs = append(evs, Event{Type: EventSLAWarning, Actor: SystemActor, Changes: due})
		}
		if !c.SLABreached && !now.Before(c.SLADueAt) {
			c.SLABreached = true
			evs = append(evs, Event{Type: EventSLABreached, Actor: SystemActor, Changes: due})
		}
		return evs, nil
	}
}

// SLAScanner finds cases the timer must look at. services/storage
// implements it.
type SLAScanner interface {
	// CasesDueForSLA returns up to limit ids of open, running cases whose
	// warning or deadline has passed at now and was not announced yet.
	CasesDueForSLA(ctx context.Context, now time.Time, limit int) ([]string, error)
}
