package storage

import (
	"context"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"github.com/sportello/sportello/channels/phone"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/channels/threadkey"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/follow"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/search"
)

var _ intake.Store = (*DB)(nil)

// ErrConflict means a concurrent writer stored one of the same contacts
// first; retrying the whole call finds it and reports a duplicate.
var ErrConflict = errors.New("concurrent intake of the same contact")

type inboundKey struct{ kind, channel, external string }

// CreateCases implements intake.Store. In one transaction it finds contacts
// already stored (by channel and external id), resolves the citizen record
// of the others, appends those whose thread keys name a case of the same
// citizen to that case (as rule decides), allocates one block of
// references, and inserts the new cases with their first messages.
func (db *DB) CreateCases(ctx context.Context, year int, batch []intake.NewCase, rule intake.FollowUpRule) ([]intake.Outcome, error) {
	out := make([]intake.Outcome, len(batch))
	twin := make(map[int]int)
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		existing, err := findInbound(tx, batch)
		if err != nil {
			return err
		}
		var fresh []int
		seen := make(map[inboundKey]int)
		for i, nc := range batch {
			k := inboundKey{nc.ChannelKind, nc.ChannelID, nc.ExternalID}
			if caseID, ok := existing[k]; ok {
				out[i] = intake.Outcome{CaseID: caseID, Duplicate: true}
				continue
			}
			if j, ok := seen[k]; ok { // twice in this batch: the first one wins
				twin[i] = j
				continue
			}
			seen[k] = i
			fresh = append(fresh, i)
		}
		if fresh, err = db.recordBounces(tx, batch, fresh, out); err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		contactIDs, err := resolveContacts(tx, batch, fresh, db.rowsPerInsert())
		if err != nil {
			return err
		}
		matched, err := matchThreads(tx, batch, fresh, contactIDs, rule.Now)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		var opened []int
		followsUp := map[int]followUpOf{}
		for _, i := range fresh {
			caseID, ok := matched[i]
			if !ok {
				opened = append(opened, i)
				continue
			}
			o, f, err := db.followUp(tx, batch[i], caseID, rule, now)
			if err != nil {
				return err
			}
			if f != nil {
				followsUp[i] = *f
				opened = append(opened, i)
				continue
			}
			out[i] = o
		}
		return db.openCases(tx, year, batch, opened, contactIDs, followsUp, out, now, rule.Acks)
	})
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("%w: %v", ErrConflict, err)
	}
	if isForeignKeyViolation(err) {
		// Only a department named by staff can be unknown: routing takes
		// them from categories and rules, which reference departments.
		return nil, fmt.Errorf("%w: unknown department", cases.ErrInvalidArgument)
	}
	if err != nil {
		return nil, retryable(err)
	}
	for i, j := range twin {
		out[i] = intake.Outcome{CaseID: out[j].CaseID, Duplicate: true}
	}
	return out, nil
}

// followUpOf is an old case a new one follows up, and why.
type followUpOf struct{ caseID, reference, reason string }

// followUp stores nc on the case it matched, as rule decides; or, when the
// case was settled too long ago, returns the old case for a new one to
// follow up.
func (db *DB) followUp(tx *gorm.DB, nc intake.NewCase, caseID string, rule intake.FollowUpRule, now time.Time) (intake.Outcome, *followUpOf, error) {
	// Read again: an earlier contact of this batch may have changed it.
	var r caseRow
	if err := tx.Where("id = ?", caseID).Take(&r).Error; err != nil {
		return intake.Outcome{}, nil, err
	}
	msgID := uuid.Must(uuid.NewV7()).String()
	plan := rule.FollowUp(r.toCase(), msgID)
	if plan.Action == intake.ActionCreated {
		return intake.Outcome{}, &followUpOf{caseID: r.ID, reference: r.Reference, reason: plan.Reason}, nil
	}
	c, err := db.apply(tx, r, plan.Mutation)
	if err != nil {
		return intake.Outcome{}, nil, err
	}
	ext := nc.ExternalID
	row := messageRow{ID: msgID, CaseID: c.ID, Direction: string(cases.Inbound), ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID,
		ExternalID: &ext, InboundID: nc.ID, AuthorName: nc.SenderName, AuthorEmail: nc.SenderEmail,
		BodyText: nc.Body, ReceivedAt: nc.ReceivedAt.UTC(), CreatedAt: now}
	if err := tx.Create(&row).Error; err != nil {
		return intake.Outcome{}, nil, err
	}
	if err := insertExtras(tx, []intake.NewCase{nc}, []string{c.ID}, []string{msgID}, db.rowsPerInsert(), now); err != nil {
		return intake.Outcome{}, nil, err
	}
	if err := addSearchTerms(tx, c.ID, nc.Body); err != nil {
		return intake.Outcome{}, nil, err
	}
	return intake.Outcome{CaseID: c.ID, Reference: c.Reference, Action: plan.Action}, nil, nil
}

