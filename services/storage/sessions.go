package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/session"
)

var _ session.Store = (*DB)(nil)

type webSessionRow struct {
	IDHash       string `gorm:"primaryKey;column:id_hash"`
	Subject      string
	Role         string
	Departments  string // JSON array
	OperatorID   string
	ContactID    string
	DisplayName  string
	FiscalNumber *string
	Provider     string
	CreatedAt    time.Time
	LastSeenAt   time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
	Data         []byte
}

func (webSessionRow) TableName() string { return "web_sessions" }

func (r webSessionRow) toRecord() (session.Record, error) {
	var depts []string
	if err := json.Unmarshal([]byte(r.Departments), &depts); err != nil {
		return session.Record{}, fmt.Errorf("session departments: %w", err)
	}
	rec := session.Record{IDHash: r.IDHash, Subject: r.Subject, Role: auth.Role(r.Role), Departments: depts,
		OperatorID: r.OperatorID, ContactID: r.ContactID, DisplayName: r.DisplayName, Provider: r.Provider,
		CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Data: r.Data}
	if r.FiscalNumber != nil {
		rec.FiscalNumber = *r.FiscalNumber
	}
	if r.RevokedAt != nil {
		rec.RevokedAt = r.RevokedAt.UTC()
	}
	return rec, nil
}

// CreateSession implements session.Store.
func (db *DB) CreateSession(ctx context.Context, rec session.Record) error {
	if rec.Departments == nil {
		rec.Departments = []string{}
	}
	depts, err := json.Marshal(rec.Departments)
	if err != nil {
		return err
	}
	row := webSessionRow{IDHash: rec.IDHash, Subject: rec.Subject, Role: string(rec.Role), Departments: string(depts),
		OperatorID: rec.OperatorID, ContactID: rec.ContactID, DisplayName: rec.DisplayName,
		FiscalNumber: optString(rec.FiscalNumber), Provider: rec.Provider, CreatedAt: rec.CreatedAt.UTC(),
		LastSeenAt: rec.LastSeenAt.UTC(), ExpiresAt: rec.ExpiresAt.UTC(), RevokedAt: optTime(rec.RevokedAt), Data: rec.Data}
	if err := db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// GetSession implements session.Store.
func (db *DB) GetSession(ctx context.Context, idHash string, now time.Time) (session.Record, error) {
	var rows []webSessionRow
	err := db.gorm.WithContext(ctx).
		Where("id_hash = ? AND revoked_at IS NULL AND expires_at > ?", idHash, now.UTC()).
		Limit(1).Find(&rows).Error
	if err != nil {
		return session.Record{}, fmt.Errorf("get session: %w", err)
	}
	if len(rows) == 0 {
		return session.Record{}, session.ErrNotFound
	}
	return rows[0].toRecord()
}

// TouchSession implements session.Store. The condition keeps last_seen_at
// monotonic when two replicas touch the same session.
func (db *DB) TouchSession(ctx context.Context, idHash string, seen time.Time) error {
	seen = seen.UTC()
	err := db.gorm.WithContext(ctx).Model(&webSessionRow{}).
		Where("id_hash = ? AND last_seen_at < ? AND revoked_at IS NULL", idHash, seen).
		Update("last_seen_at", seen).Error
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// RevokeSession implements session.Store.
func (db *DB) RevokeSession(ctx context.Context, idHash string, at time.Time) error {
	res := db.gorm.WithContext(ctx).Model(&webSessionRow{}).
		Where("id_hash = ? AND revoked_at IS NULL", idHash).
		Update("revoked_at", at.UTC())
	if res.Error != nil {
		return fmt.Errorf("revoke session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return session.ErrNotFound
	}
	return nil
}

// RevokeSubjectSessions implements session.Store. Sessions past their
// absolute expiry are left alone: they are dead already.
func (db *DB) RevokeSubjectSessions(ctx context.Context, subject string, at time.Time) (int, error) {
	at = at.UTC()
	res := db.gorm.WithContext(ctx).Model(&webSessionRow{}).
		Where("subject = ? AND revoked_at IS NULL AND expires_at > ?", subject, at).
		Update("revoked_at", at)
	if res.Error != nil {
		return 0, fmt.Errorf("revoke sessions of %s: %w", subject, res.Error)
	}
	return int(res.RowsAffected), nil
}

// deleteBatch bounds one cleanup statement, so a large backlog never holds
// a long write lock (SQLite) or a huge transaction (PostgreSQL).
const deleteBatch = 256

// DeleteExpiredSessions implements session.Store, in batches.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return db.deleteExpired(ctx, "web_sessions", "id_hash", now)
}

// deleteExpired deletes the rows of table whose expires_at <= now,
// deleteBatch at a time; key is the table's primary key.
func (db *DB) deleteExpired(ctx context.Context, table, key string, now time.Time) (int, error) {
	q := fmt.Sprintf("DELETE FROM %[1]s WHERE %[2]s IN (SELECT %[2]s FROM %[1]s WHERE expires_at <= ? LIMIT ?)", table, key)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res := db.gorm.WithContext(ctx).Exec(q, now.UTC(), deleteBatch)
		if res.Error != nil {
			return total, fmt.Errorf("delete expired %s: %w", table, res.Error)
		}
		total += int(res.RowsAffected)
		if res.RowsAffected < deleteBatch {
			return total, nil
		}
	}
}
