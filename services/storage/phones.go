package storage

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sportello/sportello/channels/phone"
)

// PhoneReport is what NormalisePhones did.
type PhoneReport struct {
	// Rewritten contacts now hold their number in international form.
	Rewritten int
	// Unusable numbers (letters, too short) were left as they were.
	Unusable int
	// Shared lists pairs of contacts [old form, international form] that
	// turned out to hold the same number: they are not merged
	// automatically (a supervisor merges contacts, audited), and the old
	// record keeps its number as it was.
	Shared [][2]string
}

// NormalisePhones rewrites the phone numbers contacts got before
// channels/phone existed ("3331234567", "06 4673 1") in the form every
// channel now gives them ("+393331234567"), so a citizen who phones or
// writes on WhatsApp is found by the number they left years ago, as the
// live path finds them (contacts.phone is unique: the record holding the
// number is the contact). It only touches numbers not starting with "+",
// so running it again changes nothing. Migrate runs it.
func (db *DB) NormalisePhones(ctx context.Context) (PhoneReport, error) {
	var rep PhoneReport
	after := ""
	for {
		var rows []contactRow
		q := db.gorm.WithContext(ctx).Where("phone IS NOT NULL AND phone NOT LIKE ?", "+%")
		if after != "" {
			q = q.Where("id > ?", after)
		}
		err := q.Order("id").Limit(500).Find(&rows).Error
		if err != nil {
			return rep, fmt.Errorf("normalise phones: %w", err)
		}
		if len(rows) == 0 {
			return rep, nil
		}
		after = rows[len(rows)-1].ID
		for _, r := range rows {
			n := phone.Normalise(*r.Phone)
			if n == "" {
				rep.Unusable++
				continue
			}
			var holders []string
			if err := db.gorm.WithContext(ctx).Model(&contactRow{}).Where("phone = ?", n).Pluck("id", &holders).Error; err != nil {
				return rep, fmt.Errorf("normalise phones: %w", err)
			}
			if len(holders) > 0 {
				rep.Shared = append(rep.Shared, [2]string{r.ID, holders[0]})
				continue
			}
			// Guarded by the old value: a contact changed meanwhile is left alone.
			res := db.gorm.WithContext(ctx).Exec("UPDATE contacts SET phone = ? WHERE id = ? AND phone = ?", n, r.ID, *r.Phone)
			if res.Error != nil {
				return rep, fmt.Errorf("normalise phones: contact %s: %w", r.ID, res.Error)
			}
			rep.Rewritten += int(res.RowsAffected)
		}
	}
}

// logPhones reports what NormalisePhones did, if anything.
func logPhones(log *slog.Logger, rep PhoneReport) {
	if rep.Rewritten > 0 || rep.Unusable > 0 {
		log.Info("contacts' phone numbers put in international form", "rewritten", rep.Rewritten, "unusable_left_alone", rep.Unusable)
	}
	for _, p := range rep.Shared {
		log.Warn("two contacts hold the same phone number (one in the old national form); not merged: a supervisor may merge them",
			"contact_old_form", p[0], "contact", p[1])
	}
}
