// Package directory holds the administration's organisation: departments and
// the service catalogue (categories). It must not import storage or transport
// packages for its logic.
package directory

import (
	"context"

	"github.com/sportello/sportello/services/sla"
)

// Department is an office cases are routed to ("statistics").
type Department struct {
	ID   string
	Name string
	// Policy is how its cases get an operator: PolicyManual (operators
	// claim them), PolicyRoundRobin or PolicyLeastLoaded.
	Policy string
	// MatchSkills: automatic assignment and claims need the case's
	// required skill and language.
	MatchSkills bool
	// Sticky: automatic assignment prefers whoever last served the citizen.
	Sticky bool
	// WorkingHours of its own for SLA deadlines; nil for the default.
	WorkingHours []sla.DayHours
}

// Assignment policies.
const (
	PolicyManual      = "manual"
	PolicyRoundRobin  = "round_robin"
	PolicyLeastLoaded = "least_loaded"
)

// Category is a service catalogue item; requests of a category go to its
// department.
type Category struct {
	Code         string
	Name         string
	Description  string
	DepartmentID string
	// DefaultPriority of its cases (1 low ... 4 urgent; 0 means normal).
	DefaultPriority int
	// Skill operators need for its cases when the department matches skills.
	Skill string
}

// Presence is whether an operator is taking work.
type Presence string

const (
	Online  Presence = "online"
	Away    Presence = "away"
	Offline Presence = "offline"
)

// Operator is a member of staff who works cases.
type Operator struct {
	ID          string
	DisplayName string
	Email       string
	Role        string // operator, supervisor, admin
	Presence    Presence
	Capacity    int // most open cases assigned at once
	OpenCases   int // assigned and not resolved or closed
	Departments []string
	Skills      []string
	Languages   []string
}

// Store reads the directory. services/storage implements it.
type Store interface {
	ListDepartments(ctx context.Context) ([]Department, error)
	ListCategories(ctx context.Context) ([]Category, error)
	// ListOperators returns the operators of dept ("" for all), by id.
	ListOperators(ctx context.Context, dept string) ([]Operator, error)
}

// TriageDepartment receives what no category or rule routes elsewhere.
const TriageDepartment = "triage"
