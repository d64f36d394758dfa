package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/sportello/sportello/services/directory"
)

var _ directory.CannedStore = (*DB)(nil)

type cannedRow struct {
	ID           string `gorm:"primaryKey"`
	DepartmentID string
	Title        string
	Body         string
	Language     string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (cannedRow) TableName() string { return "canned_responses" }

func (r cannedRow) toCanned() directory.CannedResponse {
	return directory.CannedResponse{ID: r.ID, Department: r.DepartmentID, Title: r.Title, Body: r.Body, Language: r.Language,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// ListCannedResponses returns those of departments (nil: all) and those
// for every department, by title.
func (db *DB) ListCannedResponses(ctx context.Context, departments []string) ([]directory.CannedResponse, error) {
	q := db.gorm.WithContext(ctx).Order("title").Order("id")
	if departments != nil {
		q = q.Where("department_id = '' OR department_id IN ?", append([]string{""}, departments...))
	}
	var rows []cannedRow
	if err := q.Limit(1000).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]directory.CannedResponse, len(rows))
	for i, r := range rows {
		out[i] = r.toCanned()
	}
	return out, nil
}

// CreateCannedResponse stores a new canned response.
func (db *DB) CreateCannedResponse(ctx context.Context, c directory.CannedResponse) (directory.CannedResponse, error) {
	now := time.Now().UTC()
	row := cannedRow{ID: uuid.Must(uuid.NewV7()).String(), DepartmentID: c.Department, Title: c.Title, Body: c.Body, Language: c.Language,
		CreatedAt: now, UpdatedAt: now}
	if err := db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return directory.CannedResponse{}, err
	}
	return row.toCanned(), nil
}

// UpdateCannedResponse applies fn to the stored entry in a transaction.
func (db *DB) UpdateCannedResponse(ctx context.Context, id string, fn func(*directory.CannedResponse) error) (directory.CannedResponse, error) {
	var out directory.CannedResponse
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r cannedRow
		if err := takeForUpdate(tx, &r, "id = ?", id); err != nil {
			return notFound(err, "canned response "+id)
		}
		c := r.toCanned()
		if err := fn(&c); err != nil {
			return err
		}
		c.ID, c.CreatedAt, c.UpdatedAt = r.ID, r.CreatedAt.UTC(), time.Now().UTC()
		out = c
		return tx.Model(&cannedRow{}).Where("id = ?", id).Updates(map[string]any{"department_id": c.Department, "title": c.Title,
			"body": c.Body, "language": c.Language, "updated_at": c.UpdatedAt}).Error
	})
	return out, err
}

// DeleteCannedResponse removes one.
func (db *DB) DeleteCannedResponse(ctx context.Context, id string) error {
	res := db.gorm.WithContext(ctx).Where("id = ?", id).Delete(&cannedRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: canned response %s", directory.ErrNotFound, id)
	}
	return nil
}
