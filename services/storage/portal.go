package storage

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

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
