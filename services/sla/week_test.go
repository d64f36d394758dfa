package sla

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseWeek(t *testing.T) {
	tests := []struct {
		name    string
		in      []DayHours
		want    map[time.Weekday][]Interval
		wantErr string
	}{
		{"sorted within a day", []DayHours{{"monday", "14:00", "17:00"}, {"Monday", "09:00", "13:00"}, {"saturday", "09:00", "24:00"}},
			map[time.Weekday][]Interval{time.Monday: {{9 * time.Hour, 13 * time.Hour}, {14 * time.Hour, 17 * time.Hour}},
				time.Saturday: {{9 * time.Hour, 24 * time.Hour}}}, ""},
		{"unknown day", []DayHours{{"lunedì", "09:00", "13:00"}}, nil, "unknown day"},
		{"malformed", []DayHours{{"monday", "9:00", "13:00"}}, nil, "HH:MM"},
		{"out of range", []DayHours{{"monday", "09:00", "24:30"}}, nil, "HH:MM"},
		{"empty", []DayHours{{"monday", "13:00", "13:00"}}, nil, "not after"},
		{"overlap", []DayHours{{"friday", "09:00", "13:00"}, {"friday", "12:00", "15:00"}}, nil, "overlaps"},
	}
	for _, tt := range tests {
		got, err := ParseWeek(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		var want [7][]Interval
		for d, ivs := range tt.want {
			want[d] = ivs
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, want)
		}
		if back, _ := ParseWeek(FormatWeek(got)); !reflect.DeepEqual(back, got) {
			t.Errorf("%s: FormatWeek does not round-trip: %v", tt.name, FormatWeek(got))
		}
	}
}

func FuzzParseWeek(f *testing.F) {
	f.Add("monday", "09:00", "13:00")
	f.Add("sunday", "24:00", "00:00")
	f.Fuzz(func(t *testing.T, day, start, end string) {
		w, err := ParseWeek([]DayHours{{day, start, end}})
		if err != nil {
			return
		}
		for _, ivs := range w {
			for _, iv := range ivs {
				if iv.Start < 0 || iv.End > 24*time.Hour || iv.End <= iv.Start {
					t.Fatalf("accepted a bad interval %v from %q %q %q", iv, day, start, end)
				}
			}
		}
	})
}