// openCases inserts a case with its first message for each contact of
// batch listed in opened, and links those that follow up an old case.
func (db *DB) openCases(tx *gorm.DB, year int, batch []intake.NewCase, opened []int, contactIDs map[int]string,
	followsUp map[int]followUpOf, out []intake.Outcome, now time.Time, acks intake.Acknowledgements) error {
	if len(opened) == 0 {
		return nil
	}
	last, err := allocateReferences(tx, year, len(opened))
	if err != nil {
		return err
	}
	caseRows := make([]caseRow, len(opened))
	msgRows := make([]messageRow, len(opened))
	var tagRows []caseTagRow
	for n, i := range opened {
		nc := batch[i]
		if nc.Priority == 0 {
			nc.Priority = cases.PriorityNormal
		}
		if nc.Language == "" {
			nc.Language = "it"
		}
		id := uuid.Must(uuid.NewV7()).String()
		ref := fmt.Sprintf("%d-%06d", year, last-int64(len(opened))+int64(n)+1)
		caseRows[n] = caseRow{
			ID: id, Reference: ref, Subject: nc.Subject, Description: nc.Body,
			Status: string(cases.StatusNew), Priority: int(nc.Priority),
			CategoryCode: nc.Category, DepartmentID: nc.Department,
			ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID, ContactID: contactIDs[i],
			CreatedAt: now, UpdatedAt: now, Version: 1,
			SLADueAt: dueOrNone(nc.SLADueAt), SLAWarnAt: optTime(nc.SLAWarnAt),
			FirstResponseDueAt: optTime(nc.FirstResponseDueAt),
			Language:           nc.Language, RequiredSkill: nc.RequiredSkill, Tags: strings.Join(nc.Tags, " "),
			SearchTerms:   search.Document(nc.Subject, nc.Body),
			ThreadSubject: threadSubject(nc.Keys),
		}
		for _, t := range nc.Tags {
			tagRows = append(tagRows, caseTagRow{CaseID: id, Tag: t})
		}
		msgRows[n] = messageRow{
			ID: uuid.Must(uuid.NewV7()).String(), CaseID: id, Direction: string(cases.Inbound),
			ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID, ExternalID: &batch[i].ExternalID,
			InboundID: nc.ID, AuthorName: nc.SenderName, AuthorEmail: nc.SenderEmail,
			BodyText: nc.Body, ReceivedAt: nc.ReceivedAt.UTC(), CreatedAt: now,
		}
		out[i] = intake.Outcome{CaseID: id, Reference: ref, Action: intake.ActionCreated, LinkedTo: followsUp[i].caseID}
	}
	ackRows, linkRows, err := acknowledgements(tx, batch, opened, caseRows, contactIDs, acks, now)
	if err != nil {
		return err
	}
	var evRows []caseEventRow
	for n, i := range opened {
		c := caseRows[n].toCase()
		changes := map[string]cases.Change{"status": {After: string(cases.StatusNew)}, "department": {After: c.Department}}
		reason := batch[i].RoutingNote
		if f, ok := followsUp[i]; ok {
			changes["follow_up_of"] = cases.Change{After: f.caseID}
			reason = strings.TrimPrefix(reason+"; "+f.reason, "; ")
		}
		actor := batch[i].CreatedBy
		if actor == "" {
			actor = cases.SystemActor
		}
		evs := []cases.Event{{Type: cases.EventCreated, Actor: actor, Reason: reason, Changes: changes}}
		if ack, ok := ackRows[n]; ok {
			evs = append(evs, cases.Event{Type: cases.EventMessageAdded, Actor: cases.SystemActor, Reason: "automatic acknowledgement",
				Changes: map[string]cases.Change{"message": {After: ack.ID}, "direction": {After: string(cases.Outbound)}}})
		}
		rows, err := eventRows(c, evs, now)
		if err != nil {
			return err
		}
		evRows = append(evRows, rows...)
	}
	if err := tx.CreateInBatches(caseRows, db.rowsPerInsert()).Error; err != nil {
		return err
	}
	if err := tx.CreateInBatches(msgRows, db.rowsPerInsert()).Error; err != nil {
		return err
	}
	openedNCs, caseIDs, msgIDs := make([]intake.NewCase, len(opened)), make([]string, len(opened)), make([]string, len(opened))
	for n, i := range opened {
		openedNCs[n], caseIDs[n], msgIDs[n] = batch[i], caseRows[n].ID, msgRows[n].ID
	}
	if err := insertExtras(tx, openedNCs, caseIDs, msgIDs, db.rowsPerInsert(), now); err != nil {
		return err
	}
	if len(ackRows) > 0 {
		acked := make([]messageRow, 0, len(ackRows))
		queued := make([]outboundOutboxRow, 0, len(ackRows))
		for n := range opened {
			if r, ok := ackRows[n]; ok {
				acked = append(acked, r)
				queued = append(queued, outboundOutboxRow{MessageID: r.ID})
			}
		}
		if err := tx.CreateInBatches(acked, db.rowsPerInsert()).Error; err != nil {
			return err
		}
		if err := tx.CreateInBatches(queued, db.rowsPerInsert()).Error; err != nil {
			return err
		}
	}
	if len(linkRows) > 0 {
		if err := tx.CreateInBatches(linkRows, db.rowsPerInsert()).Error; err != nil {
			return err
		}
	}
	if len(tagRows) > 0 {
		if err := tx.CreateInBatches(tagRows, db.rowsPerInsert()).Error; err != nil {
			return err
		}
	}
	if err := insertEvents(tx, evRows, db.rowsPerInsert()); err != nil {
		return err
	}
	for _, i := range opened {
		f, ok := followsUp[i]
		if !ok {
			continue
		}
		if err := db.linkFollowUp(tx, out[i], f, now); err != nil {
			return err
		}
	}
	return nil
}

