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

// RollupSweeper is what a RollupStore may also do: recompute the days with
// a case updated in the last lookback, whatever the watermark (see
// storage.DB.SweepReportRollup).
type RollupSweeper interface {
	SweepReportRollup(ctx context.Context, lookback time.Duration) (int, error)
}

// Sweep settings: every SweepEvery the Refresher also recomputes the days
// with a case updated in the last SweepLookback, so a late commit or a
// replica's clock behind by up to SweepLookback leaves a day stale in the
// rollup for SweepEvery at most.
const (
	SweepEvery    = 10 * time.Minute
	SweepLookback = time.Hour
)

// Refresher refreshes the rollup every Interval. Reports are exact without
// it (they read what the rollup lacks from the cases); it keeps them cheap.
type Refresher struct {
	Store RollupStore
	Log   *slog.Logger
	// Interval between refreshes; 0 is 30 s.
	Interval time.Duration
}

// sweep runs the periodic sweep when Store can.
func (r *Refresher) sweep(ctx context.Context) {
	s, ok := r.Store.(RollupSweeper)
	if !ok {
		return
	}
	start := time.Now()
	n, err := s.SweepReportRollup(ctx, SweepLookback)
	switch {
	case err != nil && ctx.Err() == nil && r.Log != nil:
		r.Log.Warn("report rollup sweep", "err", err)
	case n > 0 && r.Log != nil:
		r.Log.Info("report rollup swept", "days", n, "took", time.Since(start).Round(time.Millisecond))
	}
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
	lastSweep := time.Now() // the first refresh recomputes what is new
	for {
		if time.Since(lastSweep) >= SweepEvery {
			r.sweep(ctx)
			lastSweep = time.Now()
		}
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
