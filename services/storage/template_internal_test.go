package storage

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage/testdb"
)

// A template reply's name and parameters survive the messages.template
// column, and rows written before migration 00026 (kind
// "template:<json>") still read as templates; other kinds are left alone.
func TestTemplateColumn(t *testing.T) {
	in := cases.Template{Name: "aggiornamento_pratica", Params: []string{"Mario \"Rossi\"", "2026-000123"}}
	for _, row := range []messageRow{{Template: encodeTemplate(in)}, {Kind: templateKindPrefix + encodeTemplate(in)}} {
		m := row.toMessage()
		if m.Kind != "" || m.Template == nil || m.Template.Name != in.Name || !slices.Equal(m.Template.Params, in.Params) {
			t.Fatalf("round trip of %+v: kind %q template %+v", row, m.Kind, m.Template)
		}
	}
	for _, kind := range []string{"", "acknowledgement"} {
		if m := (messageRow{Kind: kind}).toMessage(); m.Template != nil || m.Kind != kind {
			t.Errorf("kind %q: %q %+v", kind, m.Kind, m.Template)
		}
	}
	// A broken old-form kind is no template, and no longer a kind either.
	for _, kind := range []string{"template:", "template:{", `template:{"params":["x"]}`} {
		if m := (messageRow{Kind: kind}).toMessage(); m.Template != nil || m.Kind != "" {
			t.Errorf("kind %q: %q %+v", kind, m.Kind, m.Template)
		}
	}
	for _, tpl := range []string{"{", `{"params":["x"]}`, "acknowledgement"} {
		if m := (messageRow{Template: tpl}).toMessage(); m.Template != nil {
			t.Errorf("template %q: %+v", tpl, m.Template)
		}
	}
}

// Migration 00026 moves the template of rows written in the old form
// (kind "template:<json>") to the template column, on every backend; its
// Down puts them back.
func TestMigrationTemplateColumn(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, b.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			if err := db.Migrate(ctx, log); err != nil {
				t.Fatal(err)
			}
			if err := db.UpsertDepartments(ctx, directory.Demo.Departments); err != nil {
				t.Fatal(err)
			}
			id := uuid.NewString()
			out, err := db.CreateCases(ctx, 2026, []intake.NewCase{{Contact: intake.Contact{ID: id, ChannelKind: "whatsapp", ChannelID: "wa",
				ExternalID: id, SenderHandle: "whatsapp:393331234567", Body: "Buongiorno", ReceivedAt: time.Now()}, Department: "it", Subject: "x"}},
				intake.FollowUpRule{})
			if err != nil {
				t.Fatal(err)
			}
			in := cases.Template{Name: "promemoria", Params: []string{"Mario"}}
			m, _, err := db.AddMessage(ctx, out[0].CaseID, cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound,
				Body: "Gentile Mario", Template: &in}, func(*cases.Case) ([]cases.Event, error) { return nil, nil })
			if err != nil {
				t.Fatal(err)
			}
			p, err := db.migrator()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(ctx, 25); err != nil {
				t.Fatal(err)
			}
			var kind string
			if err := db.gorm.Raw("SELECT kind FROM messages WHERE id = ?", m.ID).Scan(&kind).Error; err != nil || kind != templateKindPrefix+encodeTemplate(in) {
				t.Fatalf("after Down: kind %q, %v", kind, err)
			}
			if err := db.Migrate(ctx, log); err != nil {
				t.Fatal(err)
			}
			var row messageRow
			if err := db.gorm.Where("id = ?", m.ID).Take(&row).Error; err != nil {
				t.Fatal(err)
			}
			if row.Kind != "" || row.Template != encodeTemplate(in) {
				t.Fatalf("after Up: kind %q template %q", row.Kind, row.Template)
			}
			got, err := db.GetMessage(ctx, m.ID)
			if err != nil || got.Template == nil || got.Template.Name != "promemoria" || !slices.Equal(got.Template.Params, in.Params) {
				t.Fatalf("GetMessage: %+v %v", got.Template, err)
			}
		})
	}
}
