// Package directory holds the administration's organisation: departments and
// the service catalogue (categories). It must not import storage or transport
// packages for its logic.
package directory

import "context"

// Department is an office cases are routed to ("statistics").
type Department struct {
	ID   string
	Name string
}

// Category is a service catalogue item; requests of a category go to its
// department.
type Category struct {
	Code         string
	Name         string
	Description  string
	DepartmentID string
}

// Store reads the directory. services/storage implements it.
type Store interface {
	ListDepartments(ctx context.Context) ([]Department, error)
	ListCategories(ctx context.Context) ([]Category, error)
}

// TriageDepartment receives what no category or rule routes elsewhere.
const TriageDepartment = "triage"
