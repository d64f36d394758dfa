package cases

import (
	"errors"
	"testing"
	"time"
)

func TestUpdate(t *testing.T) {
	base := Case{Subject: "Accesso", Priority: PriorityNormal, Category: "portal-account"}
	tests := []struct {
		name    string
		paths   []string
		to      Case
		changed []string
		err     error
	}{
		{"priority", []string{"priority"}, Case{Priority: PriorityUrgent}, []string{"priority"}, nil},
		{"subject folded", []string{"subject"}, Case{Subject: "  Accesso   SPID "}, []string{"subject"}, nil},
		{"no change", []string{"subject", "priority"}, base, nil, nil},
		{"category", []string{"category"}, Case{Category: "microdata"}, []string{"category"}, nil},
		{"bad priority", []string{"priority"}, Case{Priority: 9}, nil, ErrInvalidArgument},
		{"empty subject", []string{"subject"}, Case{Subject: " "}, nil, ErrInvalidArgument},
		{"not updatable", []string{"status"}, Case{}, nil, ErrInvalidArgument},
		{"tags", []string{"tags"}, Case{Tags: []string{"Stampa", "gdpr", "stampa"}}, []string{"tags"}, nil},
		{"bad tag", []string{"tags"}, Case{Tags: []string{"a b"}}, nil, ErrInvalidArgument},
		{"language", []string{"language"}, Case{Language: "en"}, []string{"language"}, nil},
		{"bad language", []string{"language"}, Case{Language: "english"}, nil, ErrInvalidArgument},
	}
	for _, tt := range tests {
		c := base
		evs, err := Update("sup", tt.paths, tt.to)(&c)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.err)
			continue
		}
		var got []string
		for _, e := range evs {
			for k := range e.Changes {
				got = append(got, k)
			}
		}
		if len(got) != len(tt.changed) || (len(got) == 1 && got[0] != tt.changed[0]) {
			t.Errorf("%s: changed %v, want %v", tt.name, got, tt.changed)
		}
	}
}

// polClock: a 10h target for normal, 2h for urgent, first response within
// a tenth; every hour works.
type polClock struct{ hourClock }

func (polClock) Due(_ string, p Priority, start time.Time) (Deadlines, bool, error) {
	d := 10 * time.Hour
	if p == PriorityUrgent {
		d = 2 * time.Hour
	}
	return Deadlines{Resolution: start.Add(d), Warning: start.Add(d * 8 / 10), FirstResponse: start.Add(d / 10)}, true, nil
}

func TestRetargetSLA(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	c := &Case{Status: StatusOpen, Department: "it", Priority: PriorityNormal, CreatedAt: t0,
		SLADueAt: t0.Add(13 * time.Hour), SLAWarnAt: t0.Add(11 * time.Hour), SLAPausedFor: 3 * time.Hour, SLAWarned: true}
	c.Priority = PriorityUrgent
	if err := RetargetSLA(c, t0.Add(time.Hour), polClock{}); err != nil {
		t.Fatal(err)
	}
	// created + 2h + 3h paused.
	if !c.SLADueAt.Equal(t0.Add(5*time.Hour)) || !c.SLAWarnAt.Equal(t0.Add(4*time.Hour+36*time.Minute)) || c.SLAWarned {
		t.Fatalf("urgent: due %v warn %v warned %v", c.SLADueAt, c.SLAWarnAt, c.SLAWarned)
	}
	// created + 12 min + 3h paused; the first response is still owed.
	if want := t0.Add(3*time.Hour + 12*time.Minute); !c.FirstResponseDueAt.Equal(want) {
		t.Fatalf("first response due %v, want %v", c.FirstResponseDueAt, want)
	}
	// While paused, the time since the pause does not count either.
	c.SLAPausedAt = t0.Add(4 * time.Hour)
	if err := RetargetSLA(c, t0.Add(6*time.Hour), polClock{}); err != nil || !c.SLADueAt.Equal(t0.Add(7*time.Hour)) {
		t.Fatalf("paused: due %v, %v", c.SLADueAt, err)
	}
}

func TestEventConcerns(t *testing.T) {
	for _, tt := range []struct {
		e    Event
		want bool
	}{
		{Event{Department: "it"}, true},
		{Event{Department: "statistics"}, false},
		{Event{Department: "statistics", Changes: map[string]Change{"department": {Before: "it", After: "statistics"}}}, true},
		{Event{Department: "it", Changes: map[string]Change{"department": {After: "it"}}}, true},
	} {
		if got := tt.e.Concerns([]string{"it", "triage"}); got != tt.want {
			t.Errorf("%+v concerns it/triage = %v", tt.e, got)
		}
	}
}