// linkFollowUp links the new case o to the old case it follows up, with
// the reason in the old case's history too.
func (db *DB) linkFollowUp(tx *gorm.DB, o intake.Outcome, f followUpOf, now time.Time) error {
	err := tx.Create(&caseLinkRow{SourceID: o.CaseID, TargetID: f.caseID, Kind: intake.FollowUpLink,
		Actor: cases.SystemActor, Reason: f.reason, CreatedAt: now}).Error
	if err != nil {
		return err
	}
	var r caseRow
	if err := tx.Where("id = ?", f.caseID).Take(&r).Error; err != nil {
		return err
	}
	_, err = db.apply(tx, r, func(*cases.Case) ([]cases.Event, error) {
		return []cases.Event{{Type: cases.EventLinked, Actor: cases.SystemActor,
			Reason:  fmt.Sprintf("%s (new case %s)", f.reason, o.Reference),
			Changes: map[string]cases.Change{"link": {After: o.CaseID}, "kind": {After: "followed_up_by"}}}}, nil
	})
	return err
}

// rowsPerInsert sizes multi-row INSERTs. The SQLite driver binds each
// positional parameter with a scan of all arguments (quadratic in the
// statement's parameters), so SQLite gets short statements; measured in
// docs/benchmarks.md.
func (db *DB) rowsPerInsert() int {
	if db.dialect == SQLite {
		return 32
	}
	return 200
}

// findInbound returns the case id of every batch contact already stored.
// It asks once per channel with "external_id IN (...)": PostgreSQL plans a
// 1,000-tuple "(kind, channel, external_id) IN (...)" in ~200 ms, the
// grouped form in under 1 ms (docs/benchmarks.md).
const inboundLookup = "channel_kind = ? AND channel_id = ? AND external_id IN ?"

func findInbound(tx *gorm.DB, batch []intake.NewCase) (map[inboundKey]string, error) {
	type channel struct{ kind, id string }
	groups := make(map[channel][]string)
	for _, nc := range batch {
		ch := channel{nc.ChannelKind, nc.ChannelID}
		groups[ch] = append(groups[ch], nc.ExternalID)
	}
	m := make(map[inboundKey]string)
	for ch, ids := range groups {
		var rows []messageRow
		err := tx.Select("external_id", "case_id").Where(inboundLookup, ch.kind, ch.id, ids).Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("find stored contacts: %w", err)
		}
		for _, r := range rows {
			m[inboundKey{ch.kind, ch.id, *r.ExternalID}] = r.CaseID
		}
	}
	return m, nil
}

// identity is what a contact tells about its sender, normalised.
type identity struct{ fiscal, email, phone, kind, handle string }

func identityOf(c intake.Contact) identity {
	id := identity{
		fiscal: strings.ToUpper(strings.TrimSpace(c.SenderFiscalCode)),
		email:  strings.ToLower(strings.TrimSpace(c.SenderEmail)),
		phone:  normalisePhone(c.SenderPhone),
		handle: strings.TrimSpace(c.SenderHandle),
	}
	if id.handle != "" {
		id.kind = c.ChannelKind
	}
	return id
}

// normalisePhone writes a number one way for every channel (see
// channels/phone): "+39 333 1234567", "3331234567" and WhatsApp's
// "393331234567" are one contact's phone.
func normalisePhone(s string) string { return phone.Normalise(s) }

type handleKey struct{ kind, handle string }

// contactIndex finds contact records by each identifier.
type contactIndex struct {
	byFiscal, byEmail, byPhone map[string]*contactRow
	byHandle                   map[handleKey]*contactRow
}

func newContactIndex() *contactIndex {
	return &contactIndex{byFiscal: map[string]*contactRow{}, byEmail: map[string]*contactRow{},
		byPhone: map[string]*contactRow{}, byHandle: map[handleKey]*contactRow{}}
}

