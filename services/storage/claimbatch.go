package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
)

// Claims in batches, on PostgreSQL. A claim is a small transaction (pick
// the next case, assign it, count it against the operator, record the
// event), and with 16 operators claiming at once PostgreSQL spent more CPU
// on statements and commits than on the work: 1.9 ms per claim, the
// ceiling on two cores (make bench, docs/benchmarks.md). So concurrent
// claims for the same departments share one transaction, as intake shares
// one per batch of contacts: while a batch runs, new claims wait, and the
// next batch takes all of them. Nobody waits for a timer: a lone claim
// runs at once, alone.
//
// A batch does what the claims would do one after the other, in arrival
// order: each operator with room gets the next case in claim order
// (nearest SLA deadline, then priority). Claims the batch cannot decide
// cheaply (skill matching, an operator the directory does not list in
// every department asked for) take the single path.

// maxClaimBatch bounds a batch; one operator has at most one claim in it.
const maxClaimBatch = 64

type claimRequest struct {
	operator, actor string
	departments     []string
	done            chan claimResult // buffered: the batch never blocks on a caller that left
	gone            atomic.Bool      // the caller left before a batch took the claim
}

type claimResult struct {
	c        cases.Case
	err      error
	fallback bool // not decided by the batch: take the single path
}

type claimQueue struct {
	mu      sync.Mutex
	running bool
	waiting []*claimRequest
}

type claimBatcher struct {
	mu     sync.Mutex
	queues map[string]*claimQueue // by departments
}

// claimBatched claims through a batch; decided is false when the caller
// must take the single path.
func (db *DB) claimBatched(ctx context.Context, operator string, departments []string, actor string) (c cases.Case, decided bool, err error) {
	key := slices.Clone(departments)
	slices.Sort(key)
	b := db.claims
	b.mu.Lock()
	q := b.queues[strings.Join(key, "\x00")]
	if q == nil {
		q = &claimQueue{}
		b.queues[strings.Join(key, "\x00")] = q
	}
	b.mu.Unlock()

	req := &claimRequest{operator: operator, actor: actor, departments: key, done: make(chan claimResult, 1)}
	q.mu.Lock()
	q.waiting = append(q.waiting, req)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go db.drainClaims(q)
	}
	select {
	case r := <-req.done:
		return r.c, !r.fallback, r.err
	case <-ctx.Done():
		// A claim still waiting is dropped; one already in a running batch
		// may be made and, like a caller gone after a commit, the operator
		// finds it in their queue.
		req.gone.Store(true)
		return cases.Case{}, true, ctx.Err()
	}
}

// drainClaims runs batches until nobody waits.
func (db *DB) drainClaims(q *claimQueue) {
	for {
		q.mu.Lock()
		var batch, rest []*claimRequest
		seen := map[string]bool{}
		for _, r := range q.waiting {
			if r.gone.Load() {
				continue
			}
			if len(batch) < maxClaimBatch && !seen[r.operator] {
				seen[r.operator] = true
				batch = append(batch, r)
			} else {
				rest = append(rest, r)
			}
		}
		q.waiting = rest
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		for i, res := range db.claimBatch(batch) {
			batch[i].done <- res
		}
	}
}

// claimBatch makes reqs' claims (same departments, distinct operators) in
// one transaction and returns each one's result.
func (db *DB) claimBatch(reqs []*claimRequest) []claimResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]claimResult, len(reqs))
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i := range out {
			out[i] = claimResult{}
		}
		ops := make([]string, len(reqs))
		for i, r := range reqs {
			ops[i] = r.operator
		}
		// The claimers' rows, locked in id order (as moveCapacity does):
		// their open_cases decide who may take a case.
		var room []struct {
			ID                  string
			OpenCases, Capacity int
		}
		if err := tx.Raw("SELECT id, open_cases, capacity FROM operators WHERE id IN ? ORDER BY id FOR UPDATE", ops).Scan(&room).Error; err != nil {
			return err
		}
		var works []operatorDepartmentRow
		if err := tx.Where("operator_id IN ?", ops).Find(&works).Error; err != nil {
			return err
		}
		var eligible []int
		for i, r := range reqs {
			j := slices.IndexFunc(room, func(o struct {
				ID                  string
				OpenCases, Capacity int
			}) bool {
				return o.ID == r.operator
			})
			worksAll := j >= 0 && !slices.ContainsFunc(r.departments, func(d string) bool {
				return !slices.ContainsFunc(works, func(w operatorDepartmentRow) bool { return w.OperatorID == r.operator && w.DepartmentID == d })
			})
			switch {
			case !worksAll:
				out[i].fallback = true // the single path names what is wrong
			case room[j].OpenCases >= room[j].Capacity:
				out[i].err = fmt.Errorf("%w: %q has %d open cases of %d", cases.ErrAtCapacity, r.operator, room[j].OpenCases, room[j].Capacity)
			default:
				eligible = append(eligible, i)
			}
		}
		if len(eligible) == 0 {
			return nil
		}
		var picked []caseRow
		if err := db.claimQuery(tx, reqs[eligible[0]].departments, nil, directory.Operator{}).Limit(len(eligible)).Find(&picked).Error; err != nil {
			return err
		}
		now := time.Now().UTC()
		var (
			values  []string
			args    []any
			evRows  []caseEventRow
			claimed []string
		)
		for k, i := range eligible {
			if k >= len(picked) {
				out[i].err = cases.ErrNothingToClaim
				continue
			}
			r := picked[k]
			c := r.toCase()
			evs, err := cases.Assign(reqs[i].actor, reqs[i].operator, "claimed")(&c)
			if err != nil {
				out[i].err = err
				continue
			}
			c.Version, c.UpdatedAt = r.Version+1, now
			values = append(values, "(CAST(? AS uuid), CAST(? AS bigint), ?, ?)")
			args = append(args, c.ID, r.Version, c.Assignee, string(c.Status))
			rows, err := eventRows(c, evs, now)
			if err != nil {
				return err
			}
			evRows = append(evRows, rows...)
			claimed = append(claimed, reqs[i].operator)
			out[i].c = c
		}
		if len(values) == 0 {
			return nil
		}
		res := tx.Exec(`UPDATE cases AS c SET assignee_id = v.assignee_id, status = v.status,
			version = c.version + 1, updated_at = ?
			FROM (VALUES `+strings.Join(values, ", ")+`) AS v(id, old_version, assignee_id, status)
			WHERE c.id = v.id AND c.version = v.old_version`, append([]any{now}, args...)...)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(values)) {
			return fmt.Errorf("%w: a claimed case changed during the claim", cases.ErrConflict)
		}
		if err := tx.Exec("UPDATE operators SET open_cases = open_cases + 1, last_assigned_at = ? WHERE id IN ?", now, claimed).Error; err != nil {
			return err
		}
		return insertEvents(tx, evRows, db.rowsPerInsert())
	})
	if err != nil {
		err = retryable(err)
		for i := range out {
			if !out[i].fallback {
				out[i] = claimResult{err: err}
			}
		}
	}
	return out
}
