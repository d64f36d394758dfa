package cases

import (
	"context"

	"github.com/sportello/sportello/services/attachments"
)

// Attachments stores the metadata of uploads; services/storage implements
// it. Attaching them to a message is part of Messages.AddMessage.
type Attachments interface {
	// CreateAttachment records an upload of case a.CaseID, unattached, and
	// returns it with its creation time.
	CreateAttachment(ctx context.Context, a attachments.Attachment) (attachments.Attachment, error)
	// GetAttachment returns one upload, or attachments.ErrNotFound.
	GetAttachment(ctx context.Context, id string) (attachments.Attachment, error)
}
