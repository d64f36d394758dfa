package reports

import (
	"context"
	"log/slog"
	"time"
)

// RollupStore keeps the reports' pre-aggregated figures; services/storage
// implements it. A refresh must be safe to run from several replicas at
// once and must never change what a report answers, only how fast.
type RollupStore interface {
	// RefreshReportRollup brings the rollup up to date with the cases and
	// returns how many days it recomputed.
	RefreshReportRollup(ctx context.Context) (int, error)
}

// Refresher refreshes the rollup every Interval. Reports are exact without
// it (they read what the rollup lacks from the cases); it keeps them cheap.
type Refresher struct {
	Store RollupStore
	Log   *slog.Logger
	// Interval between refreshes; 0 is 30 s.
	Interval time.Duration
}

// Run refreshes at once and then every Interval until ctx ends. A failed
// refresh is logged and retried at the next tick.
func (r *Refresher) Run(ctx context.Context) {
	every := r.Interval
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := r.Store.RefreshReportRollup(ctx)
		switch {
		case err != nil && ctx.Err() == nil && r.Log != nil:
			r.Log.Warn("report rollup refresh", "err", err)
		case n > 0 && r.Log != nil:
			r.Log.Info("report rollup refreshed", "days", n, "took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