func (x *contactIndex) add(r *contactRow) {
	if r.FiscalCode != nil {
		x.byFiscal[*r.FiscalCode] = r
	}
	if r.Email != nil {
		x.byEmail[*r.Email] = r
	}
	if r.Phone != nil {
		x.byPhone[*r.Phone] = r
	}
}

// find applies the resolution order: fiscal code, e-mail, phone, handle.
func (x *contactIndex) find(id identity) *contactRow {
	if r := x.byFiscal[id.fiscal]; id.fiscal != "" && r != nil {
		return r
	}
	if r := x.byEmail[id.email]; id.email != "" && r != nil {
		return r
	}
	if r := x.byPhone[id.phone]; id.phone != "" && r != nil {
		return r
	}
	if r := x.byHandle[handleKey{id.kind, id.handle}]; id.handle != "" && r != nil {
		return r
	}
	return nil
}

// lookupContacts loads the records holding any of ids' identifiers: one
// query on contacts, and one per channel kind on handles when a contact
// carries one (the web form's e-mail-only batches make one query).
func lookupContacts(tx *gorm.DB, ids []identity, x *contactIndex) error {
	var fiscal, email, phone []string
	handles := map[string][]string{}
	for _, id := range ids {
		if id.fiscal != "" {
			fiscal = append(fiscal, id.fiscal)
		}
		if id.email != "" {
			email = append(email, id.email)
		}
		if id.phone != "" {
			phone = append(phone, id.phone)
		}
		if id.handle != "" {
			handles[id.kind] = append(handles[id.kind], id.handle)
		}
	}
	var conds []string
	var args []any
	for _, c := range []struct {
		col  string
		vals []string
	}{{"fiscal_code", fiscal}, {"email", email}, {"phone", phone}} {
		if len(c.vals) > 0 {
			conds = append(conds, c.col+" IN ?")
			args = append(args, c.vals)
		}
	}
	if len(conds) > 0 {
		var rows []contactRow
		if err := tx.Where(strings.Join(conds, " OR "), args...).Find(&rows).Error; err != nil {
			return fmt.Errorf("find contacts: %w", err)
		}
		for i := range rows {
			x.add(&rows[i])
		}
	}
	for kind, hs := range handles {
		var rows []struct {
			Handle string
			contactRow
		}
		err := tx.Table("contact_handles h").Select("h.handle, c.*").Joins("JOIN contacts c ON c.id = h.contact_id").
			Where("h.channel_kind = ? AND h.handle IN ?", kind, hs).Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("find contacts by handle: %w", err)
		}
		for i := range rows {
			r := rows[i].contactRow
			x.byHandle[handleKey{kind, rows[i].Handle}] = &r
		}
	}
	return nil
}

// resolveContacts finds or creates the citizen record of each fresh
// contact: by fiscal code, then e-mail, then phone, then (channel kind,
// handle); one record across channels. A record found by one identifier
// learns the others the contact carries when no other record holds them.
// A contact with no identifier gets a record of its own.
func resolveContacts(tx *gorm.DB, batch []intake.NewCase, fresh []int, rowsPerInsert int) (map[int]string, error) {
	now := time.Now().UTC()
	ids := make(map[int]string, len(fresh))
	idents := make(map[int]identity, len(fresh))
	var all []identity
	for _, i := range fresh {
		idents[i] = identityOf(batch[i].Contact)
		all = append(all, idents[i])
	}
	x := newContactIndex()
	if err := lookupContacts(tx, all, x); err != nil {
		return nil, err
	}
	var created []contactRow
	var createdIdents []identity
	found := map[int]*contactRow{} // records that existed before
	isNew := map[string]bool{}
	for _, i := range fresh {
		id := idents[i]
		if r := x.find(id); r != nil {
			ids[i] = r.ID
			if !isNew[r.ID] {
				found[i] = r
			}
			continue
		}
		r := contactRow{ID: uuid.Must(uuid.NewV7()).String(), DisplayName: batch[i].SenderName,
			Email: optString(id.email), Phone: optString(id.phone), FiscalCode: optString(id.fiscal), CreatedAt: now}
		created = append(created, r)
		isNew[r.ID] = true
		createdIdents = append(createdIdents, id)
		ids[i] = r.ID
		if id != (identity{}) {
			x.add(&contactRow{ID: r.ID, Email: r.Email, Phone: r.Phone, FiscalCode: r.FiscalCode, DisplayName: r.DisplayName})
			if id.handle != "" {
				x.byHandle[handleKey{id.kind, id.handle}] = &contactRow{ID: r.ID, DisplayName: r.DisplayName}
			}
		}
	}
	if len(created) > 0 {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(created, rowsPerInsert)
		if res.Error != nil {
			return nil, fmt.Errorf("create contacts: %w", res.Error)
		}
		if int(res.RowsAffected) < len(created) {
			// A concurrent writer created some of the same citizens first:
			// resolve those again against what is stored now.
			if err := reresolve(tx, batch, fresh, created, isNew, createdIdents, ids, idents); err != nil {
				return nil, err
			}
		}
	}
	return ids, learnIdentifiers(tx, batch, fresh, ids, idents, found, x, now)
}

