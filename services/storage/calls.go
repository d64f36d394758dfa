package storage

import (
	"context"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/phone"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/calls"
)

var _ calls.Store = (*DB)(nil)

type callRow struct {
	ID              string `gorm:"primaryKey"`
	ChannelID       string
	ExternalID      string
	Direction       string
	FromNumber      string
	ToNumber        string
	Queue           string
	IVRChoice       string `gorm:"column:ivr_choice"`
	Department      string
	ContactID       *string
	Operator        string
	State           string
	Cause           string
	DurationSeconds int
	RecordingURL    string `gorm:"column:recording_url"`
	CaseID          *string
	CallbackCaseID  *string
	Notes           string
	StartedAt       time.Time
	AnsweredAt      *time.Time
	EndedAt         *time.Time
}

func (callRow) TableName() string { return "calls" }

func callToRow(c calls.Call) callRow {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return callRow{ID: c.ID, ChannelID: c.ChannelID, ExternalID: c.ExternalID, Direction: c.Direction, FromNumber: c.From,
		ToNumber: c.To, Queue: c.Queue, IVRChoice: c.IVRChoice, Department: c.Department, ContactID: optString(c.ContactID),
		Operator: c.Operator, State: string(c.State), Cause: c.Cause, DurationSeconds: c.Duration, RecordingURL: c.Recording,
		CaseID: optString(c.CaseID), CallbackCaseID: optString(c.CallbackCaseID), Notes: c.Notes, StartedAt: c.StartedAt.UTC(),
		AnsweredAt: opt(c.AnsweredAt), EndedAt: opt(c.EndedAt)}
}

func (r callRow) toCall() calls.Call {
	t := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return p.UTC()
	}
	return calls.Call{ID: r.ID, ChannelID: r.ChannelID, ExternalID: r.ExternalID, Direction: r.Direction, From: r.FromNumber,
		To: r.ToNumber, Queue: r.Queue, IVRChoice: r.IVRChoice, Department: r.Department, ContactID: deref(r.ContactID),
		Operator: r.Operator, State: calls.State(r.State), Cause: r.Cause, Duration: r.DurationSeconds, Recording: r.RecordingURL,
		CaseID: deref(r.CaseID), CallbackCaseID: deref(r.CallbackCaseID), Notes: r.Notes, StartedAt: r.StartedAt.UTC(),
		AnsweredAt: t(r.AnsweredAt), EndedAt: t(r.EndedAt)}
}

// CreateCall implements calls.Store.
func (db *DB) CreateCall(ctx context.Context, c calls.Call) (calls.Call, bool, error) {
	r := callToRow(c)
	res := db.gorm.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
	if res.Error != nil {
		return calls.Call{}, false, res.Error
	}
	if res.RowsAffected == 1 {
		return r.toCall(), true, nil
	}
	got, err := db.FindCall(ctx, c.ChannelID, c.ExternalID)
	return got, false, err
}

// UpdateCall implements calls.Store.
func (db *DB) UpdateCall(ctx context.Context, id string, fn func(c *calls.Call) (bool, error)) (calls.Call, error) {
	var out calls.Call
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r callRow
		if err := takeForUpdate(tx, &r, "id = ?", id); err != nil {
			return callNotFound(err, id)
		}
		c := r.toCall()
		changed, err := fn(&c)
		if err != nil {
			return err
		}
		if !changed {
			out = c
			return nil
		}
		c.ID, c.ChannelID, c.ExternalID = r.ID, r.ChannelID, r.ExternalID
		nr := callToRow(c)
		if err := tx.Select("*").Save(&nr).Error; err != nil {
			return err
		}
		out = nr.toCall()
		return nil
	})
	return out, retryable(err)
}

func callNotFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%w: call %s", calls.ErrNotFound, what)
	}
	return err
}

// GetCall implements calls.Store.
func (db *DB) GetCall(ctx context.Context, id string) (calls.Call, error) {
	var r callRow
	if err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return calls.Call{}, callNotFound(err, id)
	}
	return r.toCall(), nil
}

