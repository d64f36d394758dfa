package cases

import (
	"context"
	"log/slog"
	"time"
)

// AutoAssigner places unassigned cases of departments with an automatic
// policy. services/storage implements it.
type AutoAssigner interface {
	// AutoAssign assigns up to limit cases and reports how many.
	AutoAssign(ctx context.Context, limit int) (int, error)
}

// AssignWorker runs AutoAssign on every replica; the store's conditional
// updates keep replicas from assigning a case twice or overfilling anyone.
type AssignWorker struct {
	Assigner AutoAssigner
	Log      *slog.Logger
	Interval time.Duration // 1 s when zero
}

// Run assigns until ctx ends.
func (w *AssignWorker) Run(ctx context.Context) {
	every := w.Interval
	if every <= 0 {
		every = time.Second
	}
	const batch = 200
	for {
		n, err := w.Assigner.AutoAssign(ctx, batch)
		if err != nil && ctx.Err() == nil {
			w.Log.Warn("auto-assignment failed", "err", err)
		}
		if n == batch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
