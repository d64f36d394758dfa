package meta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/channeltest"
	"github.com/sportello/sportello/channels/meta/metatest"
)

// The documented example answer decodes: names, languages, statuses, the
// body's placeholders (named and positional); the last page has no next.
func TestDecodeTemplatePage(t *testing.T) {
	data, err := os.ReadFile("testdata/message-templates.json")
	if err != nil {
		t.Fatal(err)
	}
	got, next, err := decodeTemplatePage(data)
	if err != nil || next != "" || len(got) != 2 {
		t.Fatalf("decode: %+v %q %v", got, next, err)
	}
	if r := got[0]; r.Name != "reservation_confirmation" || r.Status != "APPROVED" || r.ParameterFormat != "NAMED" ||
		!slices.Equal(r.Params, []string{"number_of_guests", "day", "date", "time"}) {
		t.Errorf("named template %+v", r)
	}
	if r := got[1]; r.Status != "PAUSED" || !slices.Equal(r.Params, []string{"1", "2"}) || r.ParameterFormat != "POSITIONAL" {
		t.Errorf("positional template %+v", r)
	}
	for _, bad := range []string{"", "{", `{"data":"x"}`, `[]`} {
		if _, _, err := decodeTemplatePage([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	// Entries without a usable name or language are skipped.
	got, _, err = decodeTemplatePage([]byte(`{"data":[{"name":"Bad Name","language":"it"},{"name":"ok","language":"it; drop"},{"name":"ok","language":"it","status":"approved"}]}`))
	if err != nil || len(got) != 1 || got[0].Status != "APPROVED" {
		t.Errorf("skipping: %+v %v", got, err)
	}
}

func FuzzDecodeTemplatePage(f *testing.F) {
	data, _ := os.ReadFile("testdata/message-templates.json")
	f.Add(data)
	f.Add([]byte(`{"data":[{"name":"a","language":"it","components":[{"type":"BODY","text":"{{1}} {{ x }} {{{{"}]}],"paging":{"next":"n","cursors":{"after":"A"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := decodeTemplatePage(b)
		if err != nil && got != nil {
			t.Fatal("templates with an error")
		}
		for _, g := range got {
			if !templateName.MatchString(g.Name) || !templateLanguage.MatchString(g.Language) {
				t.Fatalf("unusable template kept: %+v", g)
			}
		}
	})
}

func fakeTemplates(n int, status func(i int) string) []map[string]any {
	var out []map[string]any
	for i := range n {
		out = append(out, map[string]any{"name": fmt.Sprintf("avviso_%03d", i), "language": "it", "status": status(i), "category": "UTILITY",
			"parameter_format": "POSITIONAL", "id": fmt.Sprint(1000 + i),
			"components": []any{map[string]any{"type": "BODY", "text": "Gentile {{1}}, la pratica {{2}} è aggiornata."}}})
	}
	return out
}

// Sync follows every page of the fake (which pages as the Graph API
// does), keeps the statuses, and a template Meta paused or rejected is
// refused before anything is sent; one approved goes; without waba_id
// the configured templates are trusted.
func TestSyncTemplates(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	g.Templates["avviso_001"], g.Templates["avviso_002"], g.Templates["avviso_003"] = 2, 2, 2
	g.WABATemplates["102290129340398"] = fakeTemplates(250, func(i int) string {
		return map[int]string{2: "PAUSED", 3: "REJECTED"}[i] + map[bool]string{true: "APPROVED"}[i != 2 && i != 3]
	})
	cfg := Config{AppSecret: secret, VerifyToken: "v", AccessToken: token, PhoneNumberID: phoneID, GraphURL: g.URL, WABAID: "102290129340398",
		Templates: []Template{{Name: "avviso_001", Language: "it", Body: "Gentile {{1}}, la pratica {{2}} è aggiornata.", Params: 2},
			{Name: "avviso_002", Language: "it", Body: "Gentile {{1}}, la pratica {{2}} è aggiornata.", Params: 2},
			{Name: "avviso_003", Language: "it", Body: "Gentile {{1}}, la pratica {{2}} è aggiornata.", Params: 2},
			{Name: "avviso_999", Language: "it", Body: "x {{1}}", Params: 1}}}
	a, err := New(KindWhatsApp, "wa", cfg, channels.Deps{Sink: &channeltest.Sink{}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Before a sync, the configuration is trusted.
	if err := a.CheckTemplate(cfg.Templates[1]); err != nil {
		t.Fatalf("before sync: %v", err)
	}
	got, err := a.SyncTemplates(context.Background())
	if err != nil || len(got.Templates) != 250 || got.OK.IsZero() {
		t.Fatalf("sync: %d templates, %v", len(got.Templates), err)
	}
	var pages int
	for _, r := range g.Requests() {
		if strings.HasSuffix(r.Path, "/message_templates") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("%d pages fetched, want 3", pages)
	}
	for _, tc := range []struct {
		tpl  Template
		want string // "" for allowed
	}{
		{cfg.Templates[0], ""},
		{cfg.Templates[1], "PAUSED"},
		{cfg.Templates[2], "REJECTED"},
		{cfg.Templates[3], "no template"},
		{Template{Name: "avviso_001", Language: "en"}, "no template"},
	} {
		err := a.CheckTemplate(tc.tpl)
		if (tc.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrTemplateWithdrawn))) {
			t.Errorf("%s/%s: %v, want %q", tc.tpl.Name, tc.tpl.Language, err, tc.want)
		}
	}
	// At delivery too (a reply queued before the sync).
	m := reply(KindWhatsApp, "whatsapp:393331234567", time.Time{})
	m.Template = &outboundv1.OutboundTemplate{Name: "avviso_002", Params: []string{"Mario", "2026-000123"}}
	before := len(g.Sent())
	if _, err := a.SendReceipt(context.Background(), m); !channels.IsPermanent(err) || !errors.Is(err, ErrTemplateWithdrawn) {
		t.Fatalf("paused template sent: %v", err)
	}
	m.Template = &outboundv1.OutboundTemplate{Name: "avviso_001", Params: []string{"Mario", "2026-000123"}}
	if _, err := a.SendReceipt(context.Background(), m); err != nil {
		t.Fatalf("approved template: %v", err)
	}
	if n := len(g.Sent()) - before; n != 1 {
		t.Fatalf("%d sends, want 1", n)
	}
	// A failed sync keeps the last good list and says why.
	// (FailNext fails POSTs only: an unknown WABA makes the GET fail.)
	a.cfg.WABAID = "999"
	if _, err := a.SyncTemplates(context.Background()); err == nil {
		t.Fatal("sync of an unknown WABA succeeded")
	}
	if last := a.LastTemplateSync(); last.Err == "" || len(last.Templates) != 250 || last.OK.After(last.At) {
		t.Errorf("after a failed sync: err %q, %d templates", last.Err, len(last.Templates))
	}
	if err := a.CheckTemplate(cfg.Templates[1]); err == nil {
		t.Error("a failed sync forgot the paused template")
	}
	// Without waba_id: no sync, and the configured templates go.
	cfg.WABAID = ""
	b, err := New(KindWhatsApp, "wa2", cfg, channels.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SyncTemplates(context.Background()); err == nil || b.TemplateSyncEnabled() {
		t.Error("sync without waba_id")
	}
	if err := b.CheckTemplate(cfg.Templates[1]); err != nil {
		t.Errorf("without sync: %v", err)
	}
}
