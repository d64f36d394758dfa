package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/meta/metatest"
	"github.com/sportello/sportello/services/storage/storetest"
)

// templateConfig is a test server with a WhatsApp number that has two
// approved message templates.
func templateConfig(t *testing.T, b storetest.Backend, graph *metatest.Graph, later *atomic.Int64) Config {
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
    templates:
      - name: aggiornamento_pratica
        language: it
        body: "Gentile {{1}}, ci sono novità sulla sua richiesta {{2}}: le trova nell'area personale."
        params: 2
      - name: promemoria
        language: it
        body: "Le ricordiamo che la sua pratica attende una risposta."
`, waSecret, waToken, waPhoneID, graph.URL)
	if err := yaml.Unmarshal([]byte(doc), &cfg.Channels); err != nil {
		t.Fatal(err)
	}
	cfg.socialBackoff = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (s *testServer) addMessage(caseID, body string) response {
	return s.do("POST", "/v1/cases/"+caseID+"/messages", jsonType, []byte(body), map[string]string{"Authorization": "Bearer " + adminToken})
}

// TestIntegrationWhatsAppTemplates: once the 24-hour window is closed a
// free-text reply is refused with the reason, an approved template goes
// out as the Cloud API documents it and the thread shows its text.
func TestIntegrationWhatsAppTemplates(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		graph := metatest.NewGraph(waToken)
		defer graph.Close()
		graph.Templates["aggiornamento_pratica"], graph.Templates["promemoria"] = 2, 0
		var later atomic.Int64
		s := startServer(t, templateConfig(t, b, graph, &later))
		if r := s.metaWebhook(readFixture(t, "channels/meta/testdata/whatsapp-text.json")); r.Status != 200 {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
		wa := s.waitForCases(1)[0]

		// A day later: free text is refused with the reason.
		later.Store(int64(25 * time.Hour))
		r := s.addMessage(wa.Id, `{"direction":"DIRECTION_OUTBOUND","bodyText":"Ancora lì?"}`)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "REPLY_WINDOW_CLOSED") || !strings.Contains(string(r.Body), "approved templates") {
			t.Fatalf("free text after the window: %d %s", r.Status, r.Body)
		}

		// Refused template replies store and send nothing.
		for _, tc := range []struct{ name, body, want string }{
			{"unknown name", `{"direction":"DIRECTION_OUTBOUND","templateName":"benvenuto"}`, "not an approved message template"},
			{"one parameter short", `{"direction":"DIRECTION_OUTBOUND","templateName":"aggiornamento_pratica","templateParams":["Sheena"]}`, "takes 2 parameters, got 1"},
			{"with text", `{"direction":"DIRECTION_OUTBOUND","templateName":"promemoria","bodyText":"ciao"}`, "not body_text"},
			{"internal note", `{"direction":"DIRECTION_INTERNAL_NOTE","templateName":"promemoria"}`, "staff replies"},
		} {
			r := s.addMessage(wa.Id, tc.body)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.want) || strings.Contains(string(r.Body), "REPLY_WINDOW_CLOSED") {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
		_, err := s.grpcCases().AddMessage(withToken(adminToken), &casesv1.AddMessageRequest{CaseId: wa.Id,
			Direction: casesv1.Direction_DIRECTION_OUTBOUND, TemplateName: "aggiornamento_pratica", TemplateParams: []string{"a", "b", "c"}})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("gRPC AddMessage with three parameters: %v", err)
		}
		if n := len(s.messages(wa.Id)); n != 1 {
			t.Fatalf("%d messages on the case after the refusals, want the citizen's 1", n)
		}

		// An approved template goes, and the thread shows what was sent.
		r = s.addMessage(wa.Id, `{"direction":"DIRECTION_OUTBOUND","templateName":"aggiornamento_pratica","templateParams":["Sheena Nelson","`+wa.Reference+`"]}`)
		if r.Status != http.StatusOK {
			t.Fatalf("template reply: %d %s", r.Status, r.Body)
		}
		var m casesv1.Message
		if err := protojson.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		text := "Gentile Sheena Nelson, ci sono novità sulla sua richiesta " + wa.Reference + ": le trova nell'area personale."
		if m.BodyText != text || m.TemplateName != "aggiornamento_pratica" || m.Kind != "" {
			t.Fatalf("stored %+v", &m)
		}
		sent := s.waitDelivery(wa.Id, m.Id, "sent")
		if !strings.HasPrefix(sent.ExternalId, "wamid.FAKE") || sent.BodyText != text || sent.TemplateName != "aggiornamento_pratica" {
			t.Fatalf("sent %+v", sent)
		}
		calls := graph.Sent()
		if len(calls) != 1 {
			t.Fatalf("%d sends, want 1", len(calls))
		}
		want := `{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[` +
			`{"text":"Sheena Nelson","type":"text"},{"text":"` + wa.Reference + `","type":"text"}],"type":"body"}],` +
			`"language":{"code":"it"},"name":"aggiornamento_pratica"},"to":"16505551234","type":"template"}`
		if got, _ := json.Marshal(calls[0].JSON); calls[0].Path != "/"+waPhoneID+"/messages" || string(got) != want {
			t.Fatalf("sent to %s:\n%s\nwant\n%s", calls[0].Path, got, want)
		}

		// The console offers the channel's templates on the case page: free
		// text is refused with the reason, a template goes.
		admin, page := staffBrowser(t, s, "admin", "/console/cases/"+wa.Id)
		contains(t, "case page", page, `id="reply-templates"`)
		contains(t, "case page", page, `id="template-promemoria"`)
		csrf := csrfOf(t, page)
		casePath := s.base + "/console/cases/" + wa.Id
		code, page := admin.post(casePath+"/messages", url.Values{"csrf_token": {csrf}, "kind": {"reply"}, "body": {"Ancora lì?"}})
		if code != http.StatusOK || !errorsRE.MatchString(page) || !strings.Contains(page, "approved templates") {
			t.Fatalf("console free text after the window: %d\n%s", code, page)
		}
		code, page = admin.post(casePath+"/messages", url.Values{"csrf_token": {csrf}, "template": {"aggiornamento_pratica"},
			"param": {"Sheena", "X-1"}})
		if code != http.StatusOK || errorsRE.MatchString(page) {
			t.Fatalf("console template: %d\n%s", code, page)
		}
		eventually(t, "the console's template send", func() bool { return len(graph.Sent()) == 2 })
		if got, _ := json.Marshal(graph.Sent()[1].JSON["template"]); !strings.Contains(string(got), `{"text":"X-1","type":"text"}`) {
			t.Fatalf("console template sent %s", got)
		}

		// Templates are for WhatsApp cases only.
		s.submit(defaultSubmit)
		var web *casesv1.Case
		eventually(t, "the web form case", func() bool {
			for _, c := range s.allCases() {
				if c.ChannelKind != "whatsapp" {
					web = c
				}
			}
			return web != nil
		})
		r = s.addMessage(web.Id, `{"direction":"DIRECTION_OUTBOUND","templateName":"promemoria"}`)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "for WhatsApp cases") {
			t.Fatalf("template on a web form case: %d %s", r.Status, r.Body)
		}
	})
}
