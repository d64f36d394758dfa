package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/search"
)

var _ cases.Messages = (*DB)(nil)

type outboundOutboxRow struct {
	MessageID string `gorm:"primaryKey"`
}

func (outboundOutboxRow) TableName() string { return "outbound_outbox" }

// AddMessage implements cases.Messages.
func (db *DB) AddMessage(ctx context.Context, caseID string, m cases.Message, fn cases.Mutation) (cases.Message, cases.Case, error) {
	if !validUUID(caseID) || !validUUID(m.ID) {
		return cases.Message{}, cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, caseID)
	}
	var c cases.Case
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		m, c, err = db.addMessage(tx, caseID, m, fn)
		return err
	})
	if err != nil {
		return cases.Message{}, cases.Case{}, retryable(err)
	}
	return m, c, nil
}

// addMessage is AddMessage inside the caller's transaction tx.
func (db *DB) addMessage(tx *gorm.DB, caseID string, m cases.Message, fn cases.Mutation) (cases.Message, cases.Case, error) {
	var c cases.Case
	var r caseRow
	err := tx.Where("id = ?", caseID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return m, c, fmt.Errorf("%w: %s", cases.ErrNotFound, caseID)
	}
	if err != nil {
		return m, c, err
	}
	if c, err = db.apply(tx, r, fn); err != nil {
		return m, c, err
	}
	now := time.Now().UTC()
	m.CaseID, m.CreatedAt = c.ID, now
	if m.ChannelKind == "" {
		// A staff message belongs to the case's channel; a citizen's
		// portal message says where it was written.
		m.ChannelKind, m.ChannelID = c.ChannelKind, c.ChannelID
	}
	if m.Direction == cases.Outbound {
		m.DeliveryStatus = "queued"
	}
	row := messageRow{ID: m.ID, CaseID: c.ID, Direction: string(m.Direction), ChannelKind: m.ChannelKind, ChannelID: m.ChannelID,
		AuthorName: m.AuthorName, BodyText: m.Body, ReceivedAt: now, CreatedAt: now, DeliveryStatus: m.DeliveryStatus, Kind: m.Kind}
	if m.Template != nil {
		row.Kind, row.Template = "", encodeTemplate(*m.Template)
	}
	if err := tx.Create(&row).Error; err != nil {
		return m, c, err
	}
	if len(m.Attachments) > 0 {
		ids := make([]string, len(m.Attachments))
		for i, a := range m.Attachments {
			ids[i] = a.ID
		}
		if m.Attachments, err = attach(tx, c.ID, m.ID, ids); err != nil {
			return m, c, err
		}
	}
	// Automatic messages (Kind set: survey invitations carry a single-use
	// link) are not search terms.
	if m.Kind == "" {
		if err := addSearchTerms(tx, c.ID, m.Body); err != nil {
			return m, c, err
		}
	}
	if m.Direction == cases.Outbound {
		return m, c, tx.Create(&outboundOutboxRow{MessageID: m.ID}).Error
	}
	return m, c, nil
}

// ListMessages implements cases.Messages.
func (db *DB) ListMessages(ctx context.Context, caseID, after string, limit int) ([]cases.Message, error) {
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
	var rows []messageRow
	if err := tx.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	files, err := attachmentsOf(db.gorm.WithContext(ctx), ids)
	if err != nil {
		return nil, err
	}
	out := make([]cases.Message, len(rows))
	for i, r := range rows {
		out[i] = r.toMessage()
		out[i].Attachments = files[r.ID]
	}
	return out, nil
}

// GetMessage implements cases.Messages, without the attachments.
func (db *DB) GetMessage(ctx context.Context, id string) (cases.Message, error) {
	if !validUUID(id) {
		return cases.Message{}, fmt.Errorf("%w: message %s", cases.ErrNotFound, id)
	}
	var r messageRow
	err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return cases.Message{}, fmt.Errorf("%w: message %s", cases.ErrNotFound, id)
	}
	if err != nil {
		return cases.Message{}, err
	}
	return r.toMessage(), nil
}

