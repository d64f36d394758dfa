package storage

import (
	"context"

	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/sla"
)

// ListSLAPolicies returns every resolution target.
func (db *DB) ListSLAPolicies(ctx context.Context) ([]sla.Policy, error) {
	var rows []slaPolicyRow
	if err := db.gorm.WithContext(ctx).Order("department_id").Order("priority").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]sla.Policy, len(rows))
	for i, r := range rows {
		out[i] = sla.Policy{Department: r.DepartmentID, Priority: r.Priority, ResolutionMinutes: r.ResolutionMinutes}
	}
	return out, nil
}

// UpsertSLAPolicies creates or changes resolution targets.
func (db *DB) UpsertSLAPolicies(ctx context.Context, ps []sla.Policy) error {
	rows := make([]slaPolicyRow, len(ps))
	for i, p := range ps {
		rows[i] = slaPolicyRow{DepartmentID: p.Department, Priority: p.Priority, ResolutionMinutes: p.ResolutionMinutes}
	}
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "department_id"}, {Name: "priority"}},
		DoUpdates: clause.AssignmentColumns([]string{"resolution_minutes"}),
	}).Create(&rows).Error
}
