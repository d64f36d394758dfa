package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/accesslog"
)

var _ accesslog.Store = (*DB)(nil)

// accessLogLock is the key of the PostgreSQL advisory lock that serialises
// appends to access_log ("accesslg" in ASCII; goose's lock uses another).
const accessLogLock int64 = 0x6163636573736c67

// verifyChunk is how many entries VerifyAccessChain reads at a time.
const verifyChunk = 1000

type accessLogRow struct {
	Seq        int64 `gorm:"primaryKey;autoIncrement:false"`
	At         time.Time
	Actor      string
	ActorRole  string
	OperatorID *string
	Action     string
	CaseID     *string
	ContactID  *string
	Detail     string
	RequestID  *string
	PrevHash   string
	Hash       string
}

func (accessLogRow) TableName() string { return "access_log" }

func (r accessLogRow) toEntry() accesslog.Entry {
	return accesslog.Entry{Seq: r.Seq, Time: r.At.UTC(), Actor: r.Actor, ActorRole: r.ActorRole,
		Operator: deref(r.OperatorID), Action: r.Action, CaseID: deref(r.CaseID), ContactID: deref(r.ContactID),
		Detail: r.Detail, RequestID: deref(r.RequestID), PrevHash: r.PrevHash, Hash: r.Hash}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// AppendAccess implements accesslog.Appender. Inside one transaction it
// takes the append lock (PostgreSQL: an advisory lock held to commit;
// SQLite: the write lock its immediate transactions take at BEGIN), reads
// the head of the chain and inserts the entries after it. The primary key
// on seq is the backstop: two appenders that saw the same head cannot both
// commit. Each entry's Time is the append time, never earlier than the
// head's, so time order and seq order agree.
func (db *DB) AppendAccess(ctx context.Context, entries ...accesslog.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if db.dialect == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", accessLogLock).Error; err != nil {
				return fmt.Errorf("lock access log: %w", err)
			}
		}
		var head []accessLogRow
		if err := tx.Select("seq", "at", "hash").Order("seq DESC").Limit(1).Find(&head).Error; err != nil {
			return fmt.Errorf("read access log head: %w", err)
		}
		seq, prev := int64(0), accesslog.ZeroHash
		now := time.Now().UTC().Truncate(time.Microsecond)
		if len(head) == 1 {
			seq, prev = head[0].Seq, head[0].Hash
			if at := head[0].At.UTC(); now.Before(at) {
				now = at
			}
		}
		rows := make([]accessLogRow, len(entries))
		for i, e := range entries {
			seq++
			e.Seq, e.Time, e.PrevHash = seq, now, prev
			e.Hash = accesslog.Hash(prev, e)
			prev = e.Hash
			rows[i] = accessLogRow{Seq: e.Seq, At: e.Time, Actor: e.Actor, ActorRole: e.ActorRole,
				OperatorID: optString(e.Operator), Action: e.Action, CaseID: optString(e.CaseID),
				ContactID: optString(e.ContactID), Detail: e.Detail, RequestID: optString(e.RequestID),
				PrevHash: e.PrevHash, Hash: e.Hash}
		}
		if err := tx.CreateInBatches(rows, 200).Error; err != nil {
			return fmt.Errorf("append to access log: %w", err)
		}
		return nil
	})
}

// ListAccess implements accesslog.Store with keyset paging on seq.
func (db *DB) ListAccess(ctx context.Context, f accesslog.Filter) ([]accesslog.Entry, int64, error) {
	limit := f.PageSize()
	q := db.gorm.WithContext(ctx).Model(&accessLogRow{})
	for col, v := range map[string]string{"actor": f.Actor, "case_id": f.CaseID, "action": f.Action} {
		if v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	switch {
	case validUUID(f.ContactID):
		// A list page that showed the contact names it among the ids in
		// its detail (accesslog.RecordList); a UUID has no LIKE wildcards.
		q = q.Where("(contact_id = ? OR (action = ? AND detail LIKE ?))", f.ContactID, accesslog.ActionCaseList, "%"+f.ContactID+"%")
	case f.ContactID != "":
		q = q.Where("contact_id = ?", f.ContactID)
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	if f.Before > 0 {
		q = q.Where("seq < ?", f.Before)
	}
	var rows []accessLogRow
	if err := q.Order("seq DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, 0, err
	}
	var next int64
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].Seq
	}
	out := make([]accesslog.Entry, len(rows))
	for i, r := range rows {
		out[i] = r.toEntry()
	}
	return out, next, nil
}

// VerifyAccessChain implements accesslog.Store. It reads verifyChunk
// entries at a time in seq order and checks of each: that its seq follows
// the previous one (no entry removed), that its prev_hash is the previous
// entry's hash, that no nullable column holds an empty string for NULL, and that
// its hash is accesslog.Hash of its columns. A removed or altered last
// entry leaves no trace in the chain itself.
func (db *DB) VerifyAccessChain(ctx context.Context, fromSeq int64, limit int) (accesslog.Verification, error) {
	var v accesslog.Verification
	prevSeq, prevHash := int64(0), accesslog.ZeroHash
	if fromSeq > 1 {
		var anchor []accessLogRow
		if err := db.gorm.WithContext(ctx).Select("seq", "hash").Where("seq < ?", fromSeq).
			Order("seq DESC").Limit(1).Find(&anchor).Error; err != nil {
			return v, err
		}
		if len(anchor) == 1 {
			prevSeq, prevHash = anchor[0].Seq, anchor[0].Hash
		}
	}
	after := max(fromSeq-1, prevSeq)
	for limit <= 0 || v.Checked < limit {
		n := verifyChunk
		if limit > 0 {
			n = min(n, limit-v.Checked)
		}
		var rows []accessLogRow
		if err := db.gorm.WithContext(ctx).Where("seq > ?", after).Order("seq").Limit(n).Find(&rows).Error; err != nil {
			return v, err
		}
		for _, r := range rows {
			if reason := checkAccessRow(r, prevSeq, prevHash); reason != "" {
				v.FirstBad, v.Reason = r.Seq, reason
				return v, nil
			}
			v.Checked++
			v.LastSeq, prevSeq, prevHash = r.Seq, r.Seq, r.Hash
		}
		if len(rows) < n {
			break
		}
		after = prevSeq
	}
	return v, nil
}

// checkAccessRow says what is wrong with r following entry prevSeq whose
// hash is prevHash; "" if nothing.
func checkAccessRow(r accessLogRow, prevSeq int64, prevHash string) string {
	switch {
	case r.Seq != prevSeq+1:
		return fmt.Sprintf("sequence gap: entries %d to %d are missing", prevSeq+1, r.Seq-1)
	case r.PrevHash != prevHash:
		return fmt.Sprintf("prev_hash does not match the hash of entry %d", prevSeq)
	}
	for _, c := range []struct {
		name string
		v    *string
	}{{"operator_id", r.OperatorID}, {"case_id", r.CaseID}, {"contact_id", r.ContactID}, {"request_id", r.RequestID}} {
		if c.v != nil && *c.v == "" {
			return c.name + " holds an empty string where the chain has NULL"
		}
	}
	if accesslog.Hash(r.PrevHash, r.toEntry()) != r.Hash {
		return "hash does not match the entry's columns"
	}
	return ""
}