func (r messageRow) toMessage() cases.Message {
	m := cases.Message{ID: r.ID, CaseID: r.CaseID, Direction: cases.Direction(r.Direction), ChannelKind: r.ChannelKind,
		ChannelID: r.ChannelID, AuthorName: r.AuthorName, Body: r.BodyText, CreatedAt: r.CreatedAt.UTC(), DeliveryStatus: r.DeliveryStatus,
		DeliveryError: r.DeliveryError, Kind: r.Kind}
	if t, ok := decodeTemplate(r.Template); ok {
		m.Template = &t
	} else if js, old := strings.CutPrefix(r.Kind, templateKindPrefix); old {
		t, _ := decodeTemplate(js)
		// Written before migration 00026 moved templates to their column.
		m.Kind = ""
		if t.Name != "" {
			m.Template = &t
		}
	}
	if r.ExternalID != nil {
		m.ExternalID = *r.ExternalID
	}
	return m
}

// RelayOutbound hands up to limit queued replies, oldest first, to
// publish, and takes them off the outbox only if publish returns nil (the
// OUTBOUND stream deduplicates by message id). It locks like RelayEvents.
func (db *DB) RelayOutbound(ctx context.Context, limit int, publish func([]cases.OutboundReply) error) (int, error) {
	return db.relay(ctx, outboundLockID, func(tx *gorm.DB) (int, error) {
		var rows []messageRow
		err := tx.Joins("JOIN outbound_outbox o ON o.message_id = messages.id").Order("messages.id").Limit(limit).Find(&rows).Error
		if err != nil || len(rows) == 0 {
			return 0, err
		}
		out, err := db.outbound(tx, rows)
		if err != nil {
			return 0, err
		}
		if err := publish(out); err != nil {
			return 0, err
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		return len(rows), tx.Where("message_id IN ?", ids).Delete(&outboundOutboxRow{}).Error
	})
}

// outbound adds to queued replies what a channel needs: the case, the
// recipient, and the citizen's messages to thread to.
func (db *DB) outbound(tx *gorm.DB, rows []messageRow) ([]cases.OutboundReply, error) {
	caseIDs := make([]string, 0, len(rows))
	for _, r := range rows {
		caseIDs = append(caseIDs, r.CaseID)
	}
	var cs []caseRow
	if err := tx.Where("id IN ?", caseIDs).Find(&cs).Error; err != nil {
		return nil, err
	}
	byID := map[string]caseRow{}
	contactIDs := []string{}
	for _, c := range cs {
		byID[c.ID] = c
		contactIDs = append(contactIDs, c.ContactID)
	}
	var contacts []contactRow
	if err := tx.Where("id IN ?", contactIDs).Find(&contacts).Error; err != nil {
		return nil, err
	}
	who := map[string]contactRow{}
	for _, c := range contacts {
		who[c.ID] = c
	}
	var inbound []messageRow
	if err := tx.Select("case_id", "external_id").Where("case_id IN ? AND direction = ? AND external_id IS NOT NULL", caseIDs, string(cases.Inbound)).
		Order("id").Find(&inbound).Error; err != nil {
		return nil, err
	}
	threads := map[string][]string{}
	for _, m := range inbound {
		threads[m.CaseID] = append(threads[m.CaseID], *m.ExternalID)
	}
	contactOf := map[string]string{}
	for _, c := range cs {
		contactOf[c.ID] = c.ContactID
	}
	handles, last, err := reachability(tx, rows, contactOf)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	files, err := attachmentsOf(tx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]cases.OutboundReply, len(rows))
	for i, r := range rows {
		c := byID[r.CaseID]
		ct := who[c.ContactID]
		o := cases.OutboundReply{Message: r.toMessage(), CaseReference: c.Reference, CaseSubject: c.Subject,
			ToName: ct.DisplayName, InReplyTo: threads[r.CaseID]}
		o.Attachments = files[r.ID]
		if ct.Email != nil {
			o.ToEmail = *ct.Email
		}
		if ct.Phone != nil {
			o.ToPhone = *ct.Phone
		}
		o.ToHandle = handles[reachKey{r.ChannelKind, c.ContactID}]
		o.LastInboundAt = last[lastKey{c.ContactID, r.ChannelKind, r.ChannelID}]
		out[i] = o
	}
	return out, nil
}

