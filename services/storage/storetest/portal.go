package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/storage"
)

var portalTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"CaseOfInbound", testCaseOfInbound},
	{"PortalDrafts", testPortalDrafts},
}

func testCaseOfInbound(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	nc := newCase("statistics", "anna@example.org")
	out := create(t, db, 2026, nc)
	c, err := db.CaseOfInbound(ctx, "webform", "test", nc.Contact.ExternalID)
	if err != nil || c.ID != out[0].CaseID || c.Reference != out[0].Reference {
		t.Fatalf("CaseOfInbound = %+v, %v; want case %s", c, err, out[0].CaseID)
	}
	for _, tc := range []struct{ kind, channel, ext string }{
		{"webform", "test", "00000000-0000-7000-8000-000000000000"}, // not (yet) a case
		{"email", "test", nc.Contact.ExternalID},                    // another channel's id space
		{"webform", "other", nc.Contact.ExternalID},
	} {
		if _, err := db.CaseOfInbound(ctx, tc.kind, tc.channel, tc.ext); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("CaseOfInbound(%v) = %v, want ErrNotFound", tc, err)
		}
	}
}

func testPortalDrafts(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	mario, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi", Email: "draft.mario@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	lucia, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "VRDLCU80A01H501X", Name: "Lucia Verdi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.GetDraft(ctx, mario); ok || err != nil {
		t.Fatalf("draft before any save: %v, %v", ok, err)
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if err := db.SaveDraft(ctx, mario, storage.PortalDraft{Category: "library", Subject: "Prestito", Message: "Prima stesura", UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	// A second save replaces the first.
	want := storage.PortalDraft{Subject: "Prestito interbibliotecario", Message: "Seconda stesura\ncon due righe", UpdatedAt: at.Add(time.Hour)}
	if err := db.SaveDraft(ctx, mario, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.GetDraft(ctx, mario)
	if err != nil || !ok || got.Subject != want.Subject || got.Message != want.Message || got.Category != "" || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("GetDraft = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if _, ok, _ := db.GetDraft(ctx, lucia); ok {
		t.Fatal("another citizen sees the draft")
	}
	if err := db.SaveDraft(ctx, "not-a-contact", want); err == nil {
		t.Fatal("a draft saved for an invalid contact id")
	}
	if err := db.DeleteDraft(ctx, mario); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.GetDraft(ctx, mario); ok || err != nil {
		t.Fatalf("draft after delete: %v, %v", ok, err)
	}
	if err := db.DeleteDraft(ctx, mario); err != nil {
		t.Fatalf("deleting no draft: %v", err)
	}
}
