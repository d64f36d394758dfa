package console

import (
	"context"
	"slices"
	"sync"
	"time"

	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
)

// choice is one option of a picker: the id sent, the name shown.
type choice struct{ Value, Label string }

// directoryNames are the departments' and operators' names, read from
// the directory service (any member of staff may list them; they are
// not citizens' data) and kept for namesTTL, so the queue's live refresh
// does not ask for them on every redraw.
type directoryNames struct {
	mu  sync.Mutex
	at  time.Time
	cur lookup
	// failed is when a read last failed: the next is tried namesMinAge
	// later, so a slow or absent directory does not hold up every page.
	failed time.Time
}

// namesReadTimeout bounds a read of the names: a page shows ids rather
// than wait longer (the lock is held meanwhile).
const namesReadTimeout = 3 * time.Second

const namesTTL = 30 * time.Second

// names returns the directory's names, refreshed when older than
// namesTTL. On a failed read the last names are kept (ids are shown for
// what is missing).
func (c *Console) names(ctx context.Context, cl *clients) lookup {
	return c.namesWith(ctx, cl, nil)
}

// namesMinAge is how old the names must be before an unknown operator
// id (one just provisioned by their first sign-in) forces a new read.
const namesMinAge = 2 * time.Second

// namesWith is names, read anew when an operator in ops is not in them
// (and they are older than namesMinAge).
func (c *Console) namesWith(ctx context.Context, cl *clients, ops []string) lookup {
	n := &c.dir
	n.mu.Lock()
	defer n.mu.Unlock()
	age := c.now().Sub(n.at)
	fresh := n.cur.dept != nil && age < namesTTL
	if fresh && age >= namesMinAge {
		for _, id := range ops {
			if id != "" && n.cur.op[id] == "" {
				fresh = false
				break
			}
		}
	}
	if fresh || c.now().Sub(n.failed) < namesMinAge {
		return n.cur
	}
	// The visitor's credentials, not their request's deadline: a page
	// whose client went away must not count as the directory failing.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), namesReadTimeout)
	defer cancel()
	d, err := cl.directory.ListDepartments(rctx, &directoryv1.ListDepartmentsRequest{})
	if err != nil {
		n.failed = c.now()
		return n.cur
	}
	o, err := cl.directory.ListOperators(rctx, &directoryv1.ListOperatorsRequest{})
	if err != nil {
		n.failed = c.now()
		return n.cur
	}
	// A new lookup each time: pages keep reading the one they got.
	l := lookup{dept: map[string]string{}, op: map[string]string{}}
	for _, dep := range d.GetDepartments() {
		label := dep.GetName()
		if label == "" {
			label = dep.GetId()
		}
		l.departments = append(l.departments, choice{Value: dep.GetId(), Label: label})
		l.dept[dep.GetId()] = label
	}
	l.operators = o.GetOperators()
	for _, op := range l.operators {
		// Known without a display name: the id is the name (and no
		// re-read is forced for it).
		l.op[op.GetId()] = op.GetDisplayName()
		if l.op[op.GetId()] == "" {
			l.op[op.GetId()] = op.GetId()
		}
	}
	n.cur, n.at = l, c.now()
	return l
}

// lookup is the directory's names as read at one time; never changed
// after it is built.
type lookup struct {
	departments []choice          // every department, in the directory's order
	dept        map[string]string // id → name
	operators   []*directoryv1.Operator
	op          map[string]string // id → display name
}

// Dept is a department's name, its id when unknown.
func (l lookup) Dept(id string) string {
	if v := l.dept[id]; v != "" {
		return v
	}
	return id
}

// Op is an operator's display name, the id when unknown.
func (l lookup) Op(id string) string {
	if v := l.op[id]; v != "" {
		return v
	}
	return id
}

// departmentChoices are the departments among ids (all when ids is nil),
// named, in the directory's order; ids the directory does not list are
// offered under their id.
func (n lookup) departmentChoices(ids []string, all bool) []choice {
	var out []choice
	seen := map[string]bool{}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for _, d := range n.departments {
		if all || want[d.Value] {
			out = append(out, d)
			seen[d.Value] = true
		}
	}
	for _, id := range ids {
		if !seen[id] {
			out = append(out, choice{Value: id, Label: id})
		}
	}
	return out
}

// operatorChoices are the operators of department (all when ""), named.
func (n lookup) operatorChoices(department string) []choice {
	var out []choice
	for _, o := range n.operators {
		if department != "" && !slices.Contains(o.GetDepartments(), department) {
			continue
		}
		label := o.GetDisplayName()
		if label == "" {
			label = o.GetId()
		}
		out = append(out, choice{Value: o.GetId(), Label: label})
	}
	return out
}
