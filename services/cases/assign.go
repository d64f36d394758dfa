package cases

import (
	"context"
	"errors"
	"fmt"
)

// Errors of assignment. All are FAILED_PRECONDITION on the API.
var (
	ErrAtCapacity       = errors.New("operator is at capacity")
	ErrNotInDepartment  = errors.New("operator does not work the case's department")
	ErrNothingToClaim   = errors.New("no unassigned case to claim")
	ErrAssignClosedCase = errors.New("a resolved or closed case cannot be assigned")
)

// Open reports whether a case in s counts against its assignee's capacity.
func (s Status) Open() bool { return s != StatusResolved && s != StatusClosed }

// Assign is the Mutation that gives a case to operator ("" unassigns). A
// new case becomes open. The store checks that the operator works the
// case's department and has room (ErrNotInDepartment, ErrAtCapacity).
func Assign(actor, operator, reason string) Mutation {
	return func(c *Case) ([]Event, error) {
		if c.Assignee == operator {
			return nil, nil
		}
		if operator != "" && !c.Status.Open() {
			return nil, fmt.Errorf("%w (it is %s)", ErrAssignClosedCase, c.Status)
		}
		changes := map[string]Change{"assignee": {Before: c.Assignee, After: operator}}
		c.Assignee = operator
		if operator != "" && c.Status == StatusNew {
			changes["status"] = Change{Before: string(StatusNew), After: string(StatusOpen)}
			c.Status = StatusOpen
		}
		return []Event{{Type: EventAssigned, Actor: actor, Reason: reason, Changes: changes}}, nil
	}
}

// Claimer hands operators the next case. services/storage implements it.
type Claimer interface {
	// ClaimNextCase assigns to operator the most urgent unassigned case
	// (priority, then oldest) of departments, atomically: two claimers never
	// get the same case, and an operator never goes past capacity.
	ClaimNextCase(ctx context.Context, operator string, departments []string, actor string) (Case, error)
}
