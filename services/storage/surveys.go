package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/surveys"
)

var (
	_ surveys.Store       = (*DB)(nil)
	_ surveys.Invitations = (*DB)(nil)
)

type surveyQuestionnaireRow struct {
	Version    int `gorm:"primaryKey;autoIncrement:false"`
	Definition string
	CreatedBy  string
	CreatedAt  time.Time
}

func (surveyQuestionnaireRow) TableName() string { return "survey_questionnaires" }

func (r surveyQuestionnaireRow) toQuestionnaire() (surveys.Questionnaire, error) {
	var q surveys.Questionnaire
	if err := json.Unmarshal([]byte(r.Definition), &q); err != nil {
		return q, fmt.Errorf("questionnaire version %d: %w", r.Version, err)
	}
	q.Version, q.CreatedBy, q.CreatedAt = r.Version, r.CreatedBy, r.CreatedAt.UTC()
	return q, nil
}

type surveyInvitationRow struct {
	CaseID     string `gorm:"primaryKey"`
	ContactID  string
	MessageID  string
	Channel    string
	OptoutHash string
	CreatedAt  time.Time
}

func (surveyInvitationRow) TableName() string { return "survey_invitations" }

type surveyTokenRow struct {
	TokenHash  string `gorm:"primaryKey"`
	Category   string
	Department string
	Channel    string
	ExpiresAt  time.Time
}

func (surveyTokenRow) TableName() string { return "survey_tokens" }

type surveyResponseRow struct {
	ID                   string `gorm:"primaryKey"`
	QuestionnaireVersion int
	Category             string
	Department           string
	Channel              string
	Month                string
	Ease                 int
	Aspect               string
	Resolved             string
	Comment              string
}

func (surveyResponseRow) TableName() string { return "survey_responses" }

// ListQuestionnaires implements surveys.Store.
func (db *DB) ListQuestionnaires(ctx context.Context) ([]surveys.Questionnaire, error) {
	var rows []surveyQuestionnaireRow
	if err := db.gorm.WithContext(ctx).Order("version DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]surveys.Questionnaire, len(rows))
	for i, r := range rows {
		q, err := r.toQuestionnaire()
		if err != nil {
			return nil, err
		}
		out[i] = q
	}
	return out, nil
}

// GetQuestionnaire implements surveys.Store.
func (db *DB) GetQuestionnaire(ctx context.Context, version int) (surveys.Questionnaire, error) {
	var r surveyQuestionnaireRow
	err := db.gorm.WithContext(ctx).Where("version = ?", version).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return surveys.Questionnaire{}, fmt.Errorf("%w: questionnaire version %d", surveys.ErrNotFound, version)
	}
	if err != nil {
		return surveys.Questionnaire{}, err
	}
	return r.toQuestionnaire()
}

// CreateQuestionnaire implements surveys.Store: the next version number is
// taken in the transaction; two concurrent creations clash on the primary
// key and one fails.
func (db *DB) CreateQuestionnaire(ctx context.Context, q surveys.Questionnaire) (surveys.Questionnaire, error) {
	def, err := json.Marshal(q)
	if err != nil {
		return q, err
	}
	var row surveyQuestionnaireRow
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var last int
		if err := tx.Raw("SELECT COALESCE(MAX(version), 0) FROM survey_questionnaires").Scan(&last).Error; err != nil {
			return err
		}
		row = surveyQuestionnaireRow{Version: last + 1, Definition: string(def), CreatedBy: q.CreatedBy, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		return tx.Create(&row).Error
	})
	if err != nil {
		return q, err
	}
	return row.toQuestionnaire()
}

// CreateInvitation implements surveys.Invitations.
func (db *DB) CreateInvitation(ctx context.Context, inv surveys.Invitation, m cases.Message, fn cases.Mutation) (bool, error) {
	if !validUUID(inv.CaseID) || !validUUID(m.ID) {
		return false, fmt.Errorf("%w: %s", cases.ErrNotFound, inv.CaseID)
	}
	created := false
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&surveyInvitationRow{CaseID: inv.CaseID, ContactID: inv.ContactID,
			MessageID: inv.MessageID, Channel: inv.Channel, OptoutHash: inv.OptOutHash, CreatedAt: inv.CreatedAt})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		if err := tx.Create(&surveyTokenRow{TokenHash: inv.TokenHash, Category: inv.Category, Department: inv.Department,
			Channel: inv.CaseChannel, ExpiresAt: inv.ExpiresAt}).Error; err != nil {
			return err
		}
		if _, _, err := db.addMessage(tx, inv.CaseID, m, fn); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, retryable(err)
	}
	return created, nil
}

