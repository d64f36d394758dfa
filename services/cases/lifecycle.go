package cases

import (
	"fmt"
	"slices"
	"strings"
)

// transitions is the case lifecycle:
//
//	new → open → pending_citizen ↔ open → on_hold → resolved → closed
//
// with shortcuts an operator needs (answer and resolve a new case at once)
// and reopening a resolved case. A closed case is final: a citizen writing
// again opens a new, linked case.
var transitions = map[Status][]Status{
	StatusNew:            {StatusOpen, StatusPendingCitizen, StatusOnHold, StatusResolved},
	StatusOpen:           {StatusPendingCitizen, StatusOnHold, StatusResolved},
	StatusPendingCitizen: {StatusOpen, StatusOnHold, StatusResolved},
	StatusOnHold:         {StatusOpen, StatusPendingCitizen, StatusResolved},
	StatusResolved:       {StatusOpen, StatusClosed},
	StatusClosed:         nil,
}

// AllowedTransitions lists the statuses a case in s may move to.
func AllowedTransitions(s Status) []Status { return slices.Clone(transitions[s]) }

// ChangeStatus is the Mutation that moves a case to status to. Illegal
// transitions fail with ErrFailedPrecondition naming the allowed ones.
func ChangeStatus(actor string, to Status, reason string) Mutation {
	return func(c *Case) ([]Event, error) {
		if c.Status == to {
			return nil, nil // already there: nothing to record
		}
		if !slices.Contains(transitions[c.Status], to) {
			allowed := make([]string, 0, len(transitions[c.Status]))
			for _, s := range transitions[c.Status] {
				allowed = append(allowed, string(s))
			}
			next := "none: the case is closed; a new message opens a linked case"
			if len(allowed) > 0 {
				next = strings.Join(allowed, ", ")
			}
			return nil, fmt.Errorf("%w: cannot change status from %s to %s (allowed: %s)", ErrFailedPrecondition, c.Status, to, next)
		}
		from := c.Status
		c.Status = to
		return []Event{{Type: EventStatusChanged, Actor: actor, Reason: reason,
			Changes: map[string]Change{"status": {Before: string(from), After: string(to)}}}}, nil
	}
}
