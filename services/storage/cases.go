package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/search"
)

var _ cases.Store = (*DB)(nil)

// GetCase returns one case.
func (db *DB) GetCase(ctx context.Context, id string) (cases.Case, error) {
	if !validUUID(id) {
		return cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, id)
	}
	var r caseRow
	err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, id)
	}
	if err != nil {
		return cases.Case{}, err
	}
	return r.toCase(), nil
}

// ListCases pages with a keyset cursor on the order's columns and id, so
// a deep page costs what the first does (indexes: docs/benchmarks.md). A
// PostgreSQL text search for rare words runs with the settings searchPlan
// gives.
func (db *DB) ListCases(ctx context.Context, q cases.Query) ([]cases.Case, error) {
	var rows []caseRow
	find := func(t *gorm.DB) error {
		tx, err := db.casesQuery(t, q)
		if tx == nil || err != nil {
			return err
		}
		return tx.Find(&rows).Error
	}
	var err error
	if settings := db.searchPlan(ctx, q); len(settings) > 0 {
		err = db.gorm.WithContext(ctx).Transaction(func(t *gorm.DB) error {
			for _, set := range settings {
				if err := t.Exec(set).Error; err != nil {
					return err
				}
			}
			return find(t)
		})
	} else {
		err = find(db.gorm.WithContext(ctx))
	}
	if err != nil {
		return nil, err
	}
	out := make([]cases.Case, len(rows))
	for i, r := range rows {
		out[i] = r.toCase()
	}
	return out, nil
}

// activeCases selects the cases still being worked (cases.StatusActive),
// written literally: the partial indexes of migration 00022 have this
// predicate, and the planner uses them only when the query repeats it.
const activeCases = "status NOT IN ('resolved', 'closed')"

// casesQuery builds ListCases' statement on tx; nil without error when
// the query cannot match anything.
func (db *DB) casesQuery(tx *gorm.DB, q cases.Query) (*gorm.DB, error) {
	// Named columns: not the search document nor, on PostgreSQL, its
	// tsvector, which are most of a row's bytes.
	tx = tx.Model(&caseRow{}).Omit("search_terms")
	if q.Departments != nil {
		tx = tx.Where("department_id IN ?", q.Departments)
	}
	switch q.Status {
	case "":
	case cases.StatusActive:
		tx = tx.Where(activeCases)
	default:
		tx = tx.Where("status = ?", string(q.Status))
	}
	if q.ContactID != "" {
		if !validUUID(q.ContactID) {
			return nil, nil // no such contact
		}
		tx = tx.Where("contact_id = ?", q.ContactID)
	}
	if q.Text != "" {
		terms := search.Terms(q.Text)
		if len(terms) == 0 {
			return nil, nil
		}
		if db.dialect == Postgres {
			tx = tx.Where("search_vector @@ plainto_tsquery('simple', ?)", strings.Join(terms, " "))
		} else {
			tx = tx.Where("rowid IN (SELECT rowid FROM cases_fts WHERE cases_fts MATCH ?)", `"`+strings.Join(terms, `" "`)+`"`)
		}
	}
	if q.Priority != 0 {
		tx = tx.Where("priority = ?", int(q.Priority))
	}
	if q.ChannelKind != "" {
		tx = tx.Where("channel_kind = ?", q.ChannelKind)
	}
	if q.Category != "" {
		tx = tx.Where("category_code = ?", q.Category)
	}
	if q.Tag != "" {
		tx = tx.Where("id IN (SELECT case_id FROM case_tags WHERE tag = ?)", q.Tag)
	}
	if q.SLAState != "" {
		now := q.Now.UTC()
		tx = tx.Where("status NOT IN ?", closedStatuses)
		switch q.SLAState {
		case cases.SLAPaused:
			tx = tx.Where("sla_paused_at IS NOT NULL")
		case cases.SLABreached:
			tx = tx.Where("sla_paused_at IS NULL AND sla_due_at <= ?", now)
		case cases.SLAWarning:
			tx = tx.Where("sla_paused_at IS NULL AND sla_warn_at <= ? AND sla_due_at > ?", now, now)
		case cases.SLAOK:
			tx = tx.Where("sla_paused_at IS NULL AND sla_warn_at > ?", now)
		default:
			return nil, fmt.Errorf("%w: unknown SLA state %q", cases.ErrInvalidArgument, q.SLAState)
		}
	}
	switch q.Assignee {
	case "":
	case cases.Unassigned:
		tx = tx.Where("assignee_id = ''")
	default:
		tx = tx.Where("assignee_id = ?", q.Assignee)
	}
	switch q.Order {
	case cases.OrderCreatedDesc:
		if q.After != nil {
			tx = tx.Where("id < ?", q.After.ID)
		}
		tx = tx.Order("id DESC")
	case cases.OrderSLADue:
		if q.After != nil {
			due := q.After.SLADueAt.UTC()
			tx = tx.Where("sla_due_at > ? OR (sla_due_at = ? AND id > ?)", due, due, q.After.ID)
		}
		tx = tx.Order("sla_due_at").Order("id")
	case cases.OrderPriority:
		if q.After != nil {
			tx = tx.Where("priority < ? OR (priority = ? AND id > ?)", int(q.After.Priority), int(q.After.Priority), q.After.ID)
		}
		tx = tx.Order("priority DESC").Order("id")
	default:
		if q.After != nil {
			tx = tx.Where("id > ?", q.After.ID)
		}
		tx = tx.Order("id")
	}
	return tx.Limit(q.Limit), nil
}

func (r caseRow) toCase() cases.Case {
	c := cases.Case{
		ID: r.ID, Reference: r.Reference, Subject: r.Subject, Description: r.Description,
		Status: cases.Status(r.Status), Priority: cases.Priority(r.Priority),
		Category: r.CategoryCode, Department: r.DepartmentID, Assignee: r.AssigneeID,
		ChannelKind: r.ChannelKind, ChannelID: r.ChannelID, ContactID: r.ContactID,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version,
		SLADueAt: r.SLADueAt.UTC(), SLAWarned: r.SLAWarned, SLABreached: r.SLABreached,
		SLAPausedFor:          time.Duration(r.SLAPausedSec) * time.Second,
		FirstResponseBreached: r.FirstResponseBreached, Language: r.Language, RequiredSkill: r.RequiredSkill,
	}
	if r.Tags != "" {
		c.Tags = strings.Fields(r.Tags)
	}
	if r.FirstResponseDueAt != nil {
		c.FirstResponseDueAt = r.FirstResponseDueAt.UTC()
	}
	if r.FirstRespondedAt != nil {
		c.FirstRespondedAt = r.FirstRespondedAt.UTC()
	}
	if r.SLADueAt.IsZero() {
		c.SLADueAt = cases.NoDeadline
	}
	if r.SLAWarnAt != nil {
		c.SLAWarnAt = r.SLAWarnAt.UTC()
	}
	if r.SLAPausedAt != nil {
		c.SLAPausedAt = r.SLAPausedAt.UTC()
	}
	if r.SettledAt != nil {
		c.SettledAt = r.SettledAt.UTC()
	}
	if r.MergedInto != nil {
		c.MergedInto = *r.MergedInto
	}
	return c
}

// optTime is nil for the zero time: NULL in the database.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// optString is nil for "": NULL in the database.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// dueOrNone is the stored deadline: NoDeadline when none.
func dueOrNone(t time.Time) time.Time {
	if t.IsZero() {
		return cases.NoDeadline
	}
	return t.UTC()
}
