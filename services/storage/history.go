package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
)

var _ cases.History = (*DB)(nil)

// UpdateCase implements cases.History with a conditional update on the
// version, so two writers (goroutines or replicas) can never both apply a
// change to the same version of a case.
func (db *DB) UpdateCase(ctx context.Context, id string, expectVersion int64, fn cases.Mutation) (cases.Case, error) {
	if !validUUID(id) {
		return cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, id)
	}
	var out cases.Case
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r caseRow
		err := tx.Where("id = ?", id).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("%w: %s", cases.ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if expectVersion > 0 && r.Version != expectVersion {
			return fmt.Errorf("%w: it is at version %d, you sent %d", cases.ErrConflict, r.Version, expectVersion)
		}
		c := r.toCase()
		evs, err := fn(&c)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			out = r.toCase()
			return nil
		}
		now := time.Now().UTC()
		c.Version, c.UpdatedAt = r.Version+1, now
		res := tx.Model(&caseRow{}).Where("id = ? AND version = ?", id, r.Version).Updates(map[string]any{
			"subject": c.Subject, "status": string(c.Status), "priority": int(c.Priority), "category_code": c.Category,
			"department_id": c.Department, "assignee_id": c.Assignee, "updated_at": now, "version": c.Version,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("%w: updated concurrently", cases.ErrConflict)
		}
		rows, err := eventRows(c, evs, now)
		if err != nil {
			return err
		}
		if err := tx.Create(&rows).Error; err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// eventRows completes the events a mutation returned with what the store
// knows (ids, case, version, time) and turns them into rows.
func eventRows(c cases.Case, evs []cases.Event, now time.Time) ([]caseEventRow, error) {
	rows := make([]caseEventRow, len(evs))
	for i, e := range evs {
		changes, err := json.Marshal(e.Changes)
		if err != nil {
			return nil, err
		}
		if e.Changes == nil {
			changes = []byte("{}")
		}
		actor := e.Actor
		if actor == "" {
			actor = cases.SystemActor
		}
		rows[i] = caseEventRow{ID: uuid.Must(uuid.NewV7()).String(), CaseID: c.ID, Type: string(e.Type), Actor: actor,
			Reason: e.Reason, Changes: string(changes), DepartmentID: c.Department, CaseVersion: c.Version, CreatedAt: now}
	}
	return rows, nil
}

// ListCaseEvents implements cases.History.
func (db *DB) ListCaseEvents(ctx context.Context, caseID, after string, limit int) ([]cases.Event, error) {
	if !validUUID(caseID) {
		return nil, fmt.Errorf("%w: %s", cases.ErrNotFound, caseID)
	}
	tx := db.gorm.WithContext(ctx).Where("case_id = ?", caseID)
	if after != "" {
		if !validUUID(after) {
			return nil, fmt.Errorf("%w: malformed page_token", cases.ErrInvalidArgument)
		}
		tx = tx.Where("id > ?", after)
	}
	var rows []caseEventRow
	if err := tx.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return toEvents(rows)
}

func toEvents(rows []caseEventRow) ([]cases.Event, error) {
	out := make([]cases.Event, len(rows))
	for i, r := range rows {
		var ch map[string]cases.Change
		if err := json.Unmarshal([]byte(r.Changes), &ch); err != nil {
			return nil, fmt.Errorf("event %s: changes: %w", r.ID, err)
		}
		out[i] = cases.Event{ID: r.ID, CaseID: r.CaseID, Type: cases.EventType(r.Type), Actor: r.Actor, Reason: r.Reason,
			Changes: ch, Department: r.DepartmentID, CaseVersion: r.CaseVersion, Time: r.CreatedAt.UTC()}
	}
	return out, nil
}

// relayLockID keys the PostgreSQL advisory lock of the outbox relay.
const relayLockID = 0x53504f5254454c4c // "SPORTELL"

// RelayEvents hands up to limit unpublished events, oldest first, to
// publish and marks them published, in one transaction: if publish fails
// nothing is marked and the same events come again. On PostgreSQL a
// transaction-scoped advisory lock lets one replica relay at a time, so
// events leave in the order they were written; the others return 0.
func (db *DB) RelayEvents(ctx context.Context, limit int, publish func([]cases.Event) error) (int, error) {
	// A plain read first: an idle poll must not take SQLite's write lock
	// (immediate transactions take it at BEGIN).
	var pending []string
	if err := db.gorm.WithContext(ctx).Model(&caseEventRow{}).Where("published_at IS NULL").Limit(1).Pluck("id", &pending).Error; err != nil || len(pending) == 0 {
		return 0, err
	}
	n := 0
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if db.dialect == Postgres {
			var got bool
			if err := tx.Raw("SELECT pg_try_advisory_xact_lock(?)", int64(relayLockID)).Scan(&got).Error; err != nil {
				return err
			}
			if !got {
				return nil
			}
		}
		var rows []caseEventRow
		if err := tx.Where("published_at IS NULL").Order("id").Limit(limit).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		evs, err := toEvents(rows)
		if err != nil {
			return err
		}
		if err := publish(evs); err != nil {
			return err
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		n = len(rows)
		return tx.Model(&caseEventRow{}).Where("id IN ?", ids).Update("published_at", time.Now().UTC()).Error
	})
	return n, err
}