// reresolve points the contacts whose new record was not inserted (another
// writer stored a record with one of its identifiers first) at the stored
// record.
func reresolve(tx *gorm.DB, batch []intake.NewCase, fresh []int, created []contactRow, isNew map[string]bool,
	createdIdents []identity, ids map[int]string, idents map[int]identity) error {
	stored := newContactIndex()
	if err := lookupContacts(tx, createdIdents, stored); err != nil {
		return err
	}
	var have []string
	if err := tx.Model(&contactRow{}).Where("id IN ?", contactIDsOf(created)).Pluck("id", &have).Error; err != nil {
		return err
	}
	inserted := map[string]bool{}
	for _, h := range have {
		inserted[h] = true
	}
	for _, i := range fresh {
		if inserted[ids[i]] || !isNew[ids[i]] {
			continue
		}
		r := stored.find(idents[i])
		if r == nil {
			return fmt.Errorf("%w: contact record of %s", ErrConflict, batch[i].ExternalID)
		}
		ids[i] = r.ID
	}
	return nil
}

func contactIDsOf(rows []contactRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// learnIdentifiers adds to each resolved record the identifiers its
// contact carried that it lacks, unless another record holds them, and
// records handles.
func learnIdentifiers(tx *gorm.DB, batch []intake.NewCase, fresh []int, ids map[int]string, idents map[int]identity,
	found map[int]*contactRow, x *contactIndex, now time.Time) error {
	var handles []contactHandleRow
	seenHandle := map[handleKey]bool{}
	for _, i := range fresh {
		id, contact := idents[i], ids[i]
		if id.handle != "" {
			k := handleKey{id.kind, id.handle}
			if r := x.byHandle[k]; (r == nil || r.ID == contact) && !seenHandle[k] {
				seenHandle[k] = true
				handles = append(handles, contactHandleRow{ChannelKind: id.kind, Handle: id.handle, ContactID: contact, CreatedAt: now})
			}
		}
		for _, f := range []struct {
			col, val string
			owner    map[string]*contactRow
		}{{"fiscal_code", id.fiscal, x.byFiscal}, {"email", id.email, x.byEmail}, {"phone", id.phone, x.byPhone}} {
			if f.val == "" || f.owner[f.val] != nil {
				continue // unknown, or some record (this one or another) holds it
			}
			err := tx.Exec("UPDATE contacts SET "+f.col+" = ? WHERE id = ? AND "+f.col+" IS NULL AND NOT EXISTS (SELECT 1 FROM contacts WHERE "+f.col+" = ?)",
				f.val, contact, f.val).Error
			if err != nil {
				return fmt.Errorf("add %s to contact: %w", f.col, err)
			}
			f.owner[f.val] = &contactRow{ID: contact}
		}
		if r, name := found[i], batch[i].SenderName; r != nil && r.DisplayName == "" && name != "" {
			if err := tx.Exec("UPDATE contacts SET display_name = ? WHERE id = ? AND display_name = ''", name, contact).Error; err != nil {
				return err
			}
			r.DisplayName = name
		}
	}
	if len(handles) == 0 {
		return nil
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&handles).Error
}

// matchThreads finds, for each fresh contact with thread keys, the case
// they name that belongs to the same citizen (the newest, when several
// do), following merges to the surviving case. Keys of the whole batch are
// looked up together: one query for message ids, one for cases.
func matchThreads(tx *gorm.DB, batch []intake.NewCase, fresh []int, contactIDs map[int]string, now time.Time) (map[int]string, error) {
	out, err := matchKeys(tx, batch, fresh, contactIDs)
	if err != nil {
		return nil, err
	}
	// A subject counts only when references and message ids match nothing.
	var rest []int
	for _, i := range fresh {
		if _, ok := out[i]; !ok {
			rest = append(rest, i)
		}
	}
	bySubject, err := matchSubjects(tx, batch, rest, contactIDs, now)
	if err != nil {
		return nil, err
	}
	for i, id := range bySubject {
		if out == nil {
			out = map[int]string{}
		}
		out[i] = id
	}
	return out, nil
}

// matchKeys matches the reference and message keys of matchThreads.
func matchKeys(tx *gorm.DB, batch []intake.NewCase, fresh []int, contactIDs map[int]string) (map[int]string, error) {
	var refs, msgs []string
	for _, i := range fresh {
		for _, k := range batch[i].Keys {
			switch k.Kind {
			case threadkey.KindRef:
				refs = append(refs, k.Value)
			case threadkey.KindMsg:
				msgs = append(msgs, k.Value)
			}
		}
	}
	if len(refs) == 0 && len(msgs) == 0 {
		return nil, nil
	}
	caseOfMsg := map[string]string{}
	var caseIDs []string
	if len(msgs) > 0 {
		var rows []messageRow
		if err := tx.Select("case_id", "external_id").Where("external_id IN ?", msgs).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("find threads by message: %w", err)
		}
		for _, r := range rows {
			caseOfMsg[*r.ExternalID] = r.CaseID
			caseIDs = append(caseIDs, r.CaseID)
		}
	}
	q := tx.Model(&caseRow{}).Select("id", "reference", "contact_id", "merged_into")
	switch {
	case len(refs) > 0 && len(caseIDs) > 0:
		q = q.Where("reference IN ? OR id IN ?", refs, caseIDs)
	case len(refs) > 0:
		q = q.Where("reference IN ?", refs)
	default:
		q = q.Where("id IN ?", caseIDs)
	}
	var rows []caseRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("find threads: %w", err)
	}
	byRef, byID := map[string]caseRow{}, map[string]caseRow{}
	for _, r := range rows {
		byRef[r.Reference], byID[r.ID] = r, r
	}
	// A merged case lives on in the case it was merged into.
	for hop := 0; hop < 5; hop++ {
		var next []string
		for _, r := range byID {
			if r.MergedInto != nil {
				if _, ok := byID[*r.MergedInto]; !ok {
					next = append(next, *r.MergedInto)
				}
			}
		}
		if len(next) == 0 {
			break
		}
		var more []caseRow
		if err := tx.Model(&caseRow{}).Select("id", "reference", "contact_id", "merged_into").Where("id IN ?", next).Find(&more).Error; err != nil {
			return nil, err
		}
		for _, r := range more {
			byID[r.ID] = r
		}
	}
	surviving := func(r caseRow) caseRow {
		for hop := 0; hop < 5 && r.MergedInto != nil; hop++ {
			n, ok := byID[*r.MergedInto]
			if !ok {
				break
			}
			r = n
		}
		return r
	}
	out := map[int]string{}
	for _, i := range fresh {
		best := ""
		for _, k := range batch[i].Keys {
			var r caseRow
			var ok bool
			if k.Kind == threadkey.KindRef {
				r, ok = byRef[k.Value]
			} else if id, found := caseOfMsg[k.Value]; found && k.Kind == threadkey.KindMsg {
				r, ok = byID[id]
			}
			if !ok {
				continue
			}
			r = surviving(r)
			// Only the citizen's own cases: a stranger who knows or guesses
			// a reference gets a case of their own instead.
			if r.ContactID != contactIDs[i] || r.MergedInto != nil {
				continue
			}
			if r.ID > best {
				best = r.ID
			}
		}
		if best != "" {
			out[i] = best
		}
	}
	return out, nil
}