// addSearchTerms merges the terms of texts into the case's search terms.
func addSearchTerms(tx *gorm.DB, caseID string, texts ...string) error {
	// Raw SQL: the model writes search_terms on create only.
	var doc string
	if err := tx.Raw("SELECT search_terms FROM cases WHERE id = ?", caseID).Scan(&doc).Error; err != nil {
		return err
	}
	merged := search.Merge(doc, texts...)
	if merged == doc {
		return nil
	}
	return tx.Exec("UPDATE cases SET search_terms = ? WHERE id = ?", merged, caseID).Error
}

var _ cases.Deliveries = (*DB)(nil)

// RecordDelivery implements cases.Deliveries.
func (db *DB) RecordDelivery(ctx context.Context, d cases.Delivery) error {
	if !validUUID(d.MessageID) {
		return fmt.Errorf("%w: message %s", cases.ErrNotFound, d.MessageID)
	}
	switch d.Status {
	case cases.DeliverySending, cases.DeliverySent, cases.DeliveryDeferred, cases.DeliveryFailed, cases.DeliveryDelivered, cases.DeliveryRead:
	default:
		return fmt.Errorf("%w: delivery status %q", cases.ErrInvalidArgument, d.Status)
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var m messageRow
		err := tx.Where("id = ? AND direction = ?", d.MessageID, string(cases.Outbound)).Take(&m).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("%w: outbound message %s", cases.ErrNotFound, d.MessageID)
		}
		if err != nil {
			return err
		}
		if cases.DeliveryRank(d.Status) < cases.DeliveryRank(m.DeliveryStatus) {
			return nil // a late report of an earlier attempt or step
		}
		return db.setDelivery(tx, m, d)
	})
	return retryable(err)
}

// RecordDeliveryByExternalID records d (its MessageID ignored) on the
// outbound message of channel (kind, id) with that external id: a
// provider's status callback. ErrNotFound when there is none (yet: the
// callback may come before the replier recorded the provider's id).
func (db *DB) RecordDeliveryByExternalID(ctx context.Context, kind, channelID, externalID string, d cases.Delivery) error {
	if externalID == "" {
		return fmt.Errorf("%w: empty external id", cases.ErrNotFound)
	}
	var ids []string
	err := db.gorm.WithContext(ctx).Model(&messageRow{}).
		Where("channel_kind = ? AND channel_id = ? AND external_id = ? AND direction = ?", kind, channelID, externalID, string(cases.Outbound)).
		Limit(1).Pluck("id", &ids).Error
	if err == nil && len(ids) == 0 {
		// A later part of a message sent in several.
		err = db.gorm.WithContext(ctx).Table("message_parts").Joins("JOIN messages m ON m.id = message_parts.message_id").
			Where("m.channel_kind = ? AND m.channel_id = ? AND message_parts.external_id = ?", kind, channelID, externalID).
			Limit(1).Pluck("message_parts.message_id", &ids).Error
	}
	if err != nil {
		return retryable(err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: no outbound %s message %q on %s", cases.ErrNotFound, kind, externalID, channelID)
	}
	var parts int64
	if err := db.gorm.WithContext(ctx).Model(&messagePartRow{}).Where("message_id = ?", ids[0]).Count(&parts).Error; err != nil {
		return retryable(err)
	}
	d.MessageID, d.ExternalID = ids[0], ""
	if parts == 0 {
		return db.RecordDelivery(ctx, d)
	}
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		agg, err := recordPartStatus(tx, ids[0], externalID, d)
		if err != nil {
			return err
		}
		var m messageRow
		if err := tx.Where("id = ?", ids[0]).Take(&m).Error; err != nil {
			return err
		}
		// While the replier is still sending (or will retry), the parts
		// recorded so far are not all the parts: a status computed from
		// them could mark the message delivered with parts unsent, and a
		// retry would then take it as settled. The part keeps its status;
		// the message's follows from the callbacks after the replier settles.
		switch m.DeliveryStatus {
		case "queued", cases.DeliverySending, cases.DeliveryDeferred:
			return nil
		}
		if cases.DeliveryRank(agg.Status) <= cases.DeliveryRank(m.DeliveryStatus) {
			return nil
		}
		return db.setDelivery(tx, m, agg)
	})
	return retryable(err)
}

