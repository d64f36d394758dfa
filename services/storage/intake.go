package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/search"
)

var _ intake.Store = (*DB)(nil)

// ErrConflict means a concurrent writer stored one of the same contacts
// first; retrying the whole call finds it and reports a duplicate.
var ErrConflict = errors.New("concurrent intake of the same contact")

type inboundKey struct{ kind, channel, external string }

// CreateCases implements intake.Store. In one transaction it finds contacts
// already stored (by channel and external id), finds or creates the citizen
// contact by e-mail, allocates one block of references, and inserts the new
// cases with their first messages.
func (db *DB) CreateCases(ctx context.Context, year int, batch []intake.NewCase) ([]intake.Outcome, error) {
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
		if len(fresh) == 0 {
			return nil
		}
		contactIDs, err := resolveContacts(tx, batch, fresh, db.rowsPerInsert())
		if err != nil {
			return err
		}
		last, err := allocateReferences(tx, year, len(fresh))
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		caseRows := make([]caseRow, len(fresh))
		var tagRows []caseTagRow
		msgRows := make([]messageRow, len(fresh))
		for n, i := range fresh {
			nc := batch[i]
			if nc.Priority == 0 {
				nc.Priority = cases.PriorityNormal
			}
			if nc.Language == "" {
				nc.Language = "it"
			}
			id := uuid.Must(uuid.NewV7()).String()
			ref := fmt.Sprintf("%d-%06d", year, last-int64(len(fresh))+int64(n)+1)
			caseRows[n] = caseRow{
				ID: id, Reference: ref, Subject: nc.Subject, Description: nc.Body,
				Status: string(cases.StatusNew), Priority: int(nc.Priority),
				CategoryCode: nc.Category, DepartmentID: nc.Department,
				ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID, ContactID: contactIDs[i],
				CreatedAt: now, UpdatedAt: now, Version: 1,
				SLADueAt: dueOrNone(nc.SLADueAt), SLAWarnAt: optTime(nc.SLAWarnAt),
				FirstResponseDueAt: optTime(nc.FirstResponseDueAt),
				Language:           nc.Language, RequiredSkill: nc.RequiredSkill, Tags: strings.Join(nc.Tags, " "),
				SearchTerms: search.Document(nc.Subject, nc.Body),
			}
			for _, t := range nc.Tags {
				tagRows = append(tagRows, caseTagRow{CaseID: id, Tag: t})
			}
			msgRows[n] = messageRow{
				ID: uuid.Must(uuid.NewV7()).String(), CaseID: id, Direction: "inbound",
				ChannelKind: nc.ChannelKind, ChannelID: nc.ChannelID, ExternalID: &batch[i].ExternalID,
				InboundID: nc.ID, AuthorName: nc.SenderName, AuthorEmail: nc.SenderEmail,
				BodyText: nc.Body, ReceivedAt: nc.ReceivedAt.UTC(), CreatedAt: now,
			}
			out[i] = intake.Outcome{CaseID: id, Reference: ref}
		}
		var evRows []caseEventRow
		for n, i := range fresh {
			c := caseRows[n].toCase()
			actor := batch[i].CreatedBy
			if actor == "" {
				actor = cases.SystemActor
			}
			rows, err := eventRows(c, []cases.Event{{Type: cases.EventCreated, Actor: actor, Reason: batch[i].RoutingNote,
				Changes: map[string]cases.Change{"status": {After: string(cases.StatusNew)}, "department": {After: c.Department}}}}, now)
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
		if len(tagRows) > 0 {
			if err := tx.CreateInBatches(tagRows, db.rowsPerInsert()).Error; err != nil {
				return err
			}
		}
		return insertEvents(tx, evRows, db.rowsPerInsert())
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
		return nil, err
	}
	for i, j := range twin {
		out[i] = intake.Outcome{CaseID: out[j].CaseID, Duplicate: true}
	}
	return out, nil
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

// resolveContacts finds or creates the citizen record for each fresh contact:
// one per e-mail address; a contact without e-mail gets a record of its own.
func resolveContacts(tx *gorm.DB, batch []intake.NewCase, fresh []int, rowsPerInsert int) (map[int]string, error) {
	now := time.Now().UTC()
	ids := make(map[int]string, len(fresh))
	byEmail := make(map[string]string)
	var rows []contactRow
	for _, i := range fresh {
		email := strings.ToLower(strings.TrimSpace(batch[i].SenderEmail))
		if email == "" {
			id := uuid.Must(uuid.NewV7()).String()
			rows = append(rows, contactRow{ID: id, DisplayName: batch[i].SenderName, CreatedAt: now})
			ids[i] = id
			continue
		}
		if _, ok := byEmail[email]; !ok {
			byEmail[email] = ""
			e := email
			rows = append(rows, contactRow{ID: uuid.Must(uuid.NewV7()).String(), DisplayName: batch[i].SenderName, Email: &e, CreatedAt: now})
		}
	}
	if len(rows) > 0 {
		err := tx.Clauses(clause.OnConflict{
			Columns:     []clause.Column{{Name: "email"}},
			TargetWhere: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "email IS NOT NULL"}}},
			DoNothing:   true,
		}).CreateInBatches(rows, rowsPerInsert).Error
		if err != nil {
			return nil, fmt.Errorf("create contacts: %w", err)
		}
	}
	if len(byEmail) > 0 {
		emails := make([]string, 0, len(byEmail))
		for e := range byEmail {
			emails = append(emails, e)
		}
		var found []contactRow
		if err := tx.Select("id", "email").Where("email IN ?", emails).Find(&found).Error; err != nil {
			return nil, fmt.Errorf("find contacts: %w", err)
		}
		for _, f := range found {
			byEmail[*f.Email] = f.ID
		}
		for _, i := range fresh {
			if email := strings.ToLower(strings.TrimSpace(batch[i].SenderEmail)); email != "" {
				ids[i] = byEmail[email]
			}
		}
	}
	return ids, nil
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