// allocateReferences reserves n consecutive numbers of year's sequence and
// returns the last. The row lock it takes serialises concurrent allocators.
func allocateReferences(tx *gorm.DB, year, n int) (int64, error) {
	var last int64
	err := tx.Raw(`INSERT INTO reference_counters (year, last) VALUES (?, ?)
		ON CONFLICT (year) DO UPDATE SET last = reference_counters.last + excluded.last
		RETURNING last`, year, n).Scan(&last).Error
	if err != nil {
		return 0, fmt.Errorf("allocate references: %w", err)
	}
	return last, nil
}

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// matchSubjects finds, for each contact of fresh with a subject key, the
// newest case of the same citizen opened with that normalised subject and
// active within the key's window. Merged cases are left out: their
// survivor was opened with a subject of its own.
func matchSubjects(tx *gorm.DB, batch []intake.NewCase, fresh []int, contactIDs map[int]string, now time.Time) (map[int]string, error) {
	var subjects, contacts []string
	var longest time.Duration
	for _, i := range fresh {
		for _, k := range batch[i].Keys {
			if k.Kind == threadkey.KindSubject {
				subjects = append(subjects, k.Value)
				contacts = append(contacts, contactIDs[i])
				longest = max(longest, k.Within)
			}
		}
	}
	if len(subjects) == 0 {
		return nil, nil
	}
	if now.IsZero() {
		now = time.Now()
	}
	var rows []caseRow
	err := tx.Model(&caseRow{}).Select("id", "contact_id", "thread_subject", "updated_at").
		Where("contact_id IN ? AND thread_subject IN ? AND merged_into IS NULL AND updated_at >= ?", contacts, subjects, now.Add(-longest).UTC()).
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("find threads by subject: %w", err)
	}
	out := map[int]string{}
	for _, i := range fresh {
		for _, k := range batch[i].Keys {
			if k.Kind != threadkey.KindSubject {
				continue
			}
			for _, r := range rows {
				if r.ContactID == contactIDs[i] && r.ThreadSubject == k.Value && !r.UpdatedAt.Before(now.Add(-k.Within)) && r.ID > out[i] {
					out[i] = r.ID
				}
			}
		}
	}
	return out, nil
}

