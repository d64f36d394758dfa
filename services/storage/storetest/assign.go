package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage"
)

var assignTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"Assign", testAssign},
	{"Capacity", testCapacity},
	{"ClaimNext", testClaimNext},
	{"ConcurrentAssignment", testConcurrentAssignment},
	{"ConcurrentClaims", testConcurrentClaims},
}

func openCases(t *testing.T, db *storage.DB) map[string]int {
	t.Helper()
	ops, err := db.ListOperators(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, o := range ops {
		m[o.ID] = o.OpenCases
	}
	return m
}

func testAssign(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	id := create(t, db, 2026, newCase("it", ""))[0].CaseID
	if _, err := db.UpdateCase(ctx, id, 0, cases.Assign("sup", "op-statistics", "")); !errors.Is(err, cases.ErrNotInDepartment) {
		t.Fatalf("assign to an operator of another department = %v", err)
	}
	c, err := db.UpdateCase(ctx, id, 0, cases.Assign("sup", "op-it", "competenza IT"))
	if err != nil || c.Assignee != "op-it" || c.Status != cases.StatusOpen {
		t.Fatalf("assign = %+v, %v", c, err)
	}
	if n := openCases(t, db)["op-it"]; n != 1 {
		t.Fatalf("op-it open cases = %d", n)
	}
	// Reassign: the slot moves.
	if _, err := db.UpdateCase(ctx, id, 0, cases.Assign("sup", "sup-contact-centre", "ferie")); err != nil {
		t.Fatal(err)
	}
	if m := openCases(t, db); m["op-it"] != 0 || m["sup-contact-centre"] != 1 {
		t.Fatalf("after reassign = %v", m)
	}
	// Resolving frees it, reopening takes it again.
	if _, err := db.UpdateCase(ctx, id, 0, cases.ChangeStatus("sup", cases.StatusResolved, "")); err != nil {
		t.Fatal(err)
	}
	if n := openCases(t, db)["sup-contact-centre"]; n != 0 {
		t.Fatalf("after resolve = %d", n)
	}
	if _, err := db.UpdateCase(ctx, id, 0, cases.Assign("sup", "op-it", "")); !errors.Is(err, cases.ErrAssignClosedCase) {
		t.Fatalf("assign a resolved case = %v", err)
	}
	if _, err := db.UpdateCase(ctx, id, 0, cases.ChangeStatus("citizen-reply", cases.StatusOpen, "")); err != nil {
		t.Fatal(err)
	}
	if n := openCases(t, db)["sup-contact-centre"]; n != 1 {
		t.Fatalf("after reopen = %d", n)
	}
	evs, _ := db.ListCaseEvents(ctx, id, "", 20)
	if evs[1].Type != cases.EventAssigned || evs[1].Changes["assignee"].After != "op-it" || evs[1].Changes["status"].After != "open" || evs[1].Reason != "competenza IT" {
		t.Fatalf("assigned event = %+v", evs[1])
	}
}

func withCapacity(t *testing.T, db *storage.DB, id string, capacity int) {
	t.Helper()
	for _, o := range directory.Demo.Operators {
		if o.ID == id {
			o.Capacity = capacity
			if err := db.UpsertOperators(context.Background(), []directory.Operator{o}); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no demo operator %s", id)
}

func testCapacity(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	withCapacity(t, db, "op-it", 2)
	out := create(t, db, 2026, newCase("it", ""), newCase("it", ""), newCase("it", ""))
	for i, o := range out {
		_, err := db.UpdateCase(ctx, o.CaseID, 0, cases.Assign("sup", "op-it", ""))
		if (i < 2) != (err == nil) || (i == 2 && !errors.Is(err, cases.ErrAtCapacity)) {
			t.Fatalf("assignment %d: %v", i, err)
		}
	}
	if c, _ := db.GetCase(ctx, out[2].CaseID); c.Assignee != "" || c.Status != cases.StatusNew {
		t.Fatalf("a refused assignment changed the case: %+v", c)
	}
	if n := openCases(t, db)["op-it"]; n != 2 {
		t.Fatalf("op-it open cases = %d, want 2", n)
	}
}

func testClaimNext(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	if _, err := db.ClaimNextCase(ctx, "op-it", []string{"it"}, "op-it"); !errors.Is(err, cases.ErrNothingToClaim) {
		t.Fatalf("claim from an empty queue = %v", err)
	}
	out := create(t, db, 2026, newCase("it", ""), newCase("it", ""), newCase("statistics", ""))
	// The second case is more urgent.
	if _, err := db.UpdateCase(ctx, out[1].CaseID, 0, func(c *cases.Case) ([]cases.Event, error) {
		c.Priority = cases.PriorityUrgent
		return []cases.Event{{Type: "priority_changed"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		c, err := db.ClaimNextCase(ctx, "op-it", []string{"it"}, "op-it")
		if errors.Is(err, cases.ErrNothingToClaim) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{out[1].CaseID, out[0].CaseID}) {
		t.Fatalf("claimed %v, want the urgent case then the oldest, and nothing of statistics", got)
	}
}

// testConcurrentAssignment races claims, reassignments and resolutions
// from many goroutines. Afterwards no operator is past capacity, every
// operator's count equals their open cases, and every case has at most
// one assignee.
func testConcurrentAssignment(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	ops := []string{"op-it", "sup-contact-centre"}
	withCapacity(t, db, "op-it", 5)
	withCapacity(t, db, "sup-contact-centre", 4)
	var batch []intake.NewCase
	for i := 0; i < 30; i++ {
		batch = append(batch, newCase("it", ""))
	}
	out := create(t, db, 2026, batch...)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 25; i++ {
				op := ops[r.IntN(len(ops))]
				var err error
				switch r.IntN(3) {
				case 0:
					_, err = db.ClaimNextCase(ctx, op, []string{"it"}, op)
				case 1:
					_, err = db.UpdateCase(ctx, out[r.IntN(len(out))].CaseID, 0, cases.Assign("sup", op, "bilanciamento"))
				case 2:
					_, err = db.UpdateCase(ctx, out[r.IntN(len(out))].CaseID, 0, cases.ChangeStatus("sup", cases.StatusResolved, ""))
				}
				switch {
				case err == nil, errors.Is(err, cases.ErrConflict), errors.Is(err, cases.ErrAtCapacity),
					errors.Is(err, cases.ErrNothingToClaim), errors.Is(err, cases.ErrAssignClosedCase), errors.Is(err, cases.ErrFailedPrecondition):
				default:
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	all, err := db.ListCases(ctx, cases.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	real := map[string]int{}
	for _, c := range all {
		if c.Assignee != "" && c.Status.Open() {
			real[c.Assignee]++
		}
	}
	counted := openCases(t, db)
	capacity := map[string]int{"op-it": 5, "sup-contact-centre": 4}
	for _, op := range ops {
		if counted[op] != real[op] {
			t.Errorf("%s: counter %d, open assigned cases %d", op, counted[op], real[op])
		}
		if real[op] > capacity[op] {
			t.Errorf("%s has %d open cases, capacity %d", op, real[op], capacity[op])
		}
	}
	t.Logf("open cases %v of capacity %v", real, capacity)
}

// testConcurrentClaims has 12 operators claim from one queue at once, as
// fast as they can, until it is empty (on PostgreSQL, concurrent claims
// share transactions: see storage/claimbatch.go). Every case is claimed
// once, in claim order per operator, nobody passes capacity, an operator
// outside the department is refused by name, and the counters match.
func testConcurrentClaims(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	const claimers, capacity, total = 12, 6, 60
	var ops []directory.Operator
	for i := 0; i < claimers; i++ {
		ops = append(ops, directory.Operator{ID: fmt.Sprintf("claimer-%02d", i), DisplayName: "Claimer", Role: "operator",
			Presence: directory.Online, Capacity: capacity, Departments: []string{"it"}, Languages: []string{"it"}})
	}
	ops = append(ops, directory.Operator{ID: "outsider", DisplayName: "Outsider", Role: "operator", Presence: directory.Online,
		Capacity: 10, Departments: []string{"statistics"}})
	if err := db.UpsertOperators(ctx, ops); err != nil {
		t.Fatal(err)
	}
	var batch []intake.NewCase
	for i := 0; i < total; i++ {
		batch = append(batch, newCase("it", ""))
	}
	create(t, db, 2026, batch...)

	// Before the race: a claim that fails after locking its case would
	// make the others skip that case for a moment.
	if _, err := db.ClaimNextCase(ctx, "outsider", []string{"it"}, "outsider"); !errors.Is(err, cases.ErrNotInDepartment) {
		t.Errorf("outsider's claim: %v, want ErrNotInDepartment", err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[string]string{}
		full    = map[string]bool{}
	)
	for _, o := range ops[:claimers] {
		wg.Add(1)
		go func(op string) {
			defer wg.Done()
			for {
				c, err := db.ClaimNextCase(ctx, op, []string{"it"}, op)
				switch {
				case errors.Is(err, cases.ErrAtCapacity):
					mu.Lock()
					full[op] = true
					mu.Unlock()
					return
				case errors.Is(err, cases.ErrNothingToClaim):
					return
				case errors.Is(err, cases.ErrConflict):
					continue
				case err != nil:
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := claimed[c.ID]; dup {
					t.Errorf("case %s claimed by %s and %s", c.ID, prev, op)
				}
				claimed[c.ID] = op
				mu.Unlock()
				if c.Assignee != op || c.Status != cases.StatusOpen {
					t.Errorf("claim returned assignee %q status %s, want %s open", c.Assignee, c.Status, op)
				}
			}
		}(o.ID)
	}
	wg.Wait()
	// 12 operators × 6 = 72 slots for 60 cases: all claimed, nobody over.
	if len(claimed) != total {
		t.Errorf("%d cases claimed, want %d", len(claimed), total)
	}
	perOp := map[string]int{}
	for _, op := range claimed {
		perOp[op]++
	}
	counted := openCases(t, db)
	for _, o := range ops[:claimers] {
		if perOp[o.ID] > capacity {
			t.Errorf("%s claimed %d, capacity %d", o.ID, perOp[o.ID], capacity)
		}
		if counted[o.ID] != perOp[o.ID] {
			t.Errorf("%s: counter %d, claimed %d", o.ID, counted[o.ID], perOp[o.ID])
		}
		if full[o.ID] && perOp[o.ID] != capacity {
			t.Errorf("%s was refused at capacity with %d of %d", o.ID, perOp[o.ID], capacity)
		}
	}
	all, err := db.ListCases(ctx, cases.Query{Departments: []string{"it"}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if claimed[c.ID] != c.Assignee {
			t.Errorf("case %s: stored assignee %q, claimed by %q", c.ID, c.Assignee, claimed[c.ID])
		}
		evs, err := db.ListCaseEvents(ctx, c.ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Type == cases.EventAssigned {
				n++
			}
		}
		if n != 1 {
			t.Errorf("case %s has %d assigned events, want 1", c.ID, n)
		}
	}
}