// setDelivery writes d on message m and, when m newly failed, records the
// failure in its case's history.
func (db *DB) setDelivery(tx *gorm.DB, m messageRow, d cases.Delivery) error {
	set := map[string]any{"delivery_status": d.Status, "delivery_error": clip.Bytes(d.Error, 2000)}
	if d.Attempts > m.DeliveryAttempts {
		set["delivery_attempts"] = d.Attempts
	}
	if d.ExternalID != "" && m.ExternalID == nil {
		set["external_id"] = d.ExternalID
	}
	newlyFailed := d.Status == cases.DeliveryFailed && m.DeliveryStatus != cases.DeliveryFailed
	q := tx.Model(&messageRow{}).Where("id = ?", m.ID)
	if newlyFailed {
		// m was read without a lock: of two failure reports at once (the
		// replier's and the provider's callback, or two parts), only the
		// one that moves the message to failed records the failure.
		q = q.Where("delivery_status <> ?", cases.DeliveryFailed)
	}
	res := q.Updates(set)
	if res.Error != nil {
		return res.Error
	}
	if !newlyFailed || res.RowsAffected == 0 {
		return nil
	}
	var r caseRow
	if err := tx.Where("id = ?", m.CaseID).Take(&r).Error; err != nil {
		return err
	}
	// The failure goes into the history and the outbox (the live queue and
	// the console show it) but leaves the case row, and so its version,
	// as it is: a delivery status is not part of what staff edit, and
	// bumping the version made an operator's next change on a page drawn
	// just before the report fail with "changed meanwhile" for nothing.
	rows, err := eventRows(r.toCase(), []cases.Event{{Type: cases.EventDeliveryFailed, Actor: cases.SystemActor, Reason: clip.Bytes(d.Error, 500),
		Changes: map[string]cases.Change{"message": {After: m.ID}, "delivery_status": {Before: m.DeliveryStatus, After: cases.DeliveryFailed}}}}, time.Now().UTC())
	if err != nil {
		return err
	}
	return insertEvents(tx, rows, len(rows))
}

type lastKey struct{ contact, kind, channel string }

// reachKey is a contact's handle on a channel kind.
type reachKey struct{ kind, contact string }

// reachability returns what a social channel needs to answer rows: the
// contacts' handles per channel kind (the newest wins) and when each last
// wrote on the rows' channel instances (the platform's reply window).
func reachability(tx *gorm.DB, rows []messageRow, contactOf map[string]string) (map[reachKey]string, map[lastKey]time.Time, error) {
	contactIDs := make([]string, 0, len(contactOf))
	for _, c := range contactOf {
		contactIDs = append(contactIDs, c)
	}
	var hs []contactHandleRow
	if err := tx.Where("contact_id IN ?", contactIDs).Order("created_at").Find(&hs).Error; err != nil {
		return nil, nil, err
	}
	handles := map[reachKey]string{}
	for _, h := range hs {
		handles[reachKey{h.ChannelKind, h.ContactID}] = h.Handle
	}
	last := map[lastKey]time.Time{}
	for _, r := range rows {
		k := lastKey{contactOf[r.CaseID], r.ChannelKind, r.ChannelID}
		if _, done := last[k]; done {
			continue
		}
		var got []messageRow
		err := tx.Model(&messageRow{}).Select("messages.received_at").Joins("JOIN cases c ON c.id = messages.case_id").
			Where("c.contact_id = ? AND messages.channel_kind = ? AND messages.channel_id = ? AND messages.direction = ?",
				k.contact, k.kind, k.channel, string(cases.Inbound)).
			Order("messages.received_at DESC").Limit(1).Find(&got).Error
		if err != nil {
			return nil, nil, err
		}
		last[k] = time.Time{}
		if len(got) == 1 {
			last[k] = got[0].ReceivedAt.UTC()
		}
	}
	return handles, last, nil
}

