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
		if err := insertEvents(tx, rows, len(rows)); err != nil {
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

// insertEvents writes events and their outbox rows.
func insertEvents(tx *gorm.DB, rows []caseEventRow, perInsert int) error {
	if len(rows) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(rows, perInsert).Error; err != nil {
		return err
	}
	ob := make([]outboxRow, len(rows))
	for i, r := range rows {
		ob[i] = outboxRow{EventID: r.ID}
	}
	return tx.CreateInBatches(ob, perInsert).Error
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

// RelayEvents hands up to limit events waiting in the outbox, oldest
// first, to publish and removes them from the outbox only if publish
// returns nil; a crash in between publishes them again (the relay's message
// ids make that harmless).
//
// PostgreSQL: one transaction holding a transaction-scoped advisory lock,
// so one replica relays at a time and events leave in id order; the others
// return 0. Intake's writes are not blocked.
//
// SQLite: one process owns the file, so no lock is needed; the rows are
// read and published outside any transaction and deleted afterwards. A
// write transaction held across the publish would stall intake for as long
// as JetStream takes to store the batch.
func (db *DB) RelayEvents(ctx context.Context, limit int, publish func([]cases.Event) error) (int, error) {
	if db.dialect == SQLite {
		rows, err := waiting(db.gorm.WithContext(ctx), limit)
		if err != nil || len(rows) == 0 {
			return 0, err
		}
		if err := publishRows(rows, publish); err != nil {
			return 0, err
		}
		return len(rows), dequeue(db.gorm.WithContext(ctx), rows)
	}
	n := 0
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var got bool
		if err := tx.Raw("SELECT pg_try_advisory_xact_lock(?)", int64(relayLockID)).Scan(&got).Error; err != nil || !got {
			return err
		}
		rows, err := waiting(tx, limit)
		if err != nil || len(rows) == 0 {
			return err
		}
		if err := publishRows(rows, publish); err != nil {
			return err
		}
		n = len(rows)
		return dequeue(tx, rows)
	})
	return n, err
}

func waiting(tx *gorm.DB, limit int) ([]caseEventRow, error) {
	var rows []caseEventRow
	err := tx.Joins("JOIN case_event_outbox o ON o.event_id = case_events.id").
		Order("case_events.id").Limit(limit).Find(&rows).Error
	return rows, err
}

func publishRows(rows []caseEventRow, publish func([]cases.Event) error) error {
	evs, err := toEvents(rows)
	if err != nil {
		return err
	}
	return publish(evs)
}

func dequeue(tx *gorm.DB, rows []caseEventRow) error {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return tx.Where("event_id IN ?", ids).Delete(&outboxRow{}).Error
}

// RequeueEvents puts every event whose id is at or after from back in the
// outbox, for the relay to publish again; it returns how many it added.
// Event ids are UUIDv7, so "id >= from" is "created at or after from's
// time" on both engines.
func (db *DB) RequeueEvents(ctx context.Context, from string) (int, error) {
	if !validUUID(from) {
		return 0, fmt.Errorf("requeue: %q is not an event id", from)
	}
	res := db.gorm.WithContext(ctx).Exec(`INSERT INTO case_event_outbox (event_id)
		SELECT id FROM case_events WHERE id >= ? ON CONFLICT (event_id) DO NOTHING`, from)
	return int(res.RowsAffected), res.Error
}
