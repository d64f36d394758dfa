package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	"github.com/sportello/sportello/channels/meta"
	"github.com/sportello/sportello/channels/meta/metatest"
	"github.com/sportello/sportello/channels/telegram"
	"github.com/sportello/sportello/channels/telegram/telegramtest"
	"github.com/sportello/sportello/services/storage/storetest"
)

const (
	waSecret  = "wa-app-secret"
	waToken   = "wa-access-token"
	tgToken   = "4242:test-bot-token"
	tgSecret  = "tg-secret_1"
	waPhoneID = "106540352242922"
)

// socialConfig is a test server with a WhatsApp number and a Telegram bot
// talking to the fakes.
func socialConfig(t *testing.T, b storetest.Backend, graph *metatest.Graph, bot *telegramtest.BotAPI, later *atomic.Int64) Config {
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
- type: telegram
  id: tg
  config:
    token: "%s"
    secret_token: %s
    api_url: %s
`, waSecret, waToken, waPhoneID, graph.URL, tgToken, tgSecret, bot.URL)
	if err := yaml.Unmarshal([]byte(doc), &cfg.Channels); err != nil {
		t.Fatal(err)
	}
	cfg.socialBackoff = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readFixture(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (s *testServer) metaWebhook(body string) response {
	return s.do("POST", "/channels/meta/wa", jsonType, []byte(body), map[string]string{"X-Hub-Signature-256": meta.Sign(waSecret, []byte(body))})
}

func (s *testServer) telegramWebhook(body string) response {
	return s.do("POST", "/channels/telegram/tg", jsonType, []byte(body), map[string]string{telegram.SecretHeader: tgSecret})
}

func (s *testServer) inbound(caseID string) int {
	n := 0
	for _, m := range s.messages(caseID) {
		if m.Direction == casesv1.Direction_DIRECTION_INBOUND {
			n++
		}
	}
	return n
}

func TestIntegrationSocial(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		graph := metatest.NewGraph(waToken)
		defer graph.Close()
		bot := telegramtest.New(tgToken)
		defer bot.Close()
		var later atomic.Int64 // how far the reply-window clock is ahead
		s := startServer(t, socialConfig(t, b, graph, bot, &later))

		// Meta's subscription check.
		r := s.do("GET", "/channels/meta/wa?hub.mode=subscribe&hub.verify_token=verify&hub.challenge=8675309", "", nil, nil)
		if r.Status != 200 || string(r.Body) != "8675309" {
			t.Fatalf("verification: %d %s", r.Status, r.Body)
		}
		// A forged delivery is refused and creates nothing.
		text := readFixture(t, "channels/meta/testdata/whatsapp-text.json")
		r = s.do("POST", "/channels/meta/wa", jsonType, []byte(text), map[string]string{"X-Hub-Signature-256": meta.Sign("forged", []byte(text))})
		if r.Status != http.StatusForbidden {
			t.Fatalf("forged: %d", r.Status)
		}

		// A signed WhatsApp message opens a case.
		if r := s.metaWebhook(text); r.Status != 200 {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
		wa := s.waitForCases(1)[0]
		if wa.ChannelKind != "whatsapp" || wa.ChannelId != "wa" || !strings.Contains(wa.Subject, "Sheena Nelson") {
			t.Fatalf("case %+v", wa)
		}
		// Meta delivers the same batch again: nothing new. A later message
		// of the same person goes to the same case, so once it is there
		// the redelivery was handled.
		if r := s.metaWebhook(text); r.Status != 200 {
			t.Fatalf("redelivery: %d %s", r.Status, r.Body)
		}
		second := strings.Replace(strings.Replace(text, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "wamid.SECOND", 1),
			"Does it come in another color?", "Ho dimenticato il codice della pratica", 1)
		if r := s.metaWebhook(second); r.Status != 200 {
			t.Fatalf("second message: %d %s", r.Status, r.Body)
		}
		eventually(t, "the second message on the case", func() bool { return s.inbound(wa.Id) == 2 })
		if n := len(s.allCases()); n != 1 {
			t.Fatalf("%d cases after a redelivery and a follow-up, want 1", n)
		}

		// An operator's reply reaches the Graph API...
		reply := s.reply(wa.Id, "Buongiorno, il codice è nella ricevuta.")
		sent := s.waitDelivery(wa.Id, reply.Id, "sent")
		calls := graph.Sent()
		if len(calls) != 1 {
			t.Fatalf("%d sends", len(calls))
		}
		body, _ := calls[0].JSON["text"].(map[string]any)
		if calls[0].Path != "/"+waPhoneID+"/messages" || calls[0].JSON["to"] != "16505551234" || calls[0].JSON["type"] != "text" ||
			calls[0].JSON["messaging_product"] != "whatsapp" || body["body"] != "Buongiorno, il codice è nella ricevuta." {
			t.Fatalf("sent %+v", calls[0])
		}
		if !strings.HasPrefix(sent.ExternalId, "wamid.FAKE") {
			t.Fatalf("external id %q", sent.ExternalId)
		}
		// ... and the status callbacks mark it delivered, then read; a late
		// "sent" does not set it back.
		for _, st := range []string{"delivered", "read", "sent"} {
			cb := strings.NewReplacer("wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA", sent.ExternalId,
				`"status": "delivered"`, `"status": "`+st+`"`, "1750263773", strconv.FormatInt(time.Now().Unix(), 10)).
				Replace(readFixture(t, "channels/meta/testdata/whatsapp-status-delivered.json"))
			if r := s.metaWebhook(cb); r.Status != 200 {
				t.Fatalf("status %s: %d %s", st, r.Status, r.Body)
			}
			if st != "sent" {
				s.waitDelivery(wa.Id, reply.Id, st)
			}
		}
		if m := s.message(wa.Id, reply.Id); m.DeliveryStatus != "read" {
			t.Fatalf("after a late sent: %s", m.DeliveryStatus)
		}
		if n := len(graph.Sent()); n != 1 {
			t.Fatalf("the reply was sent %d times", n)
		}

		// A Telegram update becomes a case; the reply goes to sendMessage.
		if r := s.telegramWebhook(readFixture(t, "channels/telegram/testdata/text.json")); r.Status != 200 {
			t.Fatalf("telegram: %d %s", r.Status, r.Body)
		}
		var tg *casesv1.Case
		eventually(t, "the Telegram case", func() bool {
			for _, c := range s.allCases() {
				if c.ChannelKind == "telegram" {
					tg = c
				}
			}
			return tg != nil
		})
		tgReply := s.reply(tg.Id, "Gentile cittadino, la pratica è in lavorazione.")
		tgSent := s.waitDelivery(tg.Id, tgReply.Id, "sent")
		msgs := bot.Calls("sendMessage")
		if len(msgs) != 1 || msgs[0].Params["chat_id"] != float64(1111111) || msgs[0].Params["text"] != "Gentile cittadino, la pratica è in lavorazione." {
			t.Fatalf("sendMessage calls %+v", msgs)
		}
		if !strings.HasPrefix(tgSent.ExternalId, "1111111:") {
			t.Fatalf("telegram external id %q", tgSent.ExternalId)
		}

		// Another Telegram user shares the WhatsApp number as their own:
		// one contact for both channels.
		share := `{"update_id": 20001, "message": {"message_id": 7, "from": {"id": 2222222, "is_bot": false, "first_name": "Sheena"},
			"chat": {"id": 2222222, "type": "private"}, "date": 1441645570,
			"contact": {"phone_number": "16505551234", "first_name": "Sheena", "user_id": 2222222}}}`
		if r := s.telegramWebhook(share); r.Status != 200 {
			t.Fatalf("contact share: %d %s", r.Status, r.Body)
		}
		var shared *casesv1.Case
		eventually(t, "the shared contact's case", func() bool {
			for _, c := range s.allCases() {
				if c.ChannelKind == "telegram" && c.Id != tg.Id {
					shared = c
				}
			}
			return shared != nil
		})
		if shared.ContactId != wa.ContactId {
			t.Fatalf("the Telegram user who shared the WhatsApp number has contact %s, want %s", shared.ContactId, wa.ContactId)
		}

		// A supervisor merges the first Telegram citizen into the WhatsApp one.
		r = s.do("POST", "/v1/contacts/"+wa.ContactId+":merge", jsonType,
			[]byte(fmt.Sprintf(`{"sourceId":%q,"reason":"Stessa persona: confermato al telefono"}`, tg.ContactId)),
			map[string]string{"Authorization": "Bearer " + supToken})
		if r.Status != 200 {
			t.Fatalf("merge: %d %s", r.Status, r.Body)
		}
		var merged contactsv1.Contact
		if err := protojson.Unmarshal(r.Body, &merged); err != nil {
			t.Fatal(err)
		}
		handles := map[string]bool{}
		for _, h := range merged.Handles {
			handles[h.ChannelKind+"/"+h.Handle] = true
		}
		if !handles["telegram/telegram:1111111"] || !handles["whatsapp/whatsapp:16505551234"] || merged.Phone != "+16505551234" {
			t.Fatalf("merged contact %+v", &merged)
		}
		got, err := s.grpcCases().GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: tg.Id})
		if err != nil || got.ContactId != wa.ContactId {
			t.Fatalf("Telegram case after the merge: %v %v", got, err)
		}
		contains(t, "history", s.history(tg.Id), "contact_merged")
		// An operator may not merge.
		r = s.do("POST", "/v1/contacts/"+wa.ContactId+":merge", jsonType, []byte(`{"sourceId":"x","reason":"y"}`),
			map[string]string{"Authorization": "Bearer " + itToken})
		if r.Status != http.StatusForbidden {
			t.Fatalf("operator merge: %d", r.Status)
		}

		// A day later the WhatsApp conversation's window is closed: the
		// reply is refused with the reason, and nothing is sent; Telegram
		// has no window.
		later.Store(int64(25 * time.Hour))
		r = s.do("POST", "/v1/cases/"+wa.Id+"/messages", jsonType, []byte(`{"direction":"DIRECTION_OUTBOUND","bodyText":"Ancora lì?"}`),
			map[string]string{"Authorization": "Bearer " + adminToken})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "REPLY_WINDOW_CLOSED") || !strings.Contains(string(r.Body), "24 hours") {
			t.Fatalf("reply after the window: %d %s", r.Status, r.Body)
		}
		s.reply(tg.Id, "Telegram non ha finestra.")

		// The channels and their health, for administrators.
		r = s.get("/v1/admin/channels", adminToken)
		if r.Status != 200 {
			t.Fatalf("ListChannels: %d %s", r.Status, r.Body)
		}
		var list adminv1.ListChannelsResponse
		if err := protojson.Unmarshal(r.Body, &list); err != nil {
			t.Fatal(err)
		}
		byID := map[string]*adminv1.Channel{}
		for _, c := range list.Channels {
			byID[c.Kind+"/"+c.Id] = c
		}
		if c := byID["whatsapp/wa"]; c == nil || c.Health.ReceivedTotal != 3 || c.Health.SentTotal != 1 || c.WebhookPath != "/channels/meta/wa" ||
			c.Health.LastError == "" || c.Health.Backlog != 0 {
			t.Fatalf("whatsapp channel %+v", c)
		}
		if byID["telegram/tg"] == nil || byID["webform/webform"] == nil {
			t.Fatalf("channels %+v", byID)
		}
		if r := s.get("/v1/admin/channels", itToken); r.Status != http.StatusForbidden {
			t.Fatalf("operator ListChannels: %d", r.Status)
		}
		eventually(t, "the second Telegram reply", func() bool { return len(bot.Calls("sendMessage")) == 2 })
		eventually(t, "the Telegram channel's metrics", func() bool {
			return strings.Contains(string(s.get("/metrics", "").Body), `sportello_channel_sent_total{channel="tg",kind="telegram"} 2`)
		})
	})
}
