package storage

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
)

var _ contacts.Merger = (*DB)(nil)

// EventContactMerged is the history entry of a case whose citizen record
// was merged into another.
const EventContactMerged cases.EventType = "contact_merged"

// MergeContacts implements contacts.Merger.
func (db *DB) MergeContacts(ctx context.Context, m contacts.Merge) (contacts.Contact, error) {
	if !validUUID(m.TargetID) || !validUUID(m.SourceID) {
		return contacts.Contact{}, fmt.Errorf("%w: %s or %s", contacts.ErrNotFound, m.TargetID, m.SourceID)
	}
	if m.TargetID == m.SourceID {
		return contacts.Contact{}, fmt.Errorf("%w: a contact cannot be merged into itself", cases.ErrInvalidArgument)
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []contactRow
		if err := tx.Where("id IN ?", []string{m.TargetID, m.SourceID}).Find(&rows).Error; err != nil {
			return err
		}
		var target, source *contactRow
		for i := range rows {
			switch rows[i].ID {
			case m.TargetID:
				target = &rows[i]
			case m.SourceID:
				source = &rows[i]
			}
		}
		if target == nil || source == nil {
			return fmt.Errorf("%w: %s or %s", contacts.ErrNotFound, m.TargetID, m.SourceID)
		}
		if target.FiscalCode != nil && source.FiscalCode != nil && *target.FiscalCode != *source.FiscalCode {
			return contacts.ErrDifferentPeople
		}
		var moved []caseRow
		if err := tx.Where("contact_id = ?", source.ID).Order("id").Find(&moved).Error; err != nil {
			return err
		}
		for _, c := range moved {
			if err := tx.Model(&caseRow{}).Where("id = ?", c.ID).Update("contact_id", target.ID).Error; err != nil {
				return err
			}
			c.ContactID = target.ID
			_, err := db.apply(tx, c, func(*cases.Case) ([]cases.Event, error) {
				return []cases.Event{{Type: EventContactMerged, Actor: m.Actor, Reason: m.Reason,
					Changes: map[string]cases.Change{"contact": {Before: source.ID, After: target.ID}}}}, nil
			})
			if err != nil {
				return err
			}
		}
		// A handle both hold stays the target's.
		if err := tx.Exec(`DELETE FROM contact_handles WHERE contact_id = ? AND EXISTS (SELECT 1 FROM contact_handles t
			WHERE t.contact_id = ? AND t.channel_kind = contact_handles.channel_kind AND t.handle = contact_handles.handle)`, source.ID, target.ID).Error; err != nil {
			return err
		}
		if err := tx.Exec("UPDATE contact_handles SET contact_id = ? WHERE contact_id = ?", target.ID, source.ID).Error; err != nil {
			return err
		}
		if err := tx.Exec("UPDATE web_sessions SET contact_id = ? WHERE contact_id = ?", target.ID, source.ID).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", source.ID).Delete(&contactRow{}).Error; err != nil {
			return err
		}
		set := map[string]any{}
		if target.Email == nil && source.Email != nil {
			set["email"] = *source.Email
		}
		if target.Phone == nil && source.Phone != nil {
			set["phone"] = *source.Phone
		}
		if target.FiscalCode == nil && source.FiscalCode != nil {
			set["fiscal_code"] = *source.FiscalCode
		}
		if target.DisplayName == "" && source.DisplayName != "" {
			set["display_name"] = source.DisplayName
		}
		if len(set) > 0 {
			return tx.Model(&contactRow{}).Where("id = ?", target.ID).Updates(set).Error
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, contacts.ErrNotFound) || errors.Is(err, contacts.ErrDifferentPeople) || errors.Is(err, cases.ErrInvalidArgument) {
			return contacts.Contact{}, err
		}
		return contacts.Contact{}, retryable(err)
	}
	return db.GetContact(ctx, m.TargetID)
}
