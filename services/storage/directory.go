package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
)

var (
	_ directory.Store      = (*DB)(nil)
	_ directory.AdminStore = (*DB)(nil)
)

func (r departmentRow) toDepartment() directory.Department {
	d := directory.Department{ID: r.ID, Name: r.Name, Policy: r.AssignmentPolicy, MatchSkills: r.MatchSkills, Sticky: r.Sticky}
	if r.WorkingHours != "" {
		_ = json.Unmarshal([]byte(r.WorkingHours), &d.WorkingHours)
	}
	return d
}

func departmentToRow(d directory.Department, now time.Time) departmentRow {
	p := d.Policy
	if p == "" {
		p = directory.PolicyManual
	}
	hours := ""
	if len(d.WorkingHours) > 0 {
		b, _ := json.Marshal(d.WorkingHours)
		hours = string(b)
	}
	return departmentRow{ID: d.ID, Name: d.Name, AssignmentPolicy: p, MatchSkills: d.MatchSkills, Sticky: d.Sticky,
		WorkingHours: hours, CreatedAt: now}
}

// ListDepartments returns the departments ordered by id.
func (db *DB) ListDepartments(ctx context.Context) ([]directory.Department, error) {
	var rows []departmentRow
	if err := db.gorm.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]directory.Department, len(rows))
	for i, r := range rows {
		out[i] = r.toDepartment()
	}
	return out, nil
}

func (r categoryRow) toCategory() directory.Category {
	return directory.Category{Code: r.Code, Name: r.Name, Description: r.Description, DepartmentID: r.DepartmentID,
		DefaultPriority: r.DefaultPriority, Skill: r.Skill}
}

func categoryToRow(c directory.Category, now time.Time) categoryRow {
	if c.DefaultPriority == 0 {
		c.DefaultPriority = int(cases.PriorityNormal)
	}
	return categoryRow{Code: c.Code, Name: c.Name, Description: c.Description, DepartmentID: c.DepartmentID,
		DefaultPriority: c.DefaultPriority, Skill: c.Skill, CreatedAt: now}
}

// ListCategories returns the service catalogue ordered by code.
func (db *DB) ListCategories(ctx context.Context) ([]directory.Category, error) {
	var rows []categoryRow
	if err := db.gorm.WithContext(ctx).Order("code").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]directory.Category, len(rows))
	for i, r := range rows {
		out[i] = r.toCategory()
	}
	return out, nil
}

// UpsertDepartments creates or updates departments (demo data, config).
func (db *DB) UpsertDepartments(ctx context.Context, ds []directory.Department) error {
	defer db.forgetDepartments()
	now := time.Now().UTC()
	rows := make([]departmentRow, len(ds))
	for i, d := range ds {
		rows[i] = departmentToRow(d, now)
	}
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "assignment_policy", "match_skills", "sticky", "working_hours"}),
	}).Create(&rows).Error
}

// UpsertCategories creates or updates catalogue items.
func (db *DB) UpsertCategories(ctx context.Context, cs []directory.Category) error {
	now := time.Now().UTC()
	rows := make([]categoryRow, len(cs))
	for i, c := range cs {
		rows[i] = categoryToRow(c, now)
	}
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "code"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "description", "department_id", "default_priority", "skill"}),
	}).Create(&rows).Error
}

// directoryErr names what a failed directory write tripped over.
func directoryErr(err error, what string) error {
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("%w: %s", directory.ErrExists, what)
	case isForeignKeyViolation(err):
		return fmt.Errorf("%w: %s refers to an unknown department", directory.ErrInvalid, what)
	}
	return err
}

// CreateDepartment implements directory.AdminStore.
func (db *DB) CreateDepartment(ctx context.Context, d directory.Department) error {
	defer db.forgetDepartments()
	row := departmentToRow(d, time.Now().UTC())
	return directoryErr(db.gorm.WithContext(ctx).Create(&row).Error, "department "+d.ID)
}

