package cases

import (
	"context"
	"time"
)

// SLAClock computes deadlines in a department's business time;
// services/sla provides it. Its methods are called inside store
// transactions, so they must not block (Prepare loads what they need
// beforehand).
type SLAClock interface {
	// Prepare makes sure the policies and calendars are loaded; call it
	// before a transaction that may compute deadlines.
	Prepare(ctx context.Context) error
	// Due returns the deadlines of a case of dept and priority opened at
	// start; ok is false when no policy applies.
	Due(dept string, p Priority, start time.Time) (d Deadlines, ok bool, err error)
	// Resume moves a deadline after a pause from pausedAt to resumedAt.
	Resume(dept string, deadline, pausedAt, resumedAt time.Time) (time.Time, error)
	// Between is the working time from a to b.
	Between(dept string, a, b time.Time) time.Duration
	// Add is start plus d of working time.
	Add(dept string, start time.Time, d time.Duration) (time.Time, error)
}

// Deadlines are what a policy sets on a case.
type Deadlines struct {
	Resolution, Warning time.Time
	// FirstResponse is zero when the policy has no first-response target.
	FirstResponse time.Time
}

// Paused reports whether the SLA clock stops in status s: the case is
// waiting for the citizen or put on hold.
func (s Status) Paused() bool { return s == StatusPendingCitizen || s == StatusOnHold }

// ApplySLA keeps c's deadlines in step with a status change from before,
// at now: entering a paused status stops the clock, leaving it moves the
// deadlines (resolution, warning, a first response still owed) by the
// working time spent paused.
func ApplySLA(c *Case, before Status, now time.Time, clock SLAClock) error {
	if clock == nil || c.SLADueAt.Equal(NoDeadline) || c.SLADueAt.IsZero() {
		return nil
	}
	switch {
	case !before.Paused() && c.Status.Paused():
		c.SLAPausedAt = now
	case before.Paused() && !c.Status.Paused() && !c.SLAPausedAt.IsZero():
		shift := func(t *time.Time) error {
			if t.IsZero() {
				return nil
			}
			moved, err := clock.Resume(c.Department, *t, c.SLAPausedAt, now)
			*t = moved
			return err
		}
		if err := shift(&c.SLADueAt); err != nil {
			return err
		}
		if err := shift(&c.SLAWarnAt); err != nil {
			return err
		}
		if c.FirstRespondedAt.IsZero() {
			if err := shift(&c.FirstResponseDueAt); err != nil {
				return err
			}
		}
		c.SLAPausedFor += clock.Between(c.Department, c.SLAPausedAt, now)
		c.SLAPausedAt = time.Time{}
	}
	return nil
}

// RetargetSLA recomputes c's deadlines after its department or priority
// changed: created + the new target + the working time spent paused. The
// warning and breaches become due again if they now lie ahead of now.
func RetargetSLA(c *Case, now time.Time, clock SLAClock) error {
	if clock == nil {
		return nil
	}
	d, ok, err := clock.Due(c.Department, c.Priority, c.CreatedAt)
	if err != nil {
		return err
	}
	if !ok {
		c.SLADueAt, c.SLAWarnAt = NoDeadline, time.Time{}
		if c.FirstRespondedAt.IsZero() {
			c.FirstResponseDueAt = time.Time{}
		}
		return nil
	}
	// Paused time is not spent: the part already counted, and, while
	// still paused, the time since the pause.
	paused := c.SLAPausedFor
	if !c.SLAPausedAt.IsZero() {
		paused += clock.Between(c.Department, c.SLAPausedAt, now)
	}
	for _, t := range []*time.Time{&d.Resolution, &d.Warning, &d.FirstResponse} {
		if paused > 0 && !t.IsZero() {
			if *t, err = clock.Add(c.Department, *t, paused); err != nil {
				return err
			}
		}
	}
	c.SLADueAt, c.SLAWarnAt = d.Resolution, d.Warning
	if now.Before(d.Warning) {
		c.SLAWarned = false
	}
	if now.Before(d.Resolution) {
		c.SLABreached = false
	}
	if c.FirstRespondedAt.IsZero() {
		c.FirstResponseDueAt = d.FirstResponse
		if d.FirstResponse.IsZero() || now.Before(d.FirstResponse) {
			c.FirstResponseBreached = false
		}
	}
	return nil
}

// Responded records the first reply to the citizen at now.
func (c *Case) Responded(now time.Time) {
	if c.FirstRespondedAt.IsZero() {
		c.FirstRespondedAt = now
	}
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

// FirstResponseStateAt classifies c's first response at now: "met" or
// "missed" once replied, else like SLAStateAt.
func (c Case) FirstResponseStateAt(now time.Time) string {
	switch {
	case c.FirstResponseDueAt.IsZero():
		return string(SLANone)
	case !c.FirstRespondedAt.IsZero():
		if c.FirstRespondedAt.After(c.FirstResponseDueAt) {
			return "missed"
		}
		return "met"
	case !c.Status.Open():
		return string(SLANone)
	case !c.SLAPausedAt.IsZero():
		return string(SLAPaused)
	case !now.Before(c.FirstResponseDueAt):
		return string(SLABreached)
	}
	return string(SLAOK)
}

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

// SLATick is the timer's Mutation at now: it announces the resolution
// warning, the resolution breach and a missed first response once each.
// The flags it sets are written in the same conditional update as the
// event, so replicas running the timer together cannot announce twice.
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
		if !c.FirstResponseBreached && c.FirstRespondedAt.IsZero() && !c.FirstResponseDueAt.IsZero() && !now.Before(c.FirstResponseDueAt) {
			c.FirstResponseBreached = true
			evs = append(evs, Event{Type: EventSLABreached, Actor: SystemActor, Reason: "no first response by the deadline",
				Changes: map[string]Change{"first_response_due": {After: c.FirstResponseDueAt.UTC().Format(time.RFC3339)}}})
		}
		return evs, nil
	}
}

// SLAScanner finds cases the timer must look at. services/storage
// implements it.
type SLAScanner interface {
	// CasesDueForSLA returns up to limit ids of open, running cases whose
	// warning, deadline or first-response deadline has passed at now and
	// was not announced yet.
	CasesDueForSLA(ctx context.Context, now time.Time, limit int) ([]string, error)
}
