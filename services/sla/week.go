package sla

import (
	"fmt"
	"strings"
	"time"
)

// DayHours is one working interval of a weekday as configuration and the
// API write it: {"monday", "09:00", "13:00"}.
type DayHours struct {
	Day   string `json:"day"`
	Start string `json:"start"`
	End   string `json:"end"`
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// ParseWeek turns intervals into a calendar week, each day's intervals in
// order; it rejects unknown days, malformed or empty intervals and
// overlaps, naming the offending entry.
func ParseWeek(hours []DayHours) ([7][]Interval, error) {
	var w [7][]Interval
	for i, h := range hours {
		d, ok := weekdays[strings.ToLower(strings.TrimSpace(h.Day))]
		if !ok {
			return w, fmt.Errorf("entry %d: unknown day %q (want monday ... sunday)", i+1, h.Day)
		}
		start, err1 := clockTime(h.Start)
		end, err2 := clockTime(h.End)
		if err1 != nil || err2 != nil {
			return w, fmt.Errorf("entry %d (%s): times must be HH:MM between 00:00 and 24:00", i+1, h.Day)
		}
		if end <= start {
			return w, fmt.Errorf("entry %d (%s): %s is not after %s", i+1, h.Day, h.End, h.Start)
		}
		iv := Interval{start, end}
		day := w[d]
		at := len(day)
		for j, o := range day {
			if iv.Start < o.End && o.Start < iv.End {
				return w, fmt.Errorf("entry %d (%s): %s–%s overlaps another interval", i+1, h.Day, h.Start, h.End)
			}
			if iv.Start < o.Start && at == len(day) {
				at = j
			}
		}
		w[d] = append(day[:at:at], append([]Interval{iv}, day[at:]...)...)
	}
	return w, nil
}

func clockTime(s string) (time.Duration, error) {
	var h, m int
	if n, err := fmt.Sscanf(strings.TrimSpace(s), "%d:%d", &h, &m); err != nil || n != 2 || len(strings.TrimSpace(s)) != 5 {
		return 0, fmt.Errorf("malformed time %q", s)
	}
	if h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time %q out of range", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// FormatWeek is the inverse of ParseWeek.
func FormatWeek(w [7][]Interval) []DayHours {
	var out []DayHours
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		for _, iv := range w[d] {
			out = append(out, DayHours{Day: strings.ToLower(d.String()), Start: hhmm(iv.Start), End: hhmm(iv.End)})
		}
	}
	return out
}

func hhmm(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
