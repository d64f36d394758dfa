package cases

import (
	"context"
	"testing"
	"time"
)

// hourClock: every hour is working time; no policies needed.
type hourClock struct{}

func (hourClock) Prepare(context.Context) error { return nil }
func (hourClock) Due(string, Priority, time.Time) (Deadlines, bool, error) {
	return Deadlines{}, false, nil
}
func (hourClock) Resume(_ string, deadline, pausedAt, resumedAt time.Time) (time.Time, error) {
	return resumedAt.Add(max(deadline.Sub(pausedAt), 0)), nil
}
func (hourClock) Between(_ string, a, b time.Time) time.Duration { return max(b.Sub(a), 0) }
func (hourClock) Add(_ string, t time.Time, d time.Duration) (time.Time, error) {
	return t.Add(d), nil
}

func TestApplySLAPausesAndResumes(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	c := &Case{Status: StatusOpen, SLADueAt: t0.Add(10 * time.Hour), SLAWarnAt: t0.Add(8 * time.Hour)}
	if _, err := ChangeStatus("op", StatusPendingCitizen, "")(c); err != nil {
		t.Fatal(err)
	}
	if err := ApplySLA(c, StatusOpen, t0.Add(2*time.Hour), hourClock{}); err != nil || !c.SLAPausedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("pause: %v, paused at %v", err, c.SLAPausedAt)
	}
	if got := c.SLAStateAt(t0.Add(20 * time.Hour)); got != SLAPaused {
		t.Fatalf("state while paused = %s", got)
	}
	// Three hours waiting for the citizen push the deadline by three hours.
	if _, err := ChangeStatus("citizen", StatusOpen, "")(c); err != nil {
		t.Fatal(err)
	}
	if err := ApplySLA(c, StatusPendingCitizen, t0.Add(5*time.Hour), hourClock{}); err != nil {
		t.Fatal(err)
	}
	if !c.SLADueAt.Equal(t0.Add(13*time.Hour)) || !c.SLAWarnAt.Equal(t0.Add(11*time.Hour)) || !c.SLAPausedAt.IsZero() {
		t.Fatalf("after resume: due %v warn %v paused %v", c.SLADueAt, c.SLAWarnAt, c.SLAPausedAt)
	}
	for at, want := range map[time.Duration]SLAState{10 * time.Hour: SLAOK, 12 * time.Hour: SLAWarning, 13 * time.Hour: SLABreached} {
		if got := c.SLAStateAt(t0.Add(at)); got != want {
			t.Errorf("state at +%v = %s, want %s", at, got, want)
		}
	}
	none := &Case{Status: StatusOpen, SLADueAt: NoDeadline}
	if err := ApplySLA(none, StatusOpen, t0, hourClock{}); err != nil || none.SLAStateAt(t0) != SLANone {
		t.Fatalf("no deadline: %v %s", err, none.SLAStateAt(t0))
	}
}

func TestSLATickAnnouncesOnce(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	c := &Case{Status: StatusOpen, SLADueAt: t0.Add(10 * time.Hour), SLAWarnAt: t0.Add(8 * time.Hour)}
	types := func(at time.Duration) []EventType {
		evs, _ := SLATick(t0.Add(at))(c)
		var out []EventType
		for _, e := range evs {
			out = append(out, e.Type)
		}
		return out
	}
	if got := types(time.Hour); len(got) != 0 {
		t.Fatalf("early tick = %v", got)
	}
	if got := types(9 * time.Hour); len(got) != 1 || got[0] != EventSLAWarning {
		t.Fatalf("warning tick = %v", got)
	}
	if got := types(9 * time.Hour); len(got) != 0 {
		t.Fatalf("second warning tick = %v", got)
	}
	if got := types(11 * time.Hour); len(got) != 1 || got[0] != EventSLABreached {
		t.Fatalf("breach tick = %v", got)
	}
	if got := types(12 * time.Hour); len(got) != 0 {
		t.Fatalf("after breach = %v", got)
	}
	paused := &Case{Status: StatusOnHold, SLADueAt: t0, SLAWarnAt: t0, SLAPausedAt: t0}
	if evs, _ := SLATick(t0.Add(time.Hour))(paused); len(evs) != 0 {
		t.Fatal("a paused case was announced")
	}
}

func TestFirstResponse(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	newCase := func() *Case {
		return &Case{Status: StatusNew, SLADueAt: t0.Add(10 * time.Hour), SLAWarnAt: t0.Add(8 * time.Hour),
			FirstResponseDueAt: t0.Add(2 * time.Hour)}
	}
	tests := []struct {
		name      string
		repliedAt time.Duration // 0: no reply
		at        time.Duration
		want      string
		announced bool
	}{
		{"running", 0, time.Hour, "ok", false},
		{"overdue", 0, 3 * time.Hour, "breached", true},
		{"met", time.Hour, 3 * time.Hour, "met", false},
		{"missed", 4 * time.Hour, 5 * time.Hour, "missed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCase()
			if tt.repliedAt > 0 {
				c.Responded(t0.Add(tt.repliedAt))
				c.Responded(t0.Add(tt.repliedAt + time.Hour)) // only the first reply counts
			}
			if got := c.FirstResponseStateAt(t0.Add(tt.at)); got != tt.want {
				t.Errorf("state = %s, want %s", got, tt.want)
			}
			evs, _ := SLATick(t0.Add(tt.at))(c)
			got := false
			for _, e := range evs {
				if _, ok := e.Changes["first_response_due"]; ok && e.Type == EventSLABreached {
					got = true
				}
			}
			if got != tt.announced {
				t.Errorf("breach announced = %v, want %v (%v)", got, tt.announced, evs)
			}
			if evs, _ := SLATick(t0.Add(tt.at))(c); got && len(evs) != 0 {
				t.Errorf("announced twice: %v", evs)
			}
		})
	}
	// A pause moves a first response still owed, not one already given.
	c := newCase()
	c.Status = StatusOpen
	if _, err := ChangeStatus("op", StatusOnHold, "")(c); err != nil {
		t.Fatal(err)
	}
	_ = ApplySLA(c, StatusOpen, t0.Add(time.Hour), hourClock{})
	if _, err := ChangeStatus("op", StatusOpen, "")(c); err != nil {
		t.Fatal(err)
	}
	_ = ApplySLA(c, StatusOnHold, t0.Add(4*time.Hour), hourClock{})
	if want := t0.Add(5 * time.Hour); !c.FirstResponseDueAt.Equal(want) {
		t.Fatalf("first response due after a 3h pause = %v, want %v", c.FirstResponseDueAt, want)
	}
}