// SurveyOptedOut implements surveys.Store.
func (db *DB) SurveyOptedOut(ctx context.Context, contactID string) (bool, error) {
	var out []bool
	if err := db.gorm.WithContext(ctx).Raw("SELECT survey_opt_out FROM contacts WHERE id = ?", contactID).Scan(&out).Error; err != nil {
		return false, err
	}
	return len(out) == 1 && out[0], nil
}

// OptOut implements surveys.Store.
func (db *DB) OptOut(ctx context.Context, h string) error {
	res := db.gorm.WithContext(ctx).Exec("UPDATE contacts SET survey_opt_out = ? WHERE id = (SELECT contact_id FROM survey_invitations WHERE optout_hash = ?)", true, h)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return surveys.ErrInvalidToken
	}
	return nil
}

// PendingSurvey implements surveys.Store.
func (db *DB) PendingSurvey(ctx context.Context, h string, now time.Time) (surveys.Subject, error) {
	var r surveyTokenRow
	err := db.gorm.WithContext(ctx).Where("token_hash = ? AND expires_at > ?", h, now.UTC()).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return surveys.Subject{}, surveys.ErrInvalidToken
	}
	if err != nil {
		return surveys.Subject{}, err
	}
	return surveys.Subject{Category: r.Category, Department: r.Department, Channel: r.Channel}, nil
}

// Respond implements surveys.Store: the token is deleted and the response
// stored in one transaction, so a link answers once even when two posts
// race (the second deletes nothing and stores nothing).
func (db *DB) Respond(ctx context.Context, h string, r surveys.Response, now time.Time) error {
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var t surveyTokenRow
		err := tx.Where("token_hash = ? AND expires_at > ?", h, now.UTC()).Take(&t).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return surveys.ErrInvalidToken
		}
		if err != nil {
			return err
		}
		res := tx.Where("token_hash = ?", h).Delete(&surveyTokenRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return surveys.ErrInvalidToken
		}
		if err := tx.Create(&surveyResponseRow{ID: uuid.New().String(), QuestionnaireVersion: r.Version, Category: t.Category,
			Department: t.Department, Channel: t.Channel, Month: r.Month, Ease: r.Ease, Aspect: r.Aspect, Resolved: r.Resolved,
			Comment: r.Comment}).Error; err != nil {
			return err
		}
		return addToCell(tx, t, r)
	})
	return retryable(err)
}

type surveyCellRow struct {
	QuestionnaireVersion                    int    `gorm:"primaryKey"`
	Category                                string `gorm:"primaryKey"`
	Department                              string `gorm:"primaryKey"`
	Channel                                 string `gorm:"primaryKey"`
	Month                                   string `gorm:"primaryKey"`
	Responses, EaseSum                      int64
	Ease1                                   int64 `gorm:"column:ease_1"`
	Ease2                                   int64 `gorm:"column:ease_2"`
	Ease3                                   int64 `gorm:"column:ease_3"`
	Ease4                                   int64 `gorm:"column:ease_4"`
	Ease5                                   int64 `gorm:"column:ease_5"`
	ResolvedYes, ResolvedPartly, ResolvedNo int64
}

func (surveyCellRow) TableName() string { return "survey_cells" }

// addToCell adds response r (of token t) to its cell's sums.
func addToCell(tx *gorm.DB, t surveyTokenRow, r surveys.Response) error {
	c := surveyCellRow{QuestionnaireVersion: r.Version, Category: t.Category, Department: t.Department, Channel: t.Channel, Month: r.Month,
		Responses: 1, EaseSum: int64(r.Ease)}
	*[]*int64{&c.Ease1, &c.Ease2, &c.Ease3, &c.Ease4, &c.Ease5}[r.Ease-1] = 1
	switch r.Resolved {
	case surveys.ResolvedYes:
		c.ResolvedYes = 1
	case surveys.ResolvedPartly:
		c.ResolvedPartly = 1
	case surveys.ResolvedNo:
		c.ResolvedNo = 1
	}
	add := map[string]any{}
	for _, col := range []string{"responses", "ease_sum", "ease_1", "ease_2", "ease_3", "ease_4", "ease_5", "resolved_yes", "resolved_partly", "resolved_no"} {
		add[col] = gorm.Expr("survey_cells." + col + " + excluded." + col)
	}
	return tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "month"}, {Name: "department"}, {Name: "category"}, {Name: "channel"}, {Name: "questionnaire_version"}},
		DoUpdates: clause.Assignments(add),
	}).Create(&c).Error
}

