package storage

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/directory"
)

type operatorRow struct {
	ID          string `gorm:"primaryKey"`
	DisplayName string
	Email       string
	Role        string
	Presence    string
	Capacity    int
	OpenCases   int
	Skills      string
	Languages   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (operatorRow) TableName() string { return "operators" }

type operatorDepartmentRow struct {
	OperatorID   string `gorm:"primaryKey"`
	DepartmentID string `gorm:"primaryKey"`
}

func (operatorDepartmentRow) TableName() string { return "operator_departments" }

// ListOperators implements directory.Store.
func (db *DB) ListOperators(ctx context.Context, dept string) ([]directory.Operator, error) {
	tx := db.gorm.WithContext(ctx).Order("operators.id")
	if dept != "" {
		tx = tx.Joins("JOIN operator_departments od ON od.operator_id = operators.id AND od.department_id = ?", dept)
	}
	var rows []operatorRow
	if err := tx.Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var links []operatorDepartmentRow
	if err := db.gorm.WithContext(ctx).Where("operator_id IN ?", ids).Order("department_id").Find(&links).Error; err != nil {
		return nil, err
	}
	depts := map[string][]string{}
	for _, l := range links {
		depts[l.OperatorID] = append(depts[l.OperatorID], l.DepartmentID)
	}
	out := make([]directory.Operator, len(rows))
	for i, r := range rows {
		out[i] = r.toOperator()
		out[i].Departments = depts[r.ID]
	}
	return out, nil
}

func (r operatorRow) toOperator() directory.Operator {
	o := directory.Operator{ID: r.ID, DisplayName: r.DisplayName, Email: r.Email, Role: r.Role,
		Presence: directory.Presence(r.Presence), Capacity: r.Capacity, OpenCases: r.OpenCases}
	_ = json.Unmarshal([]byte(r.Skills), &o.Skills)
	_ = json.Unmarshal([]byte(r.Languages), &o.Languages)
	return o
}

func operatorToRow(o directory.Operator, created time.Time) operatorRow {
	skills, _ := json.Marshal(nonNil(o.Skills))
	langs, _ := json.Marshal(nonNil(o.Languages))
	return operatorRow{ID: o.ID, DisplayName: o.DisplayName, Email: o.Email, Role: o.Role, Presence: string(o.Presence),
		Capacity: o.Capacity, Skills: string(skills), Languages: string(langs), CreatedAt: created, UpdatedAt: time.Now().UTC()}
}

// setOperatorDepartments replaces the operator's departments.
func setOperatorDepartments(tx *gorm.DB, id string, depts []string) error {
	if err := tx.Where("operator_id = ?", id).Delete(&operatorDepartmentRow{}).Error; err != nil {
		return err
	}
	for _, d := range depts {
		if err := tx.Create(&operatorDepartmentRow{OperatorID: id, DepartmentID: d}).Error; err != nil {
			return err
		}
	}
	return nil
}

// UpsertOperators creates or updates operators and replaces their
// departments; their open-case counts are left alone.
func (db *DB) UpsertOperators(ctx context.Context, ops []directory.Operator) error {
	now := time.Now().UTC()
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, o := range ops {
			row := operatorToRow(o, now)
			err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "id"}},
				DoUpdates: clause.AssignmentColumns([]string{"display_name", "email", "role", "presence", "capacity", "skills", "languages", "updated_at"}),
			}).Create(&row).Error
			if err != nil {
				return err
			}
			if err := setOperatorDepartments(tx, o.ID, o.Departments); err != nil {
				return err
			}
		}
		return nil
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
