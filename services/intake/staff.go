package intake

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
)

var _ cases.Creator = (*Service)(nil)

// StaffChannelID is the channel id of staff-created cases.
const StaffChannelID = "staff"

// CreateCase implements cases.Creator: the case goes through Ingest like
// a contact from any channel. Its external id is the caller and their
// request id, so a retried call finds the case created the first time.
func (s *Service) CreateCase(ctx context.Context, sc cases.StaffCase) (string, error) {
	reqID := sc.RequestID
	if reqID == "" {
		reqID = uuid.Must(uuid.NewV7()).String()
	}
	c := Contact{
		ID: reqID, ChannelKind: sc.ChannelKind, ChannelID: StaffChannelID, ExternalID: sc.Actor + "/" + reqID,
		SenderName: sc.ContactName, SenderEmail: sc.ContactEmail, SenderPhone: sc.ContactPhone, Subject: sc.Subject, Body: sc.Description,
		ReceivedAt: s.now().UTC(), CategoryHint: sc.Category, Language: sc.Language,
		Department: sc.Department, Priority: sc.Priority, Tags: sc.Tags, CreatedBy: sc.Actor,
	}
	if sc.Category != "" {
		cats, _, err := s.catalogue(ctx)
		if err != nil {
			return "", err
		}
		if _, ok := cats[sc.Category]; !ok {
			return "", fmt.Errorf("%w: unknown category %q", cases.ErrInvalidArgument, sc.Category)
		}
	}
	out, err := s.Ingest(ctx, []Contact{c})
	if err != nil {
		return "", err
	}
	if err := out[0].Err; err != nil {
		return "", fmt.Errorf("%w: %v", cases.ErrInvalidArgument, err)
	}
	return out[0].CaseID, nil
}

// Invalidate makes the next call reload the catalogue and rules, after an
// administrator changed them on this replica.
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.categories = nil
	s.mu.Unlock()
}