// threadSubject is the subject a new case is matched on later: its
// contact's subject key, if any.
func threadSubject(keys []threadkey.Key) string {
	for _, k := range keys {
		if k.Kind == threadkey.KindSubject {
			return k.Value
		}
	}
	return ""
}

// insertExtras stores, for the message msgIDs[n] just stored for ncs[n] on
// case caseIDs[n], the contact's files (attached to it) and its notes (one
// system message after it).
func insertExtras(tx *gorm.DB, ncs []intake.NewCase, caseIDs, msgIDs []string, perInsert int, now time.Time) error {
	var files []attachmentRow
	var notes []messageRow
	for n, nc := range ncs {
		for _, a := range nc.Attachments {
			msg := msgIDs[n]
			files = append(files, attachmentRow{ID: uuid.Must(uuid.NewV7()).String(), CaseID: caseIDs[n], MessageID: &msg,
				SHA256: a.SHA256, Size: a.Size, ContentType: a.ContentType, FileName: a.FileName, UploadedBy: cases.SystemActor,
				CreatedAt: now.Truncate(time.Microsecond)})
		}
		if len(nc.Notes) > 0 {
			notes = append(notes, messageRow{ID: uuid.Must(uuid.NewV7()).String(), CaseID: caseIDs[n], Direction: string(cases.System),
				ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID, AuthorName: "Sportello", BodyText: strings.Join(nc.Notes, "\n"),
				ReceivedAt: now, CreatedAt: now})
		}
	}
	if len(files) > 0 {
		if err := tx.CreateInBatches(files, perInsert).Error; err != nil {
			return err
		}
	}
	if len(notes) > 0 {
		return tx.CreateInBatches(notes, perInsert).Error
	}
	return nil
}

// acknowledgements writes the automatic acknowledgement of each opened
// case whose contact asks for one, within the per-citizen rate limit; by
// index into opened. An acknowledgement relayed on another channel (a web
// form's, by e-mail) comes with the follow link it carries.
func acknowledgements(tx *gorm.DB, batch []intake.NewCase, opened []int, caseRows []caseRow, contactIDs map[int]string,
	acks intake.Acknowledgements, now time.Time) (map[int]messageRow, []followLinkRow, error) {
	if acks.Render == nil {
		return nil, nil, nil
	}
	var who []string
	for _, i := range opened {
		if batch[i].Acknowledge {
			who = append(who, contactIDs[i])
		}
	}
	if len(who) == 0 {
		return nil, nil, nil
	}
	limit, window := acks.LimitAndWindow()
	var counts []struct {
		ContactID string
		N         int
	}
	err := tx.Table("messages m").Select("c.contact_id, COUNT(*) AS n").Joins("JOIN cases c ON c.id = m.case_id").
		Where("m.kind = ? AND m.created_at >= ? AND c.contact_id IN ?", intake.AckKind, now.Add(-window), who).
		Group("c.contact_id").Scan(&counts).Error
	if err != nil {
		return nil, nil, fmt.Errorf("count acknowledgements: %w", err)
	}
	sent := map[string]int{}
	for _, c := range counts {
		sent[c.ContactID] = c.N
	}
	ttl := acks.LinkTTL
	if ttl <= 0 {
		ttl = follow.DefaultTTL
	}
	out := map[int]messageRow{}
	var links []followLinkRow
	for n, i := range opened {
		nc, cr := batch[i], caseRows[n]
		if !nc.Acknowledge || sent[cr.ContactID] >= limit {
			continue
		}
		req := intake.AckRequest{ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID, Department: cr.DepartmentID,
			Language: cr.Language, Reference: cr.Reference, Subject: cr.Subject, CitizenName: nc.SenderName}
		if cr.FirstResponseDueAt != nil {
			req.FirstResponseDue = cr.FirstResponseDueAt.UTC()
		}
		kind, channel := nc.ChannelKind, nc.ChannelID
		relayed := false
		if acks.Relay != nil {
			if k, id, ok := acks.Relay(nc.ChannelKind); ok {
				if nc.SenderEmail == "" {
					continue
				}
				kind, channel, relayed = k, id, true
				req.FollowToken, req.FollowExpires = follow.NewToken(), now.Add(ttl).UTC().Truncate(time.Microsecond) // as PostgreSQL keeps it
			}
		}
		body, ok := acks.Render(req)
		if !ok || strings.TrimSpace(body) == "" {
			continue
		}
		sent[cr.ContactID]++
		m := messageRow{ID: uuid.Must(uuid.NewV7()).String(), CaseID: cr.ID, Direction: string(cases.Outbound),
			ChannelKind: kind, ChannelID: channel, AuthorName: "Sportello", BodyText: body,
			ReceivedAt: now, CreatedAt: now, DeliveryStatus: "queued", Kind: intake.AckKind}
		out[n] = m
		if relayed {
			links = append(links, followLinkRow{TokenHash: follow.HashToken(req.FollowToken), CaseID: cr.ID, MessageID: m.ID,
				CreatedAt: now.UTC(), ExpiresAt: req.FollowExpires})
		}
	}
	return out, links, nil
}

