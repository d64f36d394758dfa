package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/sportello/sportello/services/storage"
)

var citizenTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"ResolveCitizen", testResolveCitizen},
	{"ResolveCitizenConcurrent", testResolveCitizenConcurrent},
}

func testResolveCitizen(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	// Cases written by e-mail before the first login.
	byMail := contactOf(t, db, create(t, db, 2026, newCase("statistics", "mario.rossi@example.org"))[0].CaseID)
	other := contactOf(t, db, create(t, db, 2026, newCase("statistics", "famiglia@example.org"))[0].CaseID)
	if _, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "VRDLCU80A01H501X", Email: "famiglia@example.org"}); err != nil {
		t.Fatal(err)
	}

	first, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "rssmra80a01h501u", Name: "Mario Rossi", Email: "Mario.Rossi@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if first != byMail {
		t.Errorf("login claimed contact %s, want the e-mail contact %s", first, byMail)
	}
	again, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "RSSMRA80A01H501U", Email: "new@example.org"})
	if err != nil || again != first {
		t.Errorf("second login = %s, %v; want %s", again, err, first)
	}
	c, err := db.GetContact(ctx, first)
	if err != nil || c.FiscalCode != "RSSMRA80A01H501U" {
		t.Errorf("contact = %+v, %v", c, err)
	}

	// famiglia@ is held by a record that has another fiscal code: a
	// second member of the family gets a record of their own, without it.
	sister, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "RSSLSU85B41H501Z", Email: "famiglia@example.org", Phone: "+39 333 1234567"})
	if err != nil {
		t.Fatal(err)
	}
	if sister == other || sister == first {
		t.Fatalf("a citizen claimed another citizen's record")
	}
	sc, err := db.GetContact(ctx, sister)
	if err != nil || sc.Email != "" || sc.Phone != "+393331234567" || sc.FiscalCode != "RSSLSU85B41H501Z" {
		t.Errorf("new record = %+v, %v", sc, err)
	}
	if _, err := db.ResolveCitizen(ctx, storage.CitizenLogin{}); err == nil {
		t.Error("a login without fiscal code resolved")
	}
}

func testResolveCitizenConcurrent(t *testing.T, db *storage.DB) {
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = db.ResolveCitizen(context.Background(), storage.CitizenLogin{FiscalCode: "BNCGNN70C10F205Y", Email: "gianni@example.org"})
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("login %d = %s, %v; first = %s", i, ids[i], errs[i], ids[0])
		}
	}
}

func contactOf(t *testing.T, db *storage.DB, caseID string) string {
	t.Helper()
	c, err := db.GetCase(context.Background(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	return c.ContactID
}
