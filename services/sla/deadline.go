package sla

import (
	"fmt"
	"time"
)

// Due returns when a budget of working time started at start runs out,
// and when warnAt (a fraction, 0.8 for 80 %) of it has been used.
func (c *Calendar) Due(start time.Time, budget time.Duration, warnAt float64) (due, warn time.Time, err error) {
	if warnAt <= 0 || warnAt > 1 {
		return time.Time{}, time.Time{}, fmt.Errorf("sla: warning fraction %v outside (0, 1]", warnAt)
	}
	if due, err = c.Add(start, budget); err != nil {
		return time.Time{}, time.Time{}, err
	}
	warn, err = c.Add(start, time.Duration(float64(budget)*warnAt))
	return due, warn, err
}

// Resume moves a deadline after a pause: the working time that was left
// at pausedAt is counted again from resumedAt. A deadline already passed
// at the pause stays passed (it falls due at the next working instant).
func (c *Calendar) Resume(deadline, pausedAt, resumedAt time.Time) (time.Time, error) {
	return c.Add(resumedAt, c.Between(pausedAt, deadline))
}
