package directory

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/sla"
)

// AdminStore changes the directory. services/storage implements it. The
// Update methods read the entry, apply fn and store the result in one
// transaction; fn's error aborts it.
type AdminStore interface {
	CreateDepartment(ctx context.Context, d Department) error
	UpdateDepartment(ctx context.Context, id string, fn func(*Department) error) (Department, error)
	CreateCategory(ctx context.Context, c Category) error
	UpdateCategory(ctx context.Context, code string, fn func(*Category) error) (Category, error)
	CreateOperator(ctx context.Context, o Operator) error
	UpdateOperator(ctx context.Context, id string, fn func(*Operator) error) (Operator, error)
	GetOperator(ctx context.Context, id string) (Operator, error)
	// SetPresence stores o's presence; with handBack it also gives back,
	// as actor, the operator's new or open cases nobody has replied to
	// yet, and returns their ids.
	SetPresence(ctx context.Context, id string, p Presence, handBack bool, actor string) (Operator, []string, error)
	UpdateRoutingRule(ctx context.Context, id string, fn func(*Rule) error) (Rule, error)
	ListSLAPolicies(ctx context.Context) ([]sla.Policy, error)
	UpsertSLAPolicies(ctx context.Context, ps []sla.Policy) error
}

var (
	// ErrInvalid: the entry cannot be stored as given.
	ErrInvalid = errors.New("invalid argument")
	// ErrExists: an entry with that id or code exists.
	ErrExists = errors.New("already exists")
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidID reports whether s can name a department, category, operator or
// skill: lower-case letters, digits, ".", "-" and "_", at most 63 ("mario.rossi",
// as staff usernames usually are).
func ValidID(s string) bool { return idPattern.MatchString(s) }

func validName(field, s string, max int) error {
	if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > max || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s must be 1 to %d characters", ErrInvalid, field, max)
	}
	return nil
}

// Validate reports what is wrong with d.
func (d Department) Validate() error {
	if !ValidID(d.ID) {
		return fmt.Errorf("%w: department id %q must be lower-case letters, digits, \".\", \"-\" and \"_\" (at most 63)", ErrInvalid, d.ID)
	}
	if err := validName("name", d.Name, 100); err != nil {
		return err
	}
	if !slices.Contains([]string{PolicyManual, PolicyRoundRobin, PolicyLeastLoaded}, d.Policy) {
		return fmt.Errorf("%w: assignment_policy %q (want manual, round_robin or least_loaded)", ErrInvalid, d.Policy)
	}
	if len(d.WorkingHours) > 0 {
		if _, err := sla.ParseWeek(d.WorkingHours); err != nil {
			return fmt.Errorf("%w: working_hours: %v", ErrInvalid, err)
		}
		if len(d.WorkingHours) > 28 {
			return fmt.Errorf("%w: working_hours: at most 28 intervals", ErrInvalid)
		}
	}
	return nil
}

// Validate reports what is wrong with c (the department's existence is
// the store's to check).
func (c Category) Validate() error {
	if !ValidID(c.Code) {
		return fmt.Errorf("%w: category code %q must be lower-case letters, digits, \".\", \"-\" and \"_\" (at most 63)", ErrInvalid, c.Code)
	}
	if err := validName("name", c.Name, 100); err != nil {
		return err
	}
	switch {
	case utf8.RuneCountInString(c.Description) > 1000:
		return fmt.Errorf("%w: description longer than 1000 characters", ErrInvalid)
	case c.DepartmentID == "":
		return fmt.Errorf("%w: department is required", ErrInvalid)
	case c.DefaultPriority < 1 || c.DefaultPriority > 4:
		return fmt.Errorf("%w: default_priority must be low, normal, high or urgent", ErrInvalid)
	case c.Skill != "" && !ValidID(c.Skill):
		return fmt.Errorf("%w: skill %q must be lower-case letters, digits, \".\", \"-\" and \"_\"", ErrInvalid, c.Skill)
	}
	return nil
}

// Roles an operator may have.
var Roles = []string{"operator", "supervisor", "admin"}

// Validate reports what is wrong with o.
func (o Operator) Validate() error {
	if !ValidID(o.ID) {
		return fmt.Errorf("%w: operator id %q must be lower-case letters, digits, \".\", \"-\" and \"_\" (at most 63)", ErrInvalid, o.ID)
	}
	if err := validName("display_name", o.DisplayName, 100); err != nil {
		return err
	}
	if o.Email != "" {
		if a, err := mail.ParseAddress(o.Email); err != nil || a.Address != o.Email {
			return fmt.Errorf("%w: email %q is not an address", ErrInvalid, o.Email)
		}
	}
	switch {
	case !slices.Contains(Roles, o.Role):
		return fmt.Errorf("%w: role %q (want operator, supervisor or admin)", ErrInvalid, o.Role)
	case !slices.Contains([]Presence{Online, Away, Offline}, o.Presence):
		return fmt.Errorf("%w: presence %q (want online, away or offline)", ErrInvalid, o.Presence)
	case o.Capacity < 0 || o.Capacity > 1000:
		return fmt.Errorf("%w: capacity must be 0 to 1000", ErrInvalid)
	case len(o.Departments) > 100 || len(o.Skills) > 100 || len(o.Languages) > 50:
		return fmt.Errorf("%w: too many departments, skills or languages", ErrInvalid)
	}
	for _, s := range append(slices.Clone(o.Departments), o.Skills...) {
		if !ValidID(s) {
			return fmt.Errorf("%w: %q is not a department or skill id", ErrInvalid, s)
		}
	}
	for _, l := range o.Languages {
		if !ValidLanguage(l) {
			return fmt.Errorf("%w: language %q (want an ISO 639-1 code such as \"it\")", ErrInvalid, l)
		}
	}
	return nil
}

// ValidLanguage reports whether s is a two-letter ISO 639-1 code.
func ValidLanguage(s string) bool { return cases.ValidLanguage(s) }

// ParsePresence validates a presence name.
func ParsePresence(s string) (Presence, error) {
	p := Presence(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains([]Presence{Online, Away, Offline}, p) {
		return "", fmt.Errorf("%w: presence %q (want online, away or offline)", ErrInvalid, s)
	}
	return p, nil
}

// Matches reports whether o may take a case needing skill (""= none) in
// language lang.
func (o Operator) Matches(skill, lang string) bool {
	return (skill == "" || slices.Contains(o.Skills, skill)) && (lang == "" || slices.Contains(o.Languages, lang))
}
