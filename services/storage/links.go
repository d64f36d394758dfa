package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/search"
)

var _ cases.Links = (*DB)(nil)

// applyPair loads cases a and b, locked (in id order, so two opposite
// pairs cannot deadlock on PostgreSQL), checks their versions, runs fn and
// writes each case that got events, as apply does for one.
func (db *DB) applyPair(tx *gorm.DB, a, b string, va, vb int64, fn cases.PairMutation) (cases.Case, cases.Case, error) {
	for _, id := range []string{a, b} {
		if !validUUID(id) {
			return cases.Case{}, cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, id)
		}
	}
	q := tx.Where("id IN ?", []string{a, b}).Order("id")
	if db.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var rows []caseRow
	if err := q.Find(&rows).Error; err != nil {
		return cases.Case{}, cases.Case{}, err
	}
	byID := map[string]caseRow{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	ra, okA := byID[a]
	rb, okB := byID[b]
	switch {
	case !okA:
		return cases.Case{}, cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, a)
	case !okB:
		return cases.Case{}, cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, b)
	case va > 0 && ra.Version != va:
		return cases.Case{}, cases.Case{}, fmt.Errorf("%w: case %s is at version %d, you sent %d", cases.ErrConflict, ra.Reference, ra.Version, va)
	case vb > 0 && rb.Version != vb:
		return cases.Case{}, cases.Case{}, fmt.Errorf("%w: case %s is at version %d, you sent %d", cases.ErrConflict, rb.Reference, rb.Version, vb)
	}
	ca, cb := ra.toCase(), rb.toCase()
	evA, evB, err := fn(&ca, &cb)
	if err != nil {
		return cases.Case{}, cases.Case{}, err
	}
	outA, err := db.apply(tx, ra, func(c *cases.Case) ([]cases.Event, error) { *c = ca; return evA, nil })
	if err != nil {
		return cases.Case{}, cases.Case{}, err
	}
	outB, err := db.apply(tx, rb, func(c *cases.Case) ([]cases.Event, error) { *c = cb; return evB, nil })
	if err != nil {
		return cases.Case{}, cases.Case{}, err
	}
	return outA, outB, nil
}

// MergeCases implements cases.Links. The source's messages keep their ids
// (UUIDv7), so in the target's thread they fall in place by time.
func (db *DB) MergeCases(ctx context.Context, sourceID, targetID string, sv, tv int64, fn cases.PairMutation) (cases.Case, cases.Case, error) {
	var src, tgt cases.Case
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if src, tgt, err = db.applyPair(tx, sourceID, targetID, sv, tv, fn); err != nil {
			return err
		}
		if src.MergedInto != tgt.ID {
			return fmt.Errorf("merge of %s into %s: the mutation did not merge", sourceID, targetID)
		}
		if err := tx.Model(&messageRow{}).Where("case_id = ?", src.ID).Update("case_id", tgt.ID).Error; err != nil {
			return fmt.Errorf("move messages: %w", err)
		}
		// Their files, and uploads not attached yet, follow them.
		if err := tx.Model(&attachmentRow{}).Where("case_id = ?", src.ID).Update("case_id", tgt.ID).Error; err != nil {
			return fmt.Errorf("move attachments: %w", err)
		}
		var docs []string
		if err := tx.Raw("SELECT search_terms FROM cases WHERE id IN ?", []string{src.ID, tgt.ID}).Scan(&docs).Error; err != nil {
			return err
		}
		return tx.Exec("UPDATE cases SET search_terms = ? WHERE id = ?", search.Union(docs...), tgt.ID).Error
	})
	if err != nil {
		return cases.Case{}, cases.Case{}, retryable(err)
	}
	return src, tgt, nil
}

// LinkCases implements cases.Links. A related link is stored once, from
// the smaller id to the larger.
func (db *DB) LinkCases(ctx context.Context, sourceID, targetID string, kind cases.LinkKind, actor, reason string, fn cases.PairMutation) (cases.Case, cases.Case, error) {
	var a, b cases.Case
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		// Cases (and the caller's right to them) first: whether a link
		// exists is told only to who may see both cases.
		if a, b, err = db.applyPair(tx, sourceID, targetID, 0, 0, fn); err != nil {
			return err
		}
		if l, ok, err := findLink(tx, sourceID, targetID); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: cases %s and %s are already linked (%s); unlink them first", cases.ErrFailedPrecondition, a.Reference, b.Reference, l.Kind)
		}
		src, tgt := sourceID, targetID
		if kind == cases.LinkRelated && src > tgt {
			src, tgt = tgt, src
		}
		return tx.Create(&caseLinkRow{SourceID: src, TargetID: tgt, Kind: string(kind), Actor: actor, Reason: reason, CreatedAt: time.Now().UTC()}).Error
	})
	if err != nil {
		return cases.Case{}, cases.Case{}, retryable(err)
	}
	return a, b, nil
}

// UnlinkCases implements cases.Links.
func (db *DB) UnlinkCases(ctx context.Context, idA, idB string, fn func(cases.LinkKind) cases.PairMutation) (cases.Case, cases.Case, error) {
	var a, b cases.Case
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if !validUUID(idA) || !validUUID(idB) {
			return fmt.Errorf("%w: %s or %s", cases.ErrNotFound, idA, idB)
		}
		l, ok, err := findLink(tx, idA, idB)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: cases %s and %s are not linked", cases.ErrNotFound, idA, idB)
		}
		if a, b, err = db.applyPair(tx, idA, idB, 0, 0, fn(cases.LinkKind(l.Kind))); err != nil {
			return err
		}
		return tx.Where("source_id = ? AND target_id = ?", l.SourceID, l.TargetID).Delete(&caseLinkRow{}).Error
	})
	if err != nil {
		return cases.Case{}, cases.Case{}, retryable(err)
	}
	return a, b, nil
}

func findLink(tx *gorm.DB, a, b string) (caseLinkRow, bool, error) {
	var l caseLinkRow
	err := tx.Where("(source_id = ? AND target_id = ?) OR (source_id = ? AND target_id = ?)", a, b, b, a).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return l, false, nil
	}
	return l, err == nil, err
}

// ListLinks implements cases.Links with one query.
func (db *DB) ListLinks(ctx context.Context, caseIDs []string) (map[string][]cases.Link, error) {
	var valid []string
	for _, id := range caseIDs {
		if validUUID(id) {
			valid = append(valid, id)
		}
	}
	out := map[string][]cases.Link{}
	if len(valid) == 0 {
		return out, nil
	}
	var rows []caseLinkRow
	err := db.gorm.WithContext(ctx).Where("source_id IN ? OR target_id IN ?", valid, valid).
		Order("created_at").Order("source_id").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range valid {
		want[id] = true
	}
	for _, r := range rows {
		kind := cases.LinkKind(r.Kind)
		outgoing, incoming := cases.LinkOutgoing, cases.LinkIncoming
		if kind == cases.LinkRelated {
			outgoing, incoming = "", ""
		}
		l := cases.Link{Kind: kind, Actor: r.Actor, Reason: r.Reason, CreatedAt: r.CreatedAt.UTC()}
		if want[r.SourceID] {
			l.CaseID, l.Direction = r.TargetID, outgoing
			out[r.SourceID] = append(out[r.SourceID], l)
		}
		if want[r.TargetID] {
			l.CaseID, l.Direction = r.SourceID, incoming
			out[r.TargetID] = append(out[r.TargetID], l)
		}
	}
	return out, nil
}
