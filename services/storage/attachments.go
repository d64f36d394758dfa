package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/attachments"
	"github.com/sportello/sportello/services/cases"
)

var _ cases.Attachments = (*DB)(nil)

// CreateAttachment implements cases.Attachments: it records an upload of
// case a.CaseID, not attached to a message yet.
func (db *DB) CreateAttachment(ctx context.Context, a attachments.Attachment) (attachments.Attachment, error) {
	if !validUUID(a.ID) || !validUUID(a.CaseID) {
		return attachments.Attachment{}, fmt.Errorf("%w: %s", cases.ErrNotFound, a.CaseID)
	}
	a.MessageID = ""
	a.CreatedAt = time.Now().UTC().Truncate(time.Microsecond) // what PostgreSQL keeps
	row := attachmentRow{ID: a.ID, CaseID: a.CaseID, SHA256: a.SHA256, Size: a.Size, ContentType: a.ContentType,
		FileName: a.FileName, UploadedBy: a.UploadedBy, CreatedAt: a.CreatedAt}
	if err := db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return attachments.Attachment{}, err
	}
	return a, nil
}

// GetAttachment implements cases.Attachments.
func (db *DB) GetAttachment(ctx context.Context, id string) (attachments.Attachment, error) {
	if !validUUID(id) {
		return attachments.Attachment{}, fmt.Errorf("%w: %s", attachments.ErrNotFound, id)
	}
	var r attachmentRow
	err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return attachments.Attachment{}, fmt.Errorf("%w: %s", attachments.ErrNotFound, id)
	}
	if err != nil {
		return attachments.Attachment{}, err
	}
	return r.toAttachment(), nil
}

func (r attachmentRow) toAttachment() attachments.Attachment {
	a := attachments.Attachment{ID: r.ID, CaseID: r.CaseID, SHA256: r.SHA256, Size: r.Size, ContentType: r.ContentType,
		FileName: r.FileName, UploadedBy: r.UploadedBy, CreatedAt: r.CreatedAt.UTC()}
	if r.MessageID != nil {
		a.MessageID = *r.MessageID
	}
	return a
}

// attach gives message messageID of case caseID the uploads ids, in the
// transaction that adds the message. Only unattached uploads of that case
// qualify; the guarded update makes two messages racing for one upload
// leave it to the first.
func attach(tx *gorm.DB, caseID, messageID string, ids []string) ([]attachments.Attachment, error) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !validUUID(id) {
			return nil, fmt.Errorf("%w: attachment id %q is malformed", cases.ErrInvalidArgument, id)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: attachment %s is listed twice", cases.ErrInvalidArgument, id)
		}
		seen[id] = true
	}
	var rows []attachmentRow
	if err := tx.Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	byID := make(map[string]attachmentRow, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	out := make([]attachments.Attachment, 0, len(ids))
	for _, id := range ids {
		r, ok := byID[id]
		switch {
		case !ok || r.CaseID != caseID:
			// The same answer whether it does not exist or belongs to
			// another case: nothing leaks about other cases.
			return nil, fmt.Errorf("%w: attachment %s is not an upload of this case", cases.ErrInvalidArgument, id)
		case r.MessageID != nil:
			return nil, fmt.Errorf("%w: attachment %s is attached to message %s already; upload the file again to send it twice",
				cases.ErrFailedPrecondition, id, *r.MessageID)
		}
		r.MessageID = &messageID
		out = append(out, r.toAttachment())
	}
	res := tx.Model(&attachmentRow{}).Where("id IN ? AND case_id = ? AND message_id IS NULL", ids, caseID).Update("message_id", messageID)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected != int64(len(ids)) {
		return nil, fmt.Errorf("%w: an attachment was attached to another message meanwhile", cases.ErrFailedPrecondition)
	}
	return out, nil
}

// attachmentsOf returns the attachments of the messages ids by message id,
// each list oldest first: one query for a page of messages.
func attachmentsOf(tx *gorm.DB, ids []string) (map[string][]attachments.Attachment, error) {
	out := map[string][]attachments.Attachment{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []attachmentRow
	if err := tx.Where("message_id IN ?", ids).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[*r.MessageID] = append(out[*r.MessageID], r.toAttachment())
	}
	return out, nil
}
