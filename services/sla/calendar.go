// Package sla computes service-level deadlines in business time: a
// calendar of working hours and holidays (Italian national holidays, with
// Easter Monday computed per year, plus local ones such as the patron
// saint's day), and deadlines that pause while a case waits for the
// citizen. It is pure computation: no storage, no clock of its own.
package sla

import (
	"errors"
	"fmt"
	"time"
)

// Interval is working time within a day, as wall-clock offsets from
// midnight (09:00–13:00 is {9h, 13h}). Wall clock, so a DST change day
// still works 09:00–13:00.
type Interval struct {
	Start, End time.Duration
}

// Date is a calendar day.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// MonthDay is a holiday that recurs every year ("12-07" Sant'Ambrogio).
type MonthDay struct {
	Month time.Month
	Day   int
}

// Calendar says when the administration works.
type Calendar struct {
	loc      *time.Location
	week     [7][]Interval // by time.Weekday
	national bool
	local    map[MonthDay]bool
	extra    map[Date]bool
}

// Config describes a calendar.
type Config struct {
	Location *time.Location
	// Week is the working intervals of each weekday (index time.Weekday).
	Week [7][]Interval
	// ItalianHolidays closes on Italy's national public holidays.
	ItalianHolidays bool
	// Local holidays every year (the patron saint's day).
	Local []MonthDay
	// Closed lists extra closing days (a bridge day, a strike).
	Closed []Date
}

// OfficeHours is Monday to Friday, 09:00–13:00 and 14:00–17:00.
func OfficeHours() [7][]Interval {
	var w [7][]Interval
	for d := time.Monday; d <= time.Friday; d++ {
		w[d] = []Interval{{9 * time.Hour, 13 * time.Hour}, {14 * time.Hour, 17 * time.Hour}}
	}
	return w
}

// ErrNoWorkingTime is returned for a calendar with no working interval.
var ErrNoWorkingTime = errors.New("calendar has no working time")

// NewCalendar validates cfg.
func NewCalendar(cfg Config) (*Calendar, error) {
	if cfg.Location == nil {
		return nil, errors.New("calendar: location is required")
	}
	c := &Calendar{loc: cfg.Location, week: cfg.Week, national: cfg.ItalianHolidays, local: map[MonthDay]bool{}, extra: map[Date]bool{}}
	working := false
	for d, ivs := range cfg.Week {
		prev := time.Duration(0)
		for _, iv := range ivs {
			if iv.Start < prev || iv.End <= iv.Start || iv.End > 24*time.Hour {
				return nil, fmt.Errorf("calendar: %s: intervals must be ordered, non-empty and within the day", time.Weekday(d))
			}
			prev, working = iv.End, true
		}
	}
	if !working {
		return nil, ErrNoWorkingTime
	}
	for _, md := range cfg.Local {
		c.local[md] = true
	}
	for _, d := range cfg.Closed {
		c.extra[d] = true
	}
	return c, nil
}

// Closed reports whether day is a holiday.
func (c *Calendar) Closed(day Date) bool {
	if c.extra[day] || c.local[MonthDay{day.Month, day.Day}] {
		return true
	}
	return c.national && isItalianHoliday(day)
}

// maxDays bounds every walk through the calendar: a deadline more than ten
// years of days away is a configuration error, not a loop.
const maxDays = 3660

// Add returns the instant at which d of working time has passed after
// start. Add(start, 0) is start if it is working time, else the next start
// of working time.
func (c *Calendar) Add(start time.Time, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, errors.New("calendar: negative duration")
	}
	t := start.In(c.loc)
	for i := 0; i < maxDays; i++ {
		y, m, dd := t.Date()
		if !c.Closed(Date{y, m, dd}) {
			for _, iv := range c.week[t.Weekday()] {
				from := wall(y, m, dd, iv.Start, c.loc)
				to := wall(y, m, dd, iv.End, c.loc)
				if !to.After(t) {
					continue
				}
				if from.Before(t) {
					from = t
				}
				if avail := to.Sub(from); d <= avail {
					return from.Add(d), nil
				} else {
					d -= avail
				}
			}
		}
		t = wall(y, m, dd+1, 0, c.loc)
	}
	return time.Time{}, fmt.Errorf("calendar: deadline more than %d days away", maxDays)
}

// Between returns the working time from a to b (0 if b is not after a).
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	var sum time.Duration
	t := a.In(c.loc)
	for i := 0; i < maxDays && t.Before(b); i++ {
		y, m, dd := t.Date()
		if !c.Closed(Date{y, m, dd}) {
			for _, iv := range c.week[t.Weekday()] {
				from, to := wall(y, m, dd, iv.Start, c.loc), wall(y, m, dd, iv.End, c.loc)
				if from.Before(t) {
					from = t
				}
				if to.After(b) {
					to = b
				}
				if to.After(from) {
					sum += to.Sub(from)
				}
			}
		}
		t = wall(y, m, dd+1, 0, c.loc)
	}
	return sum
}

// wall is the instant of a wall-clock time of day in loc.
func wall(y int, m time.Month, d int, off time.Duration, loc *time.Location) time.Time {
	h, mi := int(off/time.Hour), int(off%time.Hour/time.Minute)
	return time.Date(y, m, d, h, mi, 0, 0, loc)
}

// isItalianHoliday: the national public holidays (L. 260/1949 and later).
func isItalianHoliday(d Date) bool {
	switch (MonthDay{d.Month, d.Day}) {
	case MonthDay{time.January, 1}, MonthDay{time.January, 6}, MonthDay{time.April, 25}, MonthDay{time.May, 1},
		MonthDay{time.June, 2}, MonthDay{time.August, 15}, MonthDay{time.November, 1}, MonthDay{time.December, 8},
		MonthDay{time.December, 25}, MonthDay{time.December, 26}:
		return true
	case MonthDay{time.October, 4}:
		return d.Year >= 2026 // San Francesco, national holiday again from 2026 (L. 151/2025)
	}
	em := EasterMonday(d.Year)
	return d == em
}

// EasterMonday returns Pasquetta of year (Gregorian computus,
// Meeus/Jones/Butcher).
func EasterMonday(year int) Date {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	t := time.Date(year, time.Month(month), day+1, 0, 0, 0, 0, time.UTC)
	return Date{t.Year(), t.Month(), t.Day()}
}
