// Package reports answers supervisors' questions about the queue: how many
// requests came in on which channel, how fast they were answered and
// resolved in business hours, how many met their SLA targets, how old the
// backlog is, how often cases are reopened and what each operator handled.
// It also computes the live numbers exported as Prometheus metrics. It reads
// through the Store interface (services/storage implements it) and never
// writes cases.
package reports

import (
	"context"
	"errors"
	"time"
)

// Filter selects the cases of a report: those opened in [From, To) of the
// given departments (nil: all).
type Filter struct {
	From, To    time.Time
	Departments []string
	// Now is the instant against which open cases are judged (an open case
	// past its deadline at Now counts as a missed target).
	Now time.Time
	// Days, when set, lets Store.Buckets return day buckets of this time
	// zone instead of hours.
	Days *time.Location
}

// Bucket is one hour of cases opened (Start, in UTC) in a department on a
// channel, and how they stand against their SLA targets.
type Bucket struct {
	Start      time.Time
	Department string
	Channel    string
	Created    int
	// FirstResponse and Resolution count the cases whose outcome is known.
	FirstResponse, Resolution Compliance
}

// Compliance is how many cases met a target out of those with a known
// outcome: answered (or resolved), or still waiting past the deadline.
type Compliance struct {
	Met, Total int
}

// Rate is Met/Total, or -1 when there is nothing to measure.
func (c Compliance) Rate() float64 {
	if c.Total == 0 {
		return -1
	}
	return float64(c.Met) / float64(c.Total)
}

// Add sums two compliances.
func (c Compliance) Add(o Compliance) Compliance { return Compliance{c.Met + o.Met, c.Total + o.Total} }

// Durations summarises working-time durations: how many, the median and the
// 90th percentile (nearest rank: the smallest value with at least 50 % / 90 %
// of the values at or below it).
type Durations struct {
	Count       int
	Median, P90 time.Duration
}

// Summary is the figures of the cases opened in the range, for one
// department or, with Department "", for all the departments of the report.
type Summary struct {
	Department    string
	Created       int
	FirstResponse Durations // working time from opening to the first reply
	Resolution    Durations // working time from opening to the final resolution
	// SLA compliance of the first reply and of the resolution.
	FirstResponseSLA, ResolutionSLA Compliance
	// Resolved counts the cases resolved at least once; Reopened those of
	// them reopened at least once.
	Resolved, Reopened int
}

// ReopenRate is Reopened/Resolved, -1 with nothing resolved.
func (s Summary) ReopenRate() float64 {
	if s.Resolved == 0 {
		return -1
	}
	return float64(s.Reopened) / float64(s.Resolved)
}

// AgeBuckets are the upper bounds of the backlog age buckets; the last
// bucket is everything older.
var AgeBuckets = []time.Duration{24 * time.Hour, 3 * 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// AgeLabels name the buckets of AgeBuckets (and the last, open-ended one).
var AgeLabels = []string{"lt_1d", "1d_3d", "3d_7d", "7d_30d", "ge_30d"}

// Backlog is a department's open cases by age (len(AgeLabels) counts).
type Backlog struct {
	Department string
	Ages       []int
}

// Total is the department's open cases.
func (b Backlog) Total() int {
	n := 0
	for _, a := range b.Ages {
		n += a
	}
	return n
}

// OperatorLoad is what an operator did in a department: cases resolved in
// the range while assigned to them, and cases open and assigned now.
type OperatorLoad struct {
	Operator, Department string
	Handled, Open        int
}

// Live is the queue right now, for the metrics.
type Live struct {
	// Queue counts open cases by department and status.
	Queue map[[2]string]int
	// OldestUnassigned is the creation time of the oldest unassigned case
	// waiting in each department (absent: none waiting).
	OldestUnassigned map[string]time.Time
	// Breached counts open cases past their resolution deadline, by
	// department.
	Breached map[string]int
}

// Store reads the facts. services/storage implements it.
type Store interface {
	// Buckets returns the hourly buckets of the cases f selects or, when
	// f.Days is set, possibly day buckets of f.Days (PostgreSQL groups by
	// day itself; callers re-bucket either into days).
	Buckets(ctx context.Context, f Filter) ([]Bucket, error)
	// Summaries returns one Summary per department with cases in f, and
	// the summary of them all (Department "") first.
	Summaries(ctx context.Context, f Filter) ([]Summary, error)
	// Backlog returns the open cases of the departments (nil: all) by age at
	// now, one entry per department with open cases.
	Backlog(ctx context.Context, departments []string, now time.Time) ([]Backlog, error)
	// Operators returns, per operator and department, the cases resolved in
	// [f.From, f.To) while assigned to them and the cases open and assigned
	// to them now.
	Operators(ctx context.Context, f Filter) ([]OperatorLoad, error)
	// Live returns the live queue numbers at now.
	Live(ctx context.Context, now time.Time) (Live, error)
}

var (
	ErrInvalidArgument  = errors.New("invalid argument")
	ErrPermissionDenied = errors.New("permission denied")
)
