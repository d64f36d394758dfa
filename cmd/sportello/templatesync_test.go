package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	"github.com/sportello/sportello/channels/meta/metatest"
	"github.com/sportello/sportello/services/storage/storetest"
)

const testWABA = "102290129340398"

func wabaTemplates(promemoria string) []map[string]any {
	return []map[string]any{
		{"name": "aggiornamento_pratica", "language": "it", "status": "APPROVED", "category": "UTILITY", "parameter_format": "POSITIONAL", "id": "1",
			"components": []any{map[string]any{"type": "BODY", "text": "Gentile {{1}}, ci sono novità sulla sua richiesta {{2}}: le trova nell'area personale."}}},
		{"name": "esito_pratica", "language": "it", "status": "APPROVED", "category": "UTILITY", "parameter_format": "NAMED", "id": "3",
			"components": []any{map[string]any{"type": "HEADER", "format": "TEXT", "text": "Pratica {{numero}}"},
				map[string]any{"type": "BODY", "text": "Gentile {{nome}}, la pratica è conclusa."},
				map[string]any{"type": "BUTTONS", "buttons": []any{map[string]any{"type": "URL", "text": "Apri", "url": "https://comune.example.it/p/{{1}}"}}}}},
		{"name": "promemoria", "language": "it", "status": promemoria, "category": "UTILITY", "parameter_format": "POSITIONAL", "id": "2",
			"components": []any{map[string]any{"type": "BODY", "text": "Le ricordiamo che la sua pratica attende una risposta."}}},
	}
}