// UpdateDepartment implements directory.AdminStore.
func (db *DB) UpdateDepartment(ctx context.Context, id string, fn func(*directory.Department) error) (directory.Department, error) {
	defer db.forgetDepartments()
	var out directory.Department
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r departmentRow
		if err := takeForUpdate(tx, &r, "id = ?", id); err != nil {
			return notFound(err, "department "+id)
		}
		d := r.toDepartment()
		if err := fn(&d); err != nil {
			return err
		}
		d.ID = r.ID
		row := departmentToRow(d, r.CreatedAt)
		out = d
		return tx.Model(&departmentRow{}).Where("id = ?", id).Updates(map[string]any{"name": row.Name,
			"assignment_policy": row.AssignmentPolicy, "match_skills": row.MatchSkills, "sticky": row.Sticky,
			"working_hours": row.WorkingHours}).Error
	})
	return out, err
}

// CreateCategory implements directory.AdminStore.
func (db *DB) CreateCategory(ctx context.Context, c directory.Category) error {
	row := categoryToRow(c, time.Now().UTC())
	return directoryErr(db.gorm.WithContext(ctx).Create(&row).Error, "category "+c.Code)
}

// UpdateCategory implements directory.AdminStore.
func (db *DB) UpdateCategory(ctx context.Context, code string, fn func(*directory.Category) error) (directory.Category, error) {
	var out directory.Category
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r categoryRow
		if err := takeForUpdate(tx, &r, "code = ?", code); err != nil {
			return notFound(err, "category "+code)
		}
		c := r.toCategory()
		if err := fn(&c); err != nil {
			return err
		}
		c.Code = r.Code
		out = c
		err := tx.Model(&categoryRow{}).Where("code = ?", code).Updates(map[string]any{"name": c.Name, "description": c.Description,
			"department_id": c.DepartmentID, "default_priority": c.DefaultPriority, "skill": c.Skill}).Error
		return directoryErr(err, "category "+code)
	})
	return out, err
}

// takeForUpdate reads one row, locked on PostgreSQL until the end of tx.
func takeForUpdate(tx *gorm.DB, dst any, where string, args ...any) error {
	q := tx.Where(where, args...)
	if tx.Dialector.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q.Take(dst).Error
}

func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%w: %s", directory.ErrNotFound, what)
	}
	return err
}

// CreateOperator implements directory.AdminStore.
func (db *DB) CreateOperator(ctx context.Context, o directory.Operator) error {
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := time.Now().UTC()
		row := operatorToRow(o, now)
		if err := tx.Create(&row).Error; err != nil {
			return directoryErr(err, "operator "+o.ID)
		}
		return directoryErr(setOperatorDepartments(tx, o.ID, o.Departments), "operator "+o.ID)
	})
	return err
}

// GetOperator implements directory.AdminStore.
func (db *DB) GetOperator(ctx context.Context, id string) (directory.Operator, error) {
	var r operatorRow
	if err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return directory.Operator{}, notFound(err, "operator "+id)
	}
	return db.withDepartments(db.gorm.WithContext(ctx), r)
}

func (db *DB) withDepartments(tx *gorm.DB, r operatorRow) (directory.Operator, error) {
	o := r.toOperator()
	err := tx.Model(&operatorDepartmentRow{}).Where("operator_id = ?", r.ID).Order("department_id").Pluck("department_id", &o.Departments).Error
	return o, err
}

// UpdateOperator implements directory.AdminStore; the open-case count is
// left alone (an operator whose capacity drops below it simply gets no
// new case until it falls).
func (db *DB) UpdateOperator(ctx context.Context, id string, fn func(*directory.Operator) error) (directory.Operator, error) {
	var out directory.Operator
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r operatorRow
		if err := takeForUpdate(tx, &r, "id = ?", id); err != nil {
			return notFound(err, "operator "+id)
		}
		o, err := db.withDepartments(tx, r)
		if err != nil {
			return err
		}
		if err := fn(&o); err != nil {
			return err
		}
		o.ID, o.OpenCases = r.ID, r.OpenCases
		row := operatorToRow(o, r.CreatedAt)
		if err := tx.Model(&operatorRow{}).Where("id = ?", id).Updates(map[string]any{"display_name": row.DisplayName,
			"email": row.Email, "role": row.Role, "capacity": row.Capacity, "skills": row.Skills, "languages": row.Languages,
			"updated_at": time.Now().UTC()}).Error; err != nil {
			return err
		}
		out = o
		return directoryErr(setOperatorDepartments(tx, id, o.Departments), "operator "+id)
	})
	return out, err
}

