package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/sla"
)

var _ sla.PolicySource = (*DB)(nil)

// ListSLAPolicies returns every target, by department and priority.
func (db *DB) ListSLAPolicies(ctx context.Context) ([]sla.Policy, error) {
	var rows []slaPolicyRow
	if err := db.gorm.WithContext(ctx).Order("department_id").Order("priority").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]sla.Policy, len(rows))
	for i, r := range rows {
		out[i] = sla.Policy{Department: r.DepartmentID, Priority: r.Priority, ResolutionMinutes: r.ResolutionMinutes,
			FirstResponseMinutes: r.FirstResponseMinutes}
	}
	return out, nil
}

// UpsertSLAPolicies creates or changes targets.
func (db *DB) UpsertSLAPolicies(ctx context.Context, ps []sla.Policy) error {
	rows := make([]slaPolicyRow, len(ps))
	for i, p := range ps {
		rows[i] = slaPolicyRow{DepartmentID: p.Department, Priority: p.Priority, ResolutionMinutes: p.ResolutionMinutes,
			FirstResponseMinutes: p.FirstResponseMinutes}
	}
	err := db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "department_id"}, {Name: "priority"}},
		DoUpdates: clause.AssignmentColumns([]string{"resolution_minutes", "first_response_minutes"}),
	}).Create(&rows).Error
	return directoryErr(err, "SLA policy")
}

// DepartmentHours implements sla.PolicySource.
func (db *DB) DepartmentHours(ctx context.Context) (map[string][]sla.DayHours, error) {
	var rows []departmentRow
	if err := db.gorm.WithContext(ctx).Where("working_hours <> ''").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string][]sla.DayHours, len(rows))
	for _, r := range rows {
		var h []sla.DayHours
		if err := json.Unmarshal([]byte(r.WorkingHours), &h); err != nil {
			return nil, fmt.Errorf("department %s: working hours: %w", r.ID, err)
		}
		if len(h) > 0 {
			out[r.ID] = h
		}
	}
	return out, nil
}
