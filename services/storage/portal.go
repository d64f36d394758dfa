package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/cases"
)

// CaseOfInbound returns the case that the inbound contact externalID of a
// channel instance became (its first message), for the portal's
// confirmation page. cases.ErrNotFound while intake has not made it yet.
func (db *DB) CaseOfInbound(ctx context.Context, channelKind, channelID, externalID string) (cases.Case, error) {
	var m messageRow
	err := db.gorm.WithContext(ctx).Select("case_id").
		Where("channel_kind = ? AND channel_id = ? AND external_id = ?", channelKind, channelID, externalID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return cases.Case{}, fmt.Errorf("%w: no case of contact %s yet", cases.ErrNotFound, externalID)
	}
	if err != nil {
		return cases.Case{}, err
	}
	return db.GetCase(ctx, m.CaseID)
}

// PortalDraft is a signed-in citizen's request not sent yet.
type PortalDraft struct {
	Category, Subject, Message string
	UpdatedAt                  time.Time
}

type portalDraftRow struct {
	ContactID string `gorm:"primaryKey"`
	Category  string
	Subject   string
	Message   string
	UpdatedAt time.Time
}

func (portalDraftRow) TableName() string { return "portal_drafts" }

// SaveDraft stores (or replaces) the draft of contact.
func (db *DB) SaveDraft(ctx context.Context, contact string, d PortalDraft) error {
	if !validUUID(contact) {
		return fmt.Errorf("save draft: %q is not a contact id", contact)
	}
	row := portalDraftRow{ContactID: contact, Category: d.Category, Subject: d.Subject, Message: d.Message, UpdatedAt: d.UpdatedAt.UTC()}
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "contact_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"category", "subject", "message", "updated_at"}),
	}).Create(&row).Error
}

// GetDraft returns contact's draft; ok is false when there is none.
func (db *DB) GetDraft(ctx context.Context, contact string) (d PortalDraft, ok bool, err error) {
	if !validUUID(contact) {
		return PortalDraft{}, false, nil
	}
	var row portalDraftRow
	err = db.gorm.WithContext(ctx).Where("contact_id = ?", contact).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return PortalDraft{}, false, nil
	}
	if err != nil {
		return PortalDraft{}, false, err
	}
	return PortalDraft{Category: row.Category, Subject: row.Subject, Message: row.Message, UpdatedAt: row.UpdatedAt}, true, nil
}

// DeleteDraft removes contact's draft, if any.
func (db *DB) DeleteDraft(ctx context.Context, contact string) error {
	if !validUUID(contact) {
		return nil
	}
	return db.gorm.WithContext(ctx).Where("contact_id = ?", contact).Delete(&portalDraftRow{}).Error
}
