package cases

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// EventUpdated records changed case fields (subject, priority, category).
const EventUpdated EventType = "updated"

// Updatable lists the fields UpdateCase may change.
var Updatable = []string{"subject", "priority", "category", "tags", "language"}

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
					changes["priority"] = Change{c.Priority.String(), to.Priority.String()}
					c.Priority = to.Priority
				}
			case "category":
				if to.Category != c.Category {
					changes["category"] = Change{c.Category, to.Category}
					c.Category = to.Category
				}
			case "tags":
				tags, err := NormalizeTags(to.Tags)
				if err != nil {
					return nil, err
				}
				if b, a := strings.Join(c.Tags, " "), strings.Join(tags, " "); b != a {
					changes["tags"] = Change{b, a}
					c.Tags = tags
				}
			case "language":
				if !languagePattern.MatchString(to.Language) {
					return nil, fmt.Errorf("%w: language %q (want an ISO 639-1 code such as \"it\")", ErrInvalidArgument, to.Language)
				}
				if to.Language != c.Language {
					changes["language"] = Change{c.Language, to.Language}
					c.Language = to.Language
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

var (
	tagPattern      = regexp.MustCompile(`^[\p{Ll}\p{N}][\p{Ll}\p{N}_:.-]{0,39}$`)
	languagePattern = regexp.MustCompile(`^[a-z]{2}$`)
)

// ValidLanguage reports whether s is a two-letter ISO 639-1 code.
func ValidLanguage(s string) bool { return languagePattern.MatchString(s) }

// MaxTags bounds the tags of one case.
const MaxTags = 20

// NormalizeTags lower-cases, sorts and deduplicates tags, and rejects
// any that is not one word of letters, digits and _ : . - (at most 40).
func NormalizeTags(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if !utf8.ValidString(t) || !tagPattern.MatchString(t) {
			return nil, fmt.Errorf("%w: tag %q must be one word of letters, digits, _ : . - (at most 40)", ErrInvalidArgument, t)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, fmt.Errorf("%w: at most %d tags", ErrInvalidArgument, MaxTags)
	}
	return out, nil
}

// String is the priority's API name ("low" ... "urgent"); "" if invalid.
func (p Priority) String() string {
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

// ParsePriority reads "low", "normal", "high", "urgent" (or the API enum
// names, "PRIORITY_HIGH").
func ParsePriority(s string) (Priority, error) {
	n := strings.ToLower(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "PRIORITY_"))
	for p := PriorityLow; p <= PriorityUrgent; p++ {
		if p.String() == n {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown priority %q (want low, normal, high or urgent)", ErrInvalidArgument, s)
}