// LastInbound is when the contact last wrote on channel (kind, id), on
// any case; zero when never.
func (db *DB) LastInbound(ctx context.Context, contactID, kind, channelID string) (time.Time, error) {
	if !validUUID(contactID) {
		return time.Time{}, nil
	}
	var got []messageRow
	err := db.gorm.WithContext(ctx).Model(&messageRow{}).Select("messages.received_at").Joins("JOIN cases c ON c.id = messages.case_id").
		Where("c.contact_id = ? AND messages.channel_kind = ? AND messages.channel_id = ? AND messages.direction = ?",
			contactID, kind, channelID, string(cases.Inbound)).
		Order("messages.received_at DESC").Limit(1).Find(&got).Error
	if err != nil || len(got) == 0 {
		return time.Time{}, err
	}
	return got[0].ReceivedAt.UTC(), nil
}

// templateKindPrefix marked, in the messages.kind column, a reply sent
// as a message template before migration 00026 gave templates their own
// column: the prefix is followed by the template as JSON. Such rows are
// still read (a database restored from before the migration).
const templateKindPrefix = "template:"

// encodeTemplate is the messages.template column's value for t.
func encodeTemplate(t cases.Template) string {
	data, _ := json.Marshal(t)
	return string(data)
}

// decodeTemplate reads a messages.template value (the JSON of the old
// "template:<json>" kinds too).
func decodeTemplate(js string) (cases.Template, bool) {
	var t cases.Template
	if js == "" || json.Unmarshal([]byte(js), &t) != nil || t.Name == "" {
		return cases.Template{}, false
	}
	return t, true
}

var _ cases.Parts = (*DB)(nil)

// MessageParts implements cases.Parts.
func (db *DB) MessageParts(ctx context.Context, id string) ([]cases.Part, error) {
	if !validUUID(id) {
		return nil, nil
	}
	var rows []messagePartRow
	if err := db.gorm.WithContext(ctx).Where("message_id = ?", id).Order("part").Find(&rows).Error; err != nil {
		return nil, retryable(err)
	}
	out := make([]cases.Part, len(rows))
	for i, r := range rows {
		out[i] = cases.Part{MessageID: r.MessageID, Index: r.Part, ExternalID: r.ExternalID, Status: r.Status, Error: r.Error}
	}
	return out, nil
}

// RecordPart implements cases.Parts.
func (db *DB) RecordPart(ctx context.Context, p cases.Part) error {
	if !validUUID(p.MessageID) {
		return fmt.Errorf("%w: message %s", cases.ErrNotFound, p.MessageID)
	}
	row := messagePartRow{MessageID: p.MessageID, Part: p.Index, ExternalID: p.ExternalID, Status: p.Status,
		Error: clip.Bytes(p.Error, 2000), UpdatedAt: time.Now().UTC()}
	err := db.gorm.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "message_id"}, {Name: "part"}},
		DoUpdates: clause.AssignmentColumns([]string{"external_id", "status", "error", "updated_at"}),
	}).Create(&row).Error
	return retryable(err)
}

// recordPartStatus records a provider's report on one part of message id
// and returns the status the message as a whole now has: failed when a
// part failed, else the least advanced of its parts.
func recordPartStatus(tx *gorm.DB, id, externalID string, d cases.Delivery) (cases.Delivery, error) {
	var parts []messagePartRow
	if err := tx.Where("message_id = ?", id).Order("part").Find(&parts).Error; err != nil {
		return d, err
	}
	agg := cases.Delivery{MessageID: id, Status: cases.DeliveryRead}
	for _, p := range parts {
		if p.ExternalID == externalID && cases.DeliveryRank(d.Status) >= cases.DeliveryRank(p.Status) {
			p.Status, p.Error = d.Status, clip.Bytes(d.Error, 2000)
			if err := tx.Model(&messagePartRow{}).Where("message_id = ? AND part = ?", id, p.Part).
				Updates(map[string]any{"status": p.Status, "error": p.Error, "updated_at": time.Now().UTC()}).Error; err != nil {
				return d, err
			}
		}
		switch {
		case agg.Status == cases.DeliveryFailed:
		case p.Status == cases.DeliveryFailed:
			agg.Status, agg.Error = cases.DeliveryFailed, fmt.Sprintf("part %d of %d: %s", p.Part+1, len(parts), p.Error)
		case cases.DeliveryRank(p.Status) < cases.DeliveryRank(agg.Status):
			agg.Status = p.Status
		}
	}
	return agg, nil
}