// recordBounces records each contact of fresh that reports on one of our
// outbound messages on that message's case, and returns the others. A
// report on a message we do not know goes on like any contact.
func (db *DB) recordBounces(tx *gorm.DB, batch []intake.NewCase, fresh []int, out []intake.Outcome) ([]int, error) {
	var ids []string
	for _, i := range fresh {
		if r := batch[i].DeliveryReport; r != nil && r.MessageExternalID != "" {
			ids = append(ids, r.MessageExternalID)
		}
	}
	if len(ids) == 0 {
		return fresh, nil
	}
	var rows []messageRow
	if err := tx.Where("external_id IN ? AND direction = ?", ids, string(cases.Outbound)).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("find bounced messages: %w", err)
	}
	ours := map[string]messageRow{}
	for _, r := range rows {
		ours[*r.ExternalID] = r
	}
	var rest []int
	for _, i := range fresh {
		r := batch[i].DeliveryReport
		m, ok := messageRow{}, false
		if r != nil {
			m, ok = ours[r.MessageExternalID]
		}
		if !ok {
			rest = append(rest, i)
			continue
		}
		o, err := db.recordBounce(tx, batch[i], m)
		if err != nil {
			return nil, err
		}
		out[i] = o
		// A second report on the same message in this batch sees it failed.
		m.DeliveryStatus = cases.DeliveryFailed
		ours[r.MessageExternalID] = m
	}
	return rest, nil
}

// recordBounce stores the report nc as a system message on the case of our
// message m (with the report's files) and, when it says delivery failed,
// marks m failed with the remote server's reply.
func (db *DB) recordBounce(tx *gorm.DB, nc intake.NewCase, m messageRow) (intake.Outcome, error) {
	r := nc.DeliveryReport
	var c caseRow
	if err := tx.Where("id = ?", m.CaseID).Take(&c).Error; err != nil {
		return intake.Outcome{}, err
	}
	failed := r.Action == cases.DeliveryFailed
	what := "Delivery report"
	if failed {
		what = "Delivery failed"
	} else if r.Action != "" {
		what = "Delivery report (" + r.Action + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s for the message sent on %s", what, m.CreatedAt.UTC().Format("2006-01-02 15:04 MST"))
	if len(r.Recipients) > 0 {
		fmt.Fprintf(&b, " to %s", strings.Join(r.Recipients, ", "))
	}
	if r.Status != "" {
		fmt.Fprintf(&b, " (status %s)", r.Status)
	}
	if r.Diagnostic != "" {
		fmt.Fprintf(&b, ": %s", r.Diagnostic)
	}
	b.WriteString(".")
	if strings.TrimSpace(nc.Body) != "" {
		b.WriteString("\n\n" + nc.Body)
	}
	msgID := uuid.Must(uuid.NewV7()).String()
	now := time.Now().UTC()
	updated, err := db.apply(tx, c, func(*cases.Case) ([]cases.Event, error) {
		return []cases.Event{{Type: cases.EventMessageAdded, Actor: cases.SystemActor, Reason: what,
			Changes: map[string]cases.Change{"message": {After: msgID}, "direction": {After: string(cases.System)}}}}, nil
	})
	if err != nil {
		return intake.Outcome{}, err
	}
	ext := nc.ExternalID
	row := messageRow{ID: msgID, CaseID: c.ID, Direction: string(cases.System), ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID,
		ExternalID: &ext, InboundID: nc.ID, AuthorName: nc.SenderName, AuthorEmail: nc.SenderEmail,
		BodyText: clip.Bytes(b.String(), 1<<20), ReceivedAt: nc.ReceivedAt.UTC(), CreatedAt: now}
	if err := tx.Create(&row).Error; err != nil {
		return intake.Outcome{}, err
	}
	if err := insertExtras(tx, []intake.NewCase{nc}, []string{c.ID}, []string{msgID}, db.rowsPerInsert(), now); err != nil {
		return intake.Outcome{}, err
	}
	if failed && m.DeliveryStatus != cases.DeliveryFailed {
		diag := "bounce"
		if r.Status != "" {
			diag += " " + r.Status
		}
		if r.Diagnostic != "" {
			diag += ": " + r.Diagnostic
		}
		if err := db.setDelivery(tx, m, cases.Delivery{MessageID: m.ID, Status: cases.DeliveryFailed, Error: diag}); err != nil {
			return intake.Outcome{}, err
		}
	}
	return intake.Outcome{CaseID: updated.ID, Reference: updated.Reference, Action: intake.ActionAppended}, nil
}
