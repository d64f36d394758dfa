package cases

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// SLATimer announces SLA warnings and breaches. Every replica may run one:
// SLATick's flags and the version check make each announcement happen once.
type SLATimer struct {
	Scanner  SLAScanner
	History  History
	Log      *slog.Logger
	Interval time.Duration // 15 s when zero
	Now      func() time.Time
	// Announced counts warnings and breaches (may be nil).
	Announced func(EventType)
}

// Run ticks until ctx ends.
func (t *SLATimer) Run(ctx context.Context) {
	every := t.Interval
	if every <= 0 {
		every = 15 * time.Second
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		t.tick(ctx, now())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *SLATimer) tick(ctx context.Context, now time.Time) {
	ids, err := t.Scanner.CasesDueForSLA(ctx, now, 500)
	if err != nil {
		if ctx.Err() == nil {
			t.Log.Warn("sla timer: scan failed", "err", err)
		}
		return
	}
	for _, id := range ids {
		var announced []EventType
		_, err := t.History.UpdateCase(ctx, id, 0, func(c *Case) ([]Event, error) {
			evs, err := SLATick(now)(c)
			announced = announced[:0]
			for _, e := range evs {
				announced = append(announced, e.Type)
			}
			return evs, err
		})
		switch {
		case err == nil:
			if t.Announced != nil {
				for _, e := range announced {
					t.Announced(e)
				}
			}
		case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
			// Another replica or a concurrent change got there first; the
			// next tick looks again.
		default:
			if ctx.Err() == nil {
				t.Log.Warn("sla timer: update failed", "case_id", id, "err", err)
			}
		}
	}
}
