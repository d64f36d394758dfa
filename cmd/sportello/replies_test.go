package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationWebFormReplyByEmail: the web form has no way back of its
// own, so an operator's reply on a web-form request goes by e-mail from
// web.reply_mailbox to the address the citizen gave, and is delivered.
func TestIntegrationWebFormReplyByEmail(t *testing.T) {
	t.Parallel()
	sink := emailtest.Start(t)
	cfg := mailConfig(t, storetest.Backends()[0], sink)
	cfg.Web.ReplyMailbox = "dati"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg)
	s.submit(`{"name":"Lucia Neri","email":"lucia.neri@example.org","category":"microdata","subject":"Microdati del censimento","message":"Vorrei i microdati."}`)
	c := s.waitCase(t, "Microdati del censimento")

	r := s.reply(c, "Gentile Lucia,\ni microdati sono disponibili sul portale.")
	if r.ChannelKind != "email" {
		t.Fatalf("reply channel = %q, want email", r.ChannelKind)
	}
	s.waitDelivery(c, r.Id, "sent")
	msg, raw := sentMessage(t, sink, 1)
	if !slices.Equal(raw.To, []string{"lucia.neri@example.org"}) || raw.From != "dati@comune.example.it" {
		t.Fatalf("envelope from %s to %v", raw.From, raw.To)
	}
	if !strings.Contains(msg.TextBody, "i microdati sono disponibili") {
		t.Fatalf("body = %q", msg.TextBody)
	}

	t.Run("web.reply_mailbox must name a mailbox", func(t *testing.T) {
		bad := cfg
		bad.Web.ReplyMailbox = "nope"
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `web.reply_mailbox "nope"`) {
			t.Fatalf("err = %v", err)
		}
	})
}
