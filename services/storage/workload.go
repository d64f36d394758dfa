package storage

import (
	"context"

	"github.com/sportello/sportello/services/cases"
)

var _ cases.Workloads = (*DB)(nil)

var closedStatuses = []string{string(cases.StatusResolved), string(cases.StatusClosed)}

// Workload implements cases.Workloads with two aggregate queries over open
// cases (served by cases_department_status) and the directory.
func (db *DB) Workload(ctx context.Context, departments []string) ([]cases.DepartmentLoad, error) {
	g := db.gorm.WithContext(ctx)
	if departments == nil {
		if err := g.Model(&departmentRow{}).Order("id").Pluck("id", &departments).Error; err != nil {
			return nil, err
		}
	}
	var perDept []struct {
		DepartmentID     string
		Open, Unassigned int
	}
	err := g.Model(&caseRow{}).
		Select("department_id, COUNT(*) AS open, SUM(CASE WHEN assignee_id = '' THEN 1 ELSE 0 END) AS unassigned").
		Where("department_id IN ? AND status NOT IN ?", departments, closedStatuses).
		Group("department_id").Scan(&perDept).Error
	if err != nil {
		return nil, err
	}
	var perOp []struct {
		AssigneeID, DepartmentID string
		Open                     int
	}
	err = g.Model(&caseRow{}).Select("assignee_id, department_id, COUNT(*) AS open").
		Where("department_id IN ? AND status NOT IN ? AND assignee_id <> ''", departments, closedStatuses).
		Group("assignee_id, department_id").Scan(&perOp).Error
	if err != nil {
		return nil, err
	}
	open := map[[2]string]int{}
	for _, r := range perOp {
		open[[2]string{r.AssigneeID, r.DepartmentID}] = r.Open
	}
	byDept := map[string]cases.DepartmentLoad{}
	for _, r := range perDept {
		byDept[r.DepartmentID] = cases.DepartmentLoad{Department: r.DepartmentID, Open: r.Open, Unassigned: r.Unassigned}
	}
	out := make([]cases.DepartmentLoad, 0, len(departments))
	for _, d := range departments {
		dl := byDept[d]
		dl.Department = d
		ops, err := db.ListOperators(ctx, d)
		if err != nil {
			return nil, err
		}
		for _, o := range ops {
			dl.Operators = append(dl.Operators, cases.OperatorLoad{Operator: o.ID, DisplayName: o.DisplayName, Presence: string(o.Presence),
				Open: open[[2]string{o.ID, d}], OpenTotal: o.OpenCases, Capacity: o.Capacity})
		}
		out = append(out, dl)
	}
	return out, nil
}
