package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationWebFormAcknowledgement: a request made with the web form
// and an e-mail address is acknowledged once, by e-mail from the reply
// mailbox (the outbound path of replies), with the reference, when to
// expect an answer and a follow link that opens the case; in English when
// the request was made in English; staff never see the link's token; none
// is sent when web.acknowledgement is false.
func TestIntegrationWebFormAcknowledgement(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, language string
		off            bool
		want           []string
	}{
		{name: "italian", want: []string{"Gentile Anna Gallo,", "numero di pratica", "prima risposta entro il", "Il link vale fino al"}},
		{name: "english", language: "en", want: []string{"Dear Anna Gallo,", "registered it as case", "first answer by", "?lang=en"}},
		{name: "off", off: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := emailtest.Start(t)
			cfg := mailConfig(t, storetest.Backends()[0], sink)
			cfg.Web.ReplyMailbox = "dati"
			on := !tc.off
			cfg.Web.Acknowledgement = &on
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			s := startServer(t, cfg)
			body := `{"name":"Anna Gallo","email":"Anna.Gallo@example.org","category":"data-request","subject":"Dati sul turismo","message":"Vorrei i dati sul turismo."`
			if tc.language != "" {
				body += `,"language":"` + tc.language + `"`
			}
			s.submit(body + `}`)
			id := s.waitCase(t, "Dati sul turismo")
			c, err := s.grpcCases().GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: id})
			if err != nil {
				t.Fatal(err)
			}
			if tc.off {
				// The case is stored with its messages in one transaction:
				// an acknowledgement would be on it now, and at the sink soon.
				time.Sleep(time.Second)
				for _, m := range s.messages(id) {
					if m.GetKind() == intake.AckKind {
						t.Fatalf("acknowledgement with web.acknowledgement false: %v", m)
					}
				}
				if n := len(sink.Messages()); n != 0 {
					t.Fatalf("%d mails at the sink, want none", n)
				}
				return
			}
			msg, raw := sentMessage(t, sink, 1)
			if raw.From != "dati@comune.example.it" || len(raw.To) != 1 || raw.To[0] != "anna.gallo@example.org" {
				t.Fatalf("acknowledgement from %s to %v", raw.From, raw.To)
			}
			for _, w := range append(tc.want, c.GetReference(), "Dati sul turismo") {
				if !strings.Contains(msg.TextBody, w) {
					t.Errorf("acknowledgement lacks %q: %s", w, msg.TextBody)
				}
			}
			m := followLinkRE.FindStringSubmatch(msg.TextBody)
			if m == nil || !strings.Contains(msg.TextBody, s.base+"/follow/"+m[1]) {
				t.Fatalf("no follow link on this server in %q", msg.TextBody)
			}
			token := m[1]
			code, page := plainGet(t, http.DefaultClient, s.base+"/follow/"+token)
			if code != 200 || !strings.Contains(page, c.GetReference()) || !strings.Contains(page, "Vorrei i dati sul turismo.") {
				t.Fatalf("follow link: %d %s", code, page)
			}
			acks := 0
			for _, m := range s.messages(id) {
				if strings.Contains(m.GetBodyText(), token) {
					t.Fatalf("staff see the token: %q", m.GetBodyText())
				}
				if m.GetKind() == intake.AckKind {
					acks++
					if m.GetChannelKind() != "email" || m.GetChannelId() != "dati" || !strings.Contains(m.GetBodyText(), "/follow/…") {
						t.Errorf("acknowledgement on the case: %v", m)
					}
				}
			}
			if acks != 1 {
				t.Fatalf("%d acknowledgements on the case, want 1", acks)
			}
			s.waitDelivery(id, ackID(t, s, id), "sent")
			// Never twice: nothing else arrives.
			time.Sleep(time.Second)
			if n := len(sink.Messages()); n != 1 {
				t.Fatalf("%d mails at the sink, want 1", n)
			}
		})
	}
}

func ackID(t *testing.T, s *testServer, caseID string) string {
	t.Helper()
	for _, m := range s.messages(caseID) {
		if m.GetKind() == intake.AckKind {
			return m.GetId()
		}
	}
	t.Fatalf("no acknowledgement on case %s", caseID)
	return ""
}
