package storage

import (
	"context"
	"database/sql"
	"time"

	"github.com/sportello/sportello/services/cases"
)

var _ cases.Workloads = (*DB)(nil)

var closedStatuses = []string{string(cases.StatusResolved), string(cases.StatusClosed)}

// Workload implements cases.Workloads with two aggregate queries over open
// cases (served by cases_department_status) and the directory.
func (db *DB) Workload(ctx context.Context, departments []string, now time.Time) ([]cases.DepartmentLoad, error) {
	g := db.gorm.WithContext(ctx)
	if departments == nil {
		if err := g.Model(&departmentRow{}).Order("id").Pluck("id", &departments).Error; err != nil {
			return nil, err
		}
	}
	now = now.UTC()
	slaSums := "SUM(CASE WHEN sla_paused_at IS NULL AND sla_warn_at <= @now AND sla_due_at > @now THEN 1 ELSE 0 END) AS due_soon, " +
		"SUM(CASE WHEN sla_paused_at IS NULL AND sla_due_at <= @now THEN 1 ELSE 0 END) AS breached"
	var perDept []struct {
		DepartmentID                        string
		Open, Unassigned, DueSoon, Breached int
	}
	err := g.Model(&caseRow{}).
		Select("department_id, COUNT(*) AS open, SUM(CASE WHEN assignee_id = '' THEN 1 ELSE 0 END) AS unassigned, "+slaSums,
			sql.Named("now", now)).
		Where("department_id IN ? AND status NOT IN ?", departments, closedStatuses).
		Group("department_id").Scan(&perDept).Error
	if err != nil {
		return nil, err
	}
	var perOp []struct {
		AssigneeID, DepartmentID string
		Open, DueSoon, Breached  int
	}
	err = g.Model(&caseRow{}).Select("assignee_id, department_id, COUNT(*) AS open, "+slaSums, sql.Named("now", now)).
		Where("department_id IN ? AND status NOT IN ? AND assignee_id <> ''", departments, closedStatuses).
		Group("assignee_id, department_id").Scan(&perOp).Error
	if err != nil {
		return nil, err
	}
	type opLoad struct{ open, dueSoon, breached int }
	open := map[[2]string]opLoad{}
	for _, r := range perOp {
		open[[2]string{r.AssigneeID, r.DepartmentID}] = opLoad{r.Open, r.DueSoon, r.Breached}
	}
	byDept := map[string]cases.DepartmentLoad{}
	for _, r := range perDept {
		byDept[r.DepartmentID] = cases.DepartmentLoad{Department: r.DepartmentID, Open: r.Open, Unassigned: r.Unassigned,
			DueSoon: r.DueSoon, Breached: r.Breached}
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
			l := open[[2]string{o.ID, d}]
			dl.Operators = append(dl.Operators, cases.OperatorLoad{Operator: o.ID, DisplayName: o.DisplayName, Presence: string(o.Presence),
				Open: l.open, OpenTotal: o.OpenCases, Capacity: o.Capacity, DueSoon: l.dueSoon, Breached: l.breached})
		}
		out = append(out, dl)
	}
	return out, nil
}