// DeleteExpiredSurveyTokens removes survey links past their expiry.
func (db *DB) DeleteExpiredSurveyTokens(ctx context.Context, now time.Time) (int64, error) {
	res := db.gorm.WithContext(ctx).Where("expires_at <= ?", now.UTC()).Delete(&surveyTokenRow{})
	return res.RowsAffected, res.Error
}

// ContactInvitations implements surveys.Store.
func (db *DB) ContactInvitations(ctx context.Context, contactID string) ([]surveys.InvitationMessage, error) {
	var out []surveys.InvitationMessage
	err := db.gorm.WithContext(ctx).Raw(`SELECT c.reference AS reference, m.body_text AS body
FROM survey_invitations i JOIN messages m ON m.id = i.message_id JOIN cases c ON c.id = i.case_id
WHERE i.contact_id = ? ORDER BY i.created_at DESC LIMIT 20`, contactID).Scan(&out).Error
	return out, err
}

// Results implements surveys.Store: one read of the cells. Grouped by
// every dimension, a group is a cell (the primary key), so the cells are
// read as they are and sorted here: the GROUP BY and ORDER BY of 4,608
// cells cost PostgreSQL ten times the scan (bench-surveys). Otherwise one
// GROUP BY whose sums are cast back to integers (PostgreSQL's SUM of a
// bigint is a numeric, slow to add and to send).
func (db *DB) Results(ctx context.Context, q surveys.Query) ([]surveys.Cell, error) {
	every := true
	for _, d := range surveys.Dimensions {
		every = every && q.Groups(d)
	}
	cols := []string{"questionnaire_version"}
	sel := []string{"questionnaire_version AS version"}
	for _, d := range surveys.Dimensions {
		if q.Groups(d) {
			cols = append(cols, string(d))
			sel = append(sel, string(d))
		} else {
			sel = append(sel, "'' AS "+string(d))
		}
	}
	sums := []string{"responses", "ease_sum", "ease_1", "ease_2", "ease_3", "ease_4", "ease_5", "resolved_yes", "resolved_partly", "resolved_no"}
	for _, c := range sums {
		if every {
			sel = append(sel, c)
		} else {
			sel = append(sel, "CAST(SUM("+c+") AS BIGINT) AS "+c)
		}
	}
	var where []string
	var args []any
	if q.StartMonth != "" {
		where, args = append(where, "month >= ?"), append(args, q.StartMonth)
	}
	if q.EndMonth != "" {
		where, args = append(where, "month <= ?"), append(args, q.EndMonth)
	}
	if q.Departments != nil {
		if len(q.Departments) == 0 {
			return nil, nil
		}
		where, args = append(where, "department IN ?"), append(args, q.Departments)
	}
	query := "SELECT " + strings.Join(sel, ", ") + " FROM survey_cells"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if !every {
		query += " GROUP BY " + strings.Join(cols, ", ") + " ORDER BY " + strings.Join(cols, ", ")
	}
	// Scanned by hand: gorm's reflective Scan costs more than the query
	// when every cell is asked for.
	rows, err := db.gorm.WithContext(ctx).Raw(query, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []surveys.Cell
	for rows.Next() {
		var c surveys.Cell
		e := &c.EaseCounts
		if err := rows.Scan(&c.Version, &c.Month, &c.Category, &c.Department, &c.Channel, &c.Responses, &c.EaseSum,
			&e[0], &e[1], &e[2], &e[3], &e[4], &c.ResolvedYes, &c.ResolvedPartly, &c.ResolvedNo); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if every {
		slices.SortFunc(out, func(a, b surveys.Cell) int {
			return cmp.Or(cmp.Compare(a.Version, b.Version), strings.Compare(a.Month, b.Month), strings.Compare(a.Category, b.Category),
				strings.Compare(a.Department, b.Department), strings.Compare(a.Channel, b.Channel))
		})
	}
	return out, nil
}
