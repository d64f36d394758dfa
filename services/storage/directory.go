package storage

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/directory"
)

var _ directory.Store = (*DB)(nil)

// ListDepartments returns the departments ordered by id.
func (db *DB) ListDepartments(ctx context.Context) ([]directory.Department, error) {
	var rows []departmentRow
	if err := db.gorm.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]directory.Department, len(rows))
	for i, r := range rows {
		out[i] = directory.Department{ID: r.ID, Name: r.Name, Policy: r.AssignmentPolicy}
	}
	return out, nil
}

// ListCategories returns the service catalogue ordered by code.
func (db *DB) ListCategories(ctx context.Context) ([]directory.Category, error) {
	var rows []categoryRow
	if err := db.gorm.WithContext(ctx).Order("code").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]directory.Category, len(rows))
	for i, r := range rows {
		out[i] = directory.Category{Code: r.Code, Name: r.Name, Description: r.Description, DepartmentID: r.DepartmentID}
	}
	return out, nil
}

// UpsertDepartments creates or renames departments.
func (db *DB) UpsertDepartments(ctx context.Context, ds []directory.Department) error {
	now := time.Now().UTC()
	rows := make([]departmentRow, len(ds))
	for i, d := range ds {
		p := d.Policy
		if p == "" {
			p = directory.PolicyManual
		}
		rows[i] = departmentRow{ID: d.ID, Name: d.Name, AssignmentPolicy: p, CreatedAt: now}
	}
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "assignment_policy"}),
	}).Create(&rows).Error
}

// UpsertCategories creates or updates catalogue items.
func (db *DB) UpsertCategories(ctx context.Context, cs []directory.Category) error {
	now := time.Now().UTC()
	rows := make([]categoryRow, len(cs))
	for i, c := range cs {
		rows[i] = categoryRow{Code: c.Code, Name: c.Name, Description: c.Description, DepartmentID: c.DepartmentID, CreatedAt: now}
	}
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "code"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "description", "department_id"}),
	}).Create(&rows).Error
}
