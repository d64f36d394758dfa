package cases

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// EventUpdated records changed case fields (subject, priority, category).
const EventUpdated EventType = "updated"

// Updatable lists the fields UpdateCase may change.
var Updatable = []string{"subject", "priority", "category"}

// Update is the Mutation that copies the fields named in paths from to c.
func Update(actor string, paths []string, to Case) Mutation {
	return func(c *Case) ([]Event, error) {
		changes := map[string]Change{}
		for _, p := range paths {
			switch p {
			case "subject":
				s := strings.Join(strings.Fields(to.Subject), " ")
				if s == "" || utf8.RuneCountInString(s) > 300 || !utf8.ValidString(s) {
					return nil, fmt.Errorf("%w: subject must be 1 to 300 characters", ErrInvalidArgument)
				}
				if s != c.Subject {
					changes["subject"] = Change{c.Subject, s}
					c.Subject = s
				}
			case "priority":
				if to.Priority < PriorityLow || to.Priority > PriorityUrgent {
					return nil, fmt.Errorf("%w: priority must be low, normal, high or urgent", ErrInvalidArgument)
				}
				if to.Priority != c.Priority {
					changes["priority"] = Change{priorityName(c.Priority), priorityName(to.Priority)}
					c.Priority = to.Priority
				}
			case "category":
				if to.Category != c.Category {
					changes["category"] = Change{c.Category, to.Category}
					c.Category = to.Category
				}
			default:
				return nil, fmt.Errorf("%w: field %q cannot be updated (updatable: %s)", ErrInvalidArgument, p, strings.Join(Updatable, ", "))
			}
		}
		if len(changes) == 0 {
			return nil, nil
		}
		return []Event{{Type: EventUpdated, Actor: actor, Changes: changes}}, nil
	}
}

func priorityName(p Priority) string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityUrgent:
		return "urgent"
	}
	return ""
}
