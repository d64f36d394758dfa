package cases

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Transfer is the Mutation that moves a case to department dept. The case
// becomes unassigned: who works it is the new department's choice. A
// reason is required. The store refuses an unknown department.
func Transfer(actor, dept, reason string) Mutation {
	return func(c *Case) ([]Event, error) {
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%w: a reason is required to transfer a case", ErrInvalidArgument)
		}
		if dept == "" {
			return nil, fmt.Errorf("%w: department is required", ErrInvalidArgument)
		}
		if c.Department == dept {
			return nil, nil
		}
		changes := map[string]Change{"department": {Before: c.Department, After: dept}}
		if c.Assignee != "" {
			changes["assignee"] = Change{Before: c.Assignee}
		}
		c.Department, c.Assignee = dept, ""
		return []Event{{Type: EventTransferred, Actor: actor, Reason: reason, Changes: changes}}, nil
	}
}

// DepartmentLoad is a department's share of the queue.
type DepartmentLoad struct {
	Department string
	Open       int // not resolved or closed
	Unassigned int // of those, without an assignee
	// Of the open cases with a running clock: past the warning point and
	// not yet the deadline (due soon), and past the deadline (breached).
	DueSoon, Breached int
	Operators         []OperatorLoad
}

// OperatorLoad is one operator's share of a department's queue.
type OperatorLoad struct {
	Operator    string
	DisplayName string
	Presence    string
	Open        int // open cases of this department assigned to them
	OpenTotal   int // in all departments
	Capacity    int
	// Of Open: due soon and breached.
	DueSoon, Breached int
}

// Workloads reports load. services/storage implements it.
type Workloads interface {
	// Workload reports the given departments (nil: all), by department
	// id, with SLA states as of now.
	Workload(ctx context.Context, departments []string, now time.Time) ([]DepartmentLoad, error)
}
