package sla

import (
	"math/rand/v2"
	"testing"
	"time"
)

var rome, _ = time.LoadLocation("Europe/Rome")

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, rome)
	if err != nil {
		panic(err)
	}
	return t
}

func office(t *testing.T, local ...MonthDay) *Calendar {
	t.Helper()
	c, err := NewCalendar(Config{Location: rome, Week: OfficeHours(), ItalianHolidays: true, Local: local})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAdd(t *testing.T) {
	c := office(t, MonthDay{time.December, 7}) // Sant'Ambrogio, Milan
	tests := []struct {
		name  string
		start string
		d     time.Duration
		want  string
	}{
		{"within the morning", "2026-11-23 09:30", time.Hour, "2026-11-23 10:30"},
		{"across lunch", "2026-11-23 12:00", 2 * time.Hour, "2026-11-23 15:00"},
		{"starting at lunch", "2026-11-23 13:30", time.Hour, "2026-11-23 15:00"},
		{"ends exactly at closing", "2026-11-23 16:00", time.Hour, "2026-11-23 17:00"},
		{"over the weekend", "2026-11-27 16:00", 2 * time.Hour, "2026-11-30 10:00"},
		{"started on Saturday", "2026-11-28 11:00", time.Hour, "2026-11-30 10:00"},
		{"started at night", "2026-11-23 22:00", 0, "2026-11-24 09:00"},
		{"a working week", "2026-11-23 09:00", 35 * time.Hour, "2026-11-27 17:00"},
		{"Easter Monday 2026", "2026-04-03 16:00", 2 * time.Hour, "2026-04-07 10:00"},
		{"2 June 2026 (Tuesday)", "2026-06-01 16:00", 2 * time.Hour, "2026-06-03 10:00"},
		{"Christmas and Santo Stefano", "2026-12-24 16:00", 2 * time.Hour, "2026-12-28 10:00"},
		{"patron saint (7 December 2026, Monday)", "2026-12-04 16:00", 2 * time.Hour, "2026-12-09 10:00"},
		{"Immacolata follows the patron", "2026-12-04 16:00", 8 * time.Hour, "2026-12-09 17:00"},
		{"San Francesco 2027 (Monday)", "2027-10-01 16:00", 2 * time.Hour, "2027-10-05 10:00"},
		{"DST starts (29 March 2026)", "2026-03-27 16:00", 2 * time.Hour, "2026-03-30 10:00"},
		{"DST ends (25 October 2026)", "2026-10-23 16:00", 2 * time.Hour, "2026-10-26 10:00"},
	}
	for _, tt := range tests {
		got, err := c.Add(at(tt.start), tt.d)
		if err != nil || !got.Equal(at(tt.want)) {
			t.Errorf("%s: Add(%s, %v) = %s, %v; want %s", tt.name, tt.start, tt.d, got.In(rome).Format("2006-01-02 15:04 MST"), err, tt.want)
		}
	}
}

func TestRoundTheClockAcrossDST(t *testing.T) {
	var week [7][]Interval
	for d := range week {
		week[d] = []Interval{{0, 24 * time.Hour}}
	}
	c, err := NewCalendar(Config{Location: rome, Week: week})
	if err != nil {
		t.Fatal(err)
	}
	// 28 March 2026 23:00 CET + 3h of working time: the night loses an
	// hour, so the clock reads 03:00 CEST.
	got, _ := c.Add(at("2026-03-28 23:00"), 3*time.Hour)
	if want := time.Date(2026, 3, 29, 3, 0, 0, 0, rome); !got.Equal(want) || got.Sub(at("2026-03-28 23:00")) != 3*time.Hour {
		t.Fatalf("across spring DST = %v, want %v", got, want)
	}
	if b := c.Between(at("2026-10-24 12:00"), at("2026-10-25 12:00")); b != 25*time.Hour {
		t.Fatalf("the autumn DST day has 25 hours, got %v", b)
	}
}

func TestItalianHolidays(t *testing.T) {
	for _, d := range []Date{{2024, 4, 1}, {2025, 4, 21}, {2026, 4, 6}, {2027, 3, 29}, {2000, 4, 24}, {2038, 4, 26}} {
		if got := EasterMonday(d.Year); got != d {
			t.Errorf("EasterMonday(%d) = %v, want %v", d.Year, got, d)
		}
	}
	c := office(t)
	for d, want := range map[Date]bool{
		{2026, 4, 25}: true, {2026, 5, 1}: true, {2026, 8, 15}: true, {2026, 11, 1}: true, {2026, 1, 6}: true,
		{2026, 10, 4}: true, {2024, 10, 4}: false, {2026, 11, 23}: false, {2026, 4, 7}: false,
	} {
		if c.Closed(d) != want {
			t.Errorf("Closed(%v) = %v, want %v", d, !want, want)
		}
	}
}

func TestDueAndResume(t *testing.T) {
	c := office(t)
	due, warn, err := c.Due(at("2026-11-23 09:00"), 10*time.Hour, 0.8)
	// 10h: Monday 7h + Tuesday 3h → Tue 12:00; 80 % = 8h → Tue 10:00.
	if err != nil || !due.Equal(at("2026-11-24 12:00")) || !warn.Equal(at("2026-11-24 10:00")) {
		t.Fatalf("Due = %v, %v, %v", due, warn, err)
	}
	// Paused Monday 12:00 with 7h left (12–13, 14–17, Tue 9–12); resumed
	// Thursday 09:00: due Thursday 17:00.
	got, err := c.Resume(due, at("2026-11-23 12:00"), at("2026-11-26 09:00"))
	if err != nil || !got.Equal(at("2026-11-26 17:00")) {
		t.Fatalf("Resume = %v, %v", got, err)
	}
	// Paused after the deadline: due again at the next working instant.
	got, _ = c.Resume(due, at("2026-11-25 10:00"), at("2026-11-25 18:00"))
	if !got.Equal(at("2026-11-26 09:00")) {
		t.Fatalf("Resume after breach = %v", got)
	}
	if _, _, err := c.Due(at("2026-11-23 09:00"), time.Hour, 1.5); err == nil {
		t.Fatal("a warning fraction above 1 was accepted")
	}
}

// TestBetweenInvertsAdd: the working time from start to Add(start, d) is d.
func TestBetweenInvertsAdd(t *testing.T) {
	c := office(t, MonthDay{time.June, 29})
	r := rand.New(rand.NewPCG(1, 2))
	base := at("2026-01-01 00:00")
	for i := 0; i < 2000; i++ {
		start := base.Add(time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour))))
		d := time.Duration(r.Int64N(int64(200 * time.Hour))).Truncate(time.Minute)
		end, err := c.Add(start, d)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Between(start, end); got != d {
			t.Fatalf("Between(%v, Add(%v, %v)=%v) = %v", start, start, d, end, got)
		}
	}
}

func TestCalendarValidation(t *testing.T) {
	if _, err := NewCalendar(Config{Location: rome}); err != ErrNoWorkingTime {
		t.Fatalf("empty week = %v", err)
	}
	var bad [7][]Interval
	bad[1] = []Interval{{14 * time.Hour, 13 * time.Hour}}
	if _, err := NewCalendar(Config{Location: rome, Week: bad}); err == nil {
		t.Fatal("an inverted interval was accepted")
	}
	if _, err := office(t).Add(at("2026-01-01 00:00"), -time.Hour); err == nil {
		t.Fatal("a negative duration was accepted")
	}
}
