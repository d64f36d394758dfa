package storage

import (
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
)

// WorkingTime measures working time in a department's business calendar;
// *sla.Clock implements it. It must not block: it is called inside
// transactions.
type WorkingTime interface {
	Between(dept string, a, b time.Time) time.Duration
}

// SetWorkingTime sets the calendar of the reports' stored durations
// (first_response_seconds, resolution_seconds). Call it before serving;
// without it the durations are wall-clock time.
func (db *DB) SetWorkingTime(w WorkingTime) { db.work = w }

// reportFacts adds to an update of the case read as before, becoming
// after at now, the facts the reports read (migration 00018): the working
// time to the first reply and to the resolution, both without the time
// the SLA clock was paused, and the reopen count. A reopened case loses its
// resolution: resolved_at is the final one.
func (db *DB) reportFacts(before caseRow, after cases.Case, now time.Time, changes map[string]any) {
	worked := func(to time.Time) int64 {
		var d time.Duration
		if db.work != nil {
			d = db.work.Between(after.Department, after.CreatedAt, to)
		} else {
			d = to.Sub(after.CreatedAt)
		}
		return int64(max(0, d-after.SLAPausedFor) / time.Second)
	}
	if before.FirstRespondedAt == nil && !after.FirstRespondedAt.IsZero() {
		changes["first_response_seconds"] = worked(after.FirstRespondedAt)
	}
	was := cases.Status(before.Status)
	switch {
	case after.Status == cases.StatusResolved && was != cases.StatusResolved:
		changes["resolved_at"] = now
		changes["resolution_seconds"] = worked(now)
	case settles(was) && !settles(after.Status):
		changes["resolved_at"] = nil
		changes["resolution_seconds"] = nil
		changes["reopen_count"] = gorm.Expr("reopen_count + 1")
	}
}
