// Package directory holds the administration's organisation: departments and
// the service catalogue (categories). It must not import storage or transport
// packages for its logic.
package directory

import "context"

// Department is an office cases are routed to ("statistics").
type Department struct {
	ID   string
	Name string
	// Policy is how its cases get an operator: PolicyManual (operators
	// claim them), PolicyRoundRobin or PolicyLeastLoaded.
	Policy string
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
