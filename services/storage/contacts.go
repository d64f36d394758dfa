package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/sportello/sportello/services/contacts"
)

var _ contacts.Store = (*DB)(nil)

// GetContact implements contacts.Store.
func (db *DB) GetContact(ctx context.Context, id string) (contacts.Contact, error) {
	if !validUUID(id) {
		return contacts.Contact{}, fmt.Errorf("%w: %s", contacts.ErrNotFound, id)
	}
	var r contactRow
	err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return contacts.Contact{}, fmt.Errorf("%w: %s", contacts.ErrNotFound, id)
	}
	if err != nil {
		return contacts.Contact{}, err
	}
	out, err := db.withHandles(ctx, []contactRow{r})
	if err != nil {
		return contacts.Contact{}, err
	}
	return out[0], nil
}

// SearchContacts implements contacts.Store, normalising as intake does.
func (db *DB) SearchContacts(ctx context.Context, s contacts.Search, limit int) ([]contacts.Contact, error) {
	var conds []string
	var args []any
	if e := strings.ToLower(strings.TrimSpace(s.Email)); e != "" {
		conds, args = append(conds, "email = ?"), append(args, e)
	}
	if p := normalisePhone(s.Phone); p != "" {
		conds, args = append(conds, "phone = ?"), append(args, p)
	}
	if f := strings.ToUpper(strings.TrimSpace(s.FiscalCode)); f != "" {
		conds, args = append(conds, "fiscal_code = ?"), append(args, f)
	}
	if len(conds) == 0 {
		return nil, nil
	}
	var rows []contactRow
	if err := db.gorm.WithContext(ctx).Where(strings.Join(conds, " OR "), args...).Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return db.withHandles(ctx, rows)
}

func (db *DB) withHandles(ctx context.Context, rows []contactRow) ([]contacts.Contact, error) {
	out := make([]contacts.Contact, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	var hs []contactHandleRow
	if err := db.gorm.WithContext(ctx).Where("contact_id IN ?", contactIDsOf(rows)).Order("channel_kind").Order("handle").Find(&hs).Error; err != nil {
		return nil, err
	}
	byContact := map[string][]contacts.Handle{}
	for _, h := range hs {
		byContact[h.ContactID] = append(byContact[h.ContactID], contacts.Handle{ChannelKind: h.ChannelKind, Handle: h.Handle})
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for i, r := range rows {
		out[i] = contacts.Contact{ID: r.ID, DisplayName: r.DisplayName, Email: deref(r.Email), Phone: deref(r.Phone),
			FiscalCode: deref(r.FiscalCode), Handles: byContact[r.ID], CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// ContactsWithCasesIn implements contacts.Store (index cases_contact).
func (db *DB) ContactsWithCasesIn(ctx context.Context, ids, depts []string) (map[string]bool, error) {
	var valid []string
	for _, id := range ids {
		if validUUID(id) {
			valid = append(valid, id)
		}
	}
	out := map[string]bool{}
	if len(valid) == 0 || len(depts) == 0 {
		return out, nil
	}
	var have []string
	err := db.gorm.WithContext(ctx).Model(&caseRow{}).Distinct("contact_id").
		Where("contact_id IN ? AND department_id IN ?", valid, depts).Pluck("contact_id", &have).Error
	for _, h := range have {
		out[h] = true
	}
	return out, err
}

// CitizenLogin is what an identity provider vouched for at a citizen's
// login.
type CitizenLogin struct {
	FiscalCode string // required, upper case
	Name       string
	Email      string // as the provider holds it (SPID providers verify it)
	Phone      string
}

// ResolveCitizen returns the contact record of a citizen who logged in,
// creating it at their first login. The record is the one holding the
// fiscal code; else a record without a fiscal code holding the e-mail
// address, then the phone number, which the login claims (so the cases
// the citizen wrote by e-mail become theirs on the portal); else a new
// record. A record holding another fiscal code is never claimed.
func (db *DB) ResolveCitizen(ctx context.Context, c CitizenLogin) (string, error) {
	fiscal := strings.ToUpper(strings.TrimSpace(c.FiscalCode))
	if fiscal == "" {
		return "", errors.New("resolve citizen: no fiscal code")
	}
	email, phone := strings.ToLower(strings.TrimSpace(c.Email)), normalisePhone(c.Phone)
	var id string
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r contactRow
		err := tx.Where("fiscal_code = ?", fiscal).Take(&r).Error
		if err == nil {
			id = r.ID
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		for _, f := range []struct{ col, val string }{{"email", email}, {"phone", phone}} {
			if f.val == "" {
				continue
			}
			err := tx.Where(f.col+" = ? AND fiscal_code IS NULL", f.val).Take(&r).Error
			if errors.Is(err, gorm.ErrRecordNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			res := tx.Exec("UPDATE contacts SET fiscal_code = ? WHERE id = ? AND fiscal_code IS NULL", fiscal, r.ID)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 1 {
				id = r.ID
				return nil
			}
		}
		row := contactRow{ID: uuid.Must(uuid.NewV7()).String(), DisplayName: strings.TrimSpace(c.Name), FiscalCode: &fiscal,
			CreatedAt: time.Now().UTC()}
		// An address another record holds stays with that record.
		for _, f := range []struct {
			col, val string
			dst      **string
		}{{"email", email, &row.Email}, {"phone", phone, &row.Phone}} {
			var n int64
			if f.val == "" {
				continue
			}
			if err := tx.Model(&contactRow{}).Where(f.col+" = ?", f.val).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				*f.dst = &f.val
			}
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		id = row.ID
		return nil
	})
	if err != nil {
		// Two first logins of one citizen at once: the loser reads the
		// winner's record.
		var ids []string
		if e := db.gorm.WithContext(ctx).Model(&contactRow{}).Where("fiscal_code = ?", fiscal).Pluck("id", &ids).Error; e == nil && len(ids) == 1 {
			return ids[0], nil
		}
		return "", fmt.Errorf("resolve citizen: %w", err)
	}
	return id, nil
}

// ContactNames implements cases.ContactNames: one query for a page.
func (db *DB) ContactNames(ctx context.Context, ids []string) (map[string]string, error) {
	var valid []string
	for _, id := range ids {
		if validUUID(id) {
			valid = append(valid, id)
		}
	}
	out := make(map[string]string, len(valid))
	if len(valid) == 0 {
		return out, nil
	}
	var rows []contactRow
	if err := db.gorm.WithContext(ctx).Select("id", "display_name").Where("id IN ?", valid).Find(&rows).Error; err != nil {
		return nil, retryable(err)
	}
	for _, r := range rows {
		out[r.ID] = r.DisplayName
	}
	return out, nil
}
