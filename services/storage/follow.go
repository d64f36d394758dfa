package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/follow"
)

var _ follow.Store = (*DB)(nil)

type followLinkRow struct {
	TokenHash string `gorm:"primaryKey"`
	CaseID    string
	MessageID string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

func (followLinkRow) TableName() string { return "follow_links" }

// followKeep is how long expired links and old request counts are kept.
const followKeep = 24 * time.Hour

// FollowTarget implements follow.Store.
func (db *DB) FollowTarget(ctx context.Context, ref string) (cases.Case, string, error) {
	var r caseRow
	err := db.gorm.WithContext(ctx).Where("reference = ?", ref).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return cases.Case{}, "", fmt.Errorf("%w: reference %s", cases.ErrNotFound, ref)
	}
	if err != nil {
		return cases.Case{}, "", err
	}
	var mail []*string
	if err := db.gorm.WithContext(ctx).Raw("SELECT email FROM contacts WHERE id = ?", r.ContactID).Scan(&mail).Error; err != nil {
		return cases.Case{}, "", err
	}
	addr := ""
	if len(mail) == 1 && mail[0] != nil {
		addr = *mail[0]
	}
	return r.toCase(), addr, nil
}

// CreateFollowLink implements follow.Store.
func (db *DB) CreateFollowLink(ctx context.Context, l follow.Link, m cases.Message, fn cases.Mutation) error {
	if !validUUID(l.CaseID) || !validUUID(m.ID) {
		return fmt.Errorf("%w: %s", cases.ErrNotFound, l.CaseID)
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The message first: it reads the case (ErrNotFound without one).
		if _, _, err := db.addMessage(tx, l.CaseID, m, fn); err != nil {
			return err
		}
		now := l.CreatedAt.UTC()
		if err := tx.Model(&followLinkRow{}).Where("case_id = ? AND revoked_at IS NULL", l.CaseID).Update("revoked_at", now).Error; err != nil {
			return err
		}
		if err := tx.Where("expires_at < ?", now.Add(-followKeep)).Delete(&followLinkRow{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&followLinkRow{TokenHash: l.TokenHash, CaseID: l.CaseID, MessageID: m.ID, CreatedAt: now,
			ExpiresAt: l.ExpiresAt.UTC()}).Error; err != nil {
			return err
		}
		return nil
	})
	return retryable(err)
}

// FollowLink implements follow.Store.
func (db *DB) FollowLink(ctx context.Context, hash string, now time.Time) (follow.Link, error) {
	var r followLinkRow
	err := db.gorm.WithContext(ctx).Where("token_hash = ? AND revoked_at IS NULL AND expires_at > ?", hash, now.UTC()).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return follow.Link{}, follow.ErrInvalidToken
	}
	if err != nil {
		return follow.Link{}, err
	}
	var names []string
	if err := db.gorm.WithContext(ctx).Raw("SELECT ct.display_name FROM cases c JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = ?", r.CaseID).
		Scan(&names).Error; err != nil {
		return follow.Link{}, err
	}
	l := follow.Link{TokenHash: r.TokenHash, CaseID: r.CaseID, MessageID: r.MessageID, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	if len(names) == 1 {
		l.ContactName = names[0]
	}
	return l, nil
}

// CountFollowRequest implements follow.Store: one upsert, atomic on both
// databases, so concurrent requests on any replica count exactly.
func (db *DB) CountFollowRequest(ctx context.Context, bucket string, start time.Time) (int, error) {
	start = start.UTC()
	var n []int
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM follow_request_counts WHERE window_start < ?", start.Add(-followKeep)).Error; err != nil {
			return err
		}
		return tx.Raw(`INSERT INTO follow_request_counts (bucket, window_start, count) VALUES (?, ?, 1)
ON CONFLICT (bucket, window_start) DO UPDATE SET count = follow_request_counts.count + 1 RETURNING count`, bucket, start).Scan(&n).Error
	})
	if err != nil {
		return 0, retryable(err)
	}
	if len(n) != 1 {
		return 0, fmt.Errorf("follow request count: %d rows", len(n))
	}
	return n[0], nil
}