// TestIntegrationWhatsAppTemplateSync: a WhatsApp channel with a waba_id
// fetches its templates from Meta at start; a template Meta paused is
// refused by AddMessage with the reason (nothing reaches the Graph API),
// an approved one goes; once Meta approves it again an administrator's
// sync makes it usable; the last sync shows in ListChannels and /metrics.
func TestIntegrationWhatsAppTemplateSync(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		graph := metatest.NewGraph(waToken)
		defer graph.Close()
		graph.Templates["aggiornamento_pratica"], graph.Templates["promemoria"], graph.Templates["esito_pratica"] = 2, 0, 1
		graph.SetWABATemplates(testWABA, wabaTemplates("PAUSED"))
		var later atomic.Int64
		cfg := testConfig(t, b)
		cfg.replyClock = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
		doc := fmt.Sprintf(`
- type: whatsapp
  id: wa
  config:
    app_secret: %s
    verify_token: verify
    access_token: %s
    phone_number_id: "%s"
    graph_url: %s
    waba_id: "%s"
    template_sync_interval: 1h
    templates:
      - name: aggiornamento_pratica
        language: it
        body: "Gentile {{1}}, ci sono novità sulla sua richiesta {{2}}: le trova nell'area personale."
        params: 2
      - name: promemoria
        language: it
        body: "Le ricordiamo che la sua pratica attende una risposta."
      - name: esito_pratica
        language: it
        parameter_format: named
        header: {format: text, text: "Pratica {{numero}}"}
        body: "Gentile {{nome}}, la pratica è conclusa."
        params: 1
        buttons: [{type: url, text: Apri, url: "https://comune.example.it/p/{{1}}"}]
`, waSecret, waToken, waPhoneID, graph.URL, testWABA)
		if err := yaml.Unmarshal([]byte(doc), &cfg.Channels); err != nil {
			t.Fatal(err)
		}
		cfg.socialBackoff = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, cfg)
		waChannel := func() *adminv1.Channel {
			r := s.get("/v1/admin/channels", adminToken)
			var list adminv1.ListChannelsResponse
			if r.Status != 200 || protojson.Unmarshal(r.Body, &list) != nil {
				t.Fatalf("ListChannels: %d %s", r.Status, r.Body)
			}
			for _, c := range list.Channels {
				if c.Kind == "whatsapp" && c.Id == "wa" {
					return c
				}
			}
			t.Fatal("no whatsapp channel listed")
			return nil
		}
		eventually(t, "the first sync", func() bool { return waChannel().GetTemplateSync().GetSuccessTime() != nil })
		if ts := waChannel().TemplateSync; len(ts.Templates) != 3 || ts.Error != "" {
			t.Fatalf("template sync %+v", ts)
		}
		if r := s.metaWebhook(readFixture(t, "channels/meta/testdata/whatsapp-text.json")); r.Status != 200 {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
		wa := s.waitForCases(1)[0]
		later.Store(int64(25 * time.Hour))

		// Paused at Meta: refused up front, with the reason.
		r := s.addMessage(wa.Id, `{"direction":"DIRECTION_OUTBOUND","templateName":"promemoria"}`)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "PAUSED") {
			t.Fatalf("paused template: %d %s", r.Status, r.Body)
		}
		// Approved: goes out.
		r = s.addMessage(wa.Id, `{"direction":"DIRECTION_OUTBOUND","templateName":"aggiornamento_pratica","templateParams":["Sheena","2026-000001"]}`)
		if r.Status != 200 {
			t.Fatalf("approved template: %d %s", r.Status, r.Body)
		}
		eventually(t, "the template sent", func() bool { return len(graph.Sent()) == 1 })

		// Meta approves it again; an administrator syncs now.
		graph.SetWABATemplates(testWABA, wabaTemplates("APPROVED"))
		if r := s.do("POST", "/v1/admin/channels/whatsapp/wa/templates:sync", jsonType, []byte(`{}`), map[string]string{"Authorization": "Bearer " + itToken}); r.Status != http.StatusForbidden {
			t.Fatalf("operator sync: %d", r.Status)
		}
		for _, tc := range []struct {
			path string
			want int
		}{{"/v1/admin/channels/whatsapp/nope/templates:sync", http.StatusNotFound}, {"/v1/admin/channels/webform/webform/templates:sync", http.StatusBadRequest}} {
			if r := s.do("POST", tc.path, jsonType, []byte(`{}`), map[string]string{"Authorization": "Bearer " + adminToken}); r.Status != tc.want {
				t.Errorf("%s: %d %s, want %d", tc.path, r.Status, r.Body, tc.want)
			}
		}
		r = s.do("POST", "/v1/admin/channels/whatsapp/wa/templates:sync", jsonType, []byte(`{}`), map[string]string{"Authorization": "Bearer " + adminToken})
		var synced adminv1.SyncChannelTemplatesResponse
		if r.Status != 200 || protojson.Unmarshal(r.Body, &synced) != nil || len(synced.TemplateSync.GetTemplates()) != 3 {
			t.Fatalf("sync: %d %s", r.Status, r.Body)
		}
		for _, tpl := range synced.TemplateSync.Templates {
			if tpl.Status != "APPROVED" {
				t.Errorf("after the sync: %+v", tpl)
			}
		}
		if r := s.addMessage(wa.Id, `{"direction":"DIRECTION_OUTBOUND","templateName":"promemoria"}`); r.Status != 200 {
			t.Fatalf("re-approved template: %d %s", r.Status, r.Body)
		}
		eventually(t, "the second template sent", func() bool { return len(graph.Sent()) == 2 })

		// A template with named parameters, a text header and a URL button.
		r = s.addMessage(wa.Id, `{"direction":"DIRECTION_OUTBOUND","templateName":"esito_pratica","templateNamedParams":{"nome":"Sheena"},`+
			`"templateHeader":{"text":"2026-000001"},"templateButtonParams":["2026-000001"]}`)
		if r.Status != 200 || !strings.Contains(string(r.Body), "Pratica 2026-000001") {
			t.Fatalf("rich template: %d %s", r.Status, r.Body)
		}
		eventually(t, "the rich template sent", func() bool { return len(graph.Sent()) == 3 })
		comps := graph.Sent()[2].JSON["template"].(map[string]any)["components"].([]any)
		if len(comps) != 3 || comps[0].(map[string]any)["type"] != "header" || comps[2].(map[string]any)["sub_type"] != "url" {
			t.Fatalf("components %v", comps)
		}
		if r := s.addMessage(wa.Id, `{"direction":"DIRECTION_OUTBOUND","templateName":"esito_pratica","templateNamedParams":{"nome":"Sheena"}}`); r.Status != http.StatusBadRequest {
			t.Fatalf("rich template without its header and button: %d %s", r.Status, r.Body)
		}
		if body := string(s.get("/metrics", "").Body); !strings.Contains(body, `sportello_channel_template_sync_failing{channel="wa",kind="whatsapp"} 0`) ||
			!strings.Contains(body, `sportello_channel_template_sync_timestamp_seconds{channel="wa",kind="whatsapp"}`) {
			t.Error("/metrics has no template sync")
		}
	})
}