// unstarted are the statuses of a case not started yet, if nobody has
// replied to the citizen either: the operator has not got to it.
var unstarted = []string{string(cases.StatusNew), string(cases.StatusOpen)}

// SetPresence implements directory.AdminStore. The hand-back unassigns
// each case in a transaction of its own through UpdateCase, so it is
// recorded in the case's history and the capacity count follows; a case
// someone started meanwhile is left alone.
func (db *DB) SetPresence(ctx context.Context, id string, p directory.Presence, handBack bool, actor string) (directory.Operator, []string, error) {
	res := db.gorm.WithContext(ctx).Model(&operatorRow{}).Where("id = ?", id).
		Updates(map[string]any{"presence": string(p), "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return directory.Operator{}, nil, res.Error
	}
	if res.RowsAffected == 0 {
		return directory.Operator{}, nil, fmt.Errorf("%w: operator %s", directory.ErrNotFound, id)
	}
	var handed []string
	if handBack {
		var ids []string
		err := db.gorm.WithContext(ctx).Model(&caseRow{}).
			Where("assignee_id = ? AND status IN ? AND first_responded_at IS NULL", id, unstarted).
			Order("id").Pluck("id", &ids).Error
		if err != nil {
			return directory.Operator{}, nil, err
		}
		reason := fmt.Sprintf("handed back: %s is %s", id, p)
		for _, cid := range ids {
			changed := false
			_, err := db.UpdateCase(ctx, cid, 0, func(c *cases.Case) ([]cases.Event, error) {
				if c.Assignee != id || !slices.Contains(unstarted, string(c.Status)) || !c.FirstRespondedAt.IsZero() {
					return nil, nil
				}
				changed = true
				return cases.Assign(actor, "", reason)(c)
			})
			if err != nil && !errors.Is(err, cases.ErrConflict) {
				return directory.Operator{}, handed, err
			}
			if err == nil && changed {
				handed = append(handed, cid)
			}
		}
	}
	o, err := db.GetOperator(ctx, id)
	return o, handed, err
}

// UpdateRoutingRule implements directory.AdminStore.
func (db *DB) UpdateRoutingRule(ctx context.Context, id string, fn func(*directory.Rule) error) (directory.Rule, error) {
	var out directory.Rule
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r routingRuleRow
		if err := takeForUpdate(tx, &r, "id = ?", id); err != nil {
			return notFound(err, "routing rule "+id)
		}
		rule := r.toRule()
		if err := fn(&rule); err != nil {
			return err
		}
		rule.ID = r.ID
		kw, _ := json.Marshal(nonNil(rule.Keywords))
		err := tx.Model(&routingRuleRow{}).Where("id = ?", id).Updates(map[string]any{"name": rule.Name, "position": rule.Position,
			"department_id": rule.Department, "channel_kind": rule.ChannelKind, "channel_id": rule.ChannelID,
			"to_address": rule.ToAddress, "ivr_choice": rule.IVRChoice, "keywords": string(kw), "enabled": rule.Enabled}).Error
		switch {
		case isUniqueViolation(err):
			return fmt.Errorf("%w: a rule named %q exists", directory.ErrInvalidRule, rule.Name)
		case isForeignKeyViolation(err):
			return fmt.Errorf("%w: unknown department %q", directory.ErrInvalidRule, rule.Department)
		}
		out = rule
		return err
	})
	return out, err
}