// FindCall implements calls.Store.
func (db *DB) FindCall(ctx context.Context, channelID, externalID string) (calls.Call, error) {
	var r callRow
	if err := db.gorm.WithContext(ctx).Where("channel_id = ? AND external_id = ?", channelID, externalID).Take(&r).Error; err != nil {
		return calls.Call{}, callNotFound(err, channelID+"/"+externalID)
	}
	return r.toCall(), nil
}

// ListCalls implements calls.Store.
func (db *DB) ListCalls(ctx context.Context, contactID string, limit int) ([]calls.Call, error) {
	var rows []callRow
	if err := db.gorm.WithContext(ctx).Where("contact_id = ?", contactID).Order("started_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]calls.Call, len(rows))
	for i, r := range rows {
		out[i] = r.toCall()
	}
	return out, nil
}

type blockedRow struct {
	Number    string `gorm:"primaryKey"`
	Reason    string
	CreatedBy string
	CreatedAt time.Time
}

func (blockedRow) TableName() string { return "blocked_numbers" }

// blockedKey is how a blocked number is stored and looked up: normalised
// (channels/phone), so "0039 333 1234567" blocks the caller id
// "3331234567"; as given when it is no number ("anonymous").
func blockedKey(number string) string {
	if n := phone.Normalise(number); n != "" {
		return n
	}
	return strings.TrimSpace(number)
}

// IsBlocked implements calls.Store.
func (db *DB) IsBlocked(ctx context.Context, number string) (bool, error) {
	number = blockedKey(number)
	var n int64
	err := db.gorm.WithContext(ctx).Model(&blockedRow{}).Where("number = ?", number).Count(&n).Error
	return n > 0, err
}

// BlockNumber implements calls.Store: a number blocked again gets the
// new reason.
func (db *DB) BlockNumber(ctx context.Context, b calls.Blocked) (calls.Blocked, error) {
	b.Number = blockedKey(b.Number)
	r := blockedRow{Number: b.Number, Reason: b.Reason, CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt.UTC()}
	err := db.gorm.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "number"}},
		DoUpdates: clause.AssignmentColumns([]string{"reason"})}).Create(&r).Error
	if err != nil {
		return calls.Blocked{}, err
	}
	if err := db.gorm.WithContext(ctx).Where("number = ?", b.Number).Take(&r).Error; err != nil {
		return calls.Blocked{}, err
	}
	return calls.Blocked{Number: r.Number, Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}, nil
}

// UnblockNumber implements calls.Store.
func (db *DB) UnblockNumber(ctx context.Context, number string) error {
	number = blockedKey(number)
	res := db.gorm.WithContext(ctx).Where("number = ?", number).Delete(&blockedRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: %s is not blocked", calls.ErrNotFound, number)
	}
	return nil
}

// ListBlocked implements calls.Store.
func (db *DB) ListBlocked(ctx context.Context) ([]calls.Blocked, error) {
	var rows []blockedRow
	if err := db.gorm.WithContext(ctx).Order("number").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]calls.Blocked, len(rows))
	for i, r := range rows {
		out[i] = calls.Blocked{Number: r.Number, Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

type replayRow struct {
	ReplayKey string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

func (replayRow) TableName() string { return "cti_replays" }

// Replays remembers the CTI webhook's accepted signatures
// (cti.ReplayGuard), for every replica.
type Replays struct {
	db  *DB
	now func() time.Time
}

// Replays returns the replay guard; now is the clock (nil: time.Now).
func (db *DB) Replays(now func() time.Time) *Replays {
	if now == nil {
		now = time.Now
	}
	return &Replays{db: db, now: now}
}

// Claim records key until expires, false when it is recorded and not
// expired. Expired keys are swept as claims go by.
func (r *Replays) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	now := r.now().UTC()
	g := r.db.gorm.WithContext(ctx)
	if err := g.Where("expires_at < ?", now).Delete(&replayRow{}).Error; err != nil {
		return false, err
	}
	res := g.Clauses(clause.OnConflict{DoNothing: true}).Create(&replayRow{ReplayKey: key, ExpiresAt: expires.UTC()})
	if res.Error != nil {
		return false, res.Error
	}
	return res.RowsAffected == 1, nil
}

// Release forgets key.
func (r *Replays) Release(ctx context.Context, key string) error {
	return r.db.gorm.WithContext(ctx).Where("replay_key = ?", key).Delete(&replayRow{}).Error
}
