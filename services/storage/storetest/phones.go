package storetest

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/sportello/sportello/services/storage"
)

func init() {
	rawTests = append(rawTests, struct {
		name string
		run  func(t *testing.T, db *storage.DB, raw *sql.DB)
	}{"NormalisePhones", testNormalisePhones})
}

// Contacts whose numbers were stored in national form before
// channels/phone get the international form; a number another contact
// already holds is left alone (no automatic merge); running it again
// changes nothing; afterwards a contact that gives the number in any form
// is linked to the old record, as for numbers stored after channels/phone.
func testNormalisePhones(t *testing.T, db *storage.DB, raw *sql.DB) {
	ctx := context.Background()
	seed(t, db)
	contactOf := func(phone string) string {
		nc := newCase("it", "")
		nc.Contact.SenderPhone = phone
		c, err := db.GetCase(ctx, create(t, db, 2026, nc)[0].CaseID)
		if err != nil {
			t.Fatal(err)
		}
		return c.ContactID
	}
	q := func(s string) string {
		if db.Dialect() == storage.SQLite {
			return strings.NewReplacer("$1", "?", "$2", "?").Replace(s)
		}
		return s
	}
	old := contactOf("+393331234567")      // will be put back in the old form
	shared := contactOf("+390612345678")   // old form below, and...
	holder := contactOf("+39061234567800") // placeholder, rewritten below
	weird := contactOf("+393339999999")
	for id, p := range map[string]string{old: "333 123 4567", shared: "06 12345678", holder: "+390612345678", weird: "anonimo"} {
		if id == holder {
			continue
		}
		if _, err := raw.ExecContext(ctx, q("UPDATE contacts SET phone = $1 WHERE id = $2"), p, id); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := db.NormalisePhones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rewritten != 2 || rep.Unusable != 1 || len(rep.Shared) != 0 {
		t.Fatalf("first run: %+v; want 2 rewritten, 1 unusable", rep)
	}
	// shared was rewritten to +390612345678; now make a second record in
	// the old form of the same number.
	if _, err := raw.ExecContext(ctx, q("UPDATE contacts SET phone = $1 WHERE id = $2"), "0612345678", holder); err != nil {
		t.Fatal(err)
	}
	rep, err = db.NormalisePhones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rewritten != 0 || rep.Unusable != 1 || len(rep.Shared) != 1 || rep.Shared[0] != [2]string{holder, shared} {
		t.Fatalf("second run: %+v; want the pair [%s %s] reported and nothing rewritten", rep, holder, shared)
	}
	phoneOf := func(id string) string {
		var p sql.NullString
		if err := raw.QueryRowContext(ctx, q("SELECT phone FROM contacts WHERE id = $1"), id).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p.String
	}
	for id, want := range map[string]string{old: "+393331234567", shared: "+390612345678", holder: "0612345678", weird: "anonimo"} {
		if got := phoneOf(id); got != want {
			t.Errorf("contact %s: phone %q, want %q", id, got, want)
		}
	}
	// Idempotent.
	if rep, err := db.NormalisePhones(ctx); err != nil || rep.Rewritten != 0 {
		t.Fatalf("third run: %+v %v", rep, err)
	}
	// The live path now finds the old record by the number in any form.
	for _, p := range []string{"+39 333 1234567", "3331234567", "393331234567"} {
		if got := contactOf(p); got != old {
			t.Errorf("a contact giving %q is %s, want the old record %s", p, got, old)
		}
	}
}
