package meta

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/channeltest"
	"github.com/sportello/sportello/channels/meta/metatest"
)

// A reply longer than the platform takes in one message goes out in parts
// within the documented limit (the fake refuses longer texts as the Graph
// API does), in order, the text whole; a text within the limit is one.
func TestSendLong(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	sentence := "La sua pratica è stata presa in carico dall'ufficio tributi. "
	for _, tc := range []struct {
		kind, handle string
		text         string
		parts        int
		fits         func(string) bool
	}{
		{KindWhatsApp, "whatsapp:393331234567", strings.Repeat(sentence, 150), 3, func(s string) bool { return utf8.RuneCountInString(s) <= 4096 }},
		{KindWhatsApp, "whatsapp:393331234567", strings.Repeat(sentence, 60), 1, nil},
		{KindMessenger, "messenger:6543210987654321", strings.Repeat(sentence, 50), 2, func(s string) bool { return utf8.RuneCountInString(s) <= 2000 }},
		{KindInstagram, "instagram:17841400000000000", strings.Repeat(sentence, 30), 2, func(s string) bool { return len(s) <= 1000 }},
		{KindInstagram, "instagram:17841400000000000", strings.Repeat("😀", 400), 2, func(s string) bool { return len(s) <= 1000 }},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			g.InstagramPages["1234567890"] = tc.kind == KindInstagram
			a := newAdapter(t, tc.kind, &channeltest.Sink{}, g, nil)
			m := reply(tc.kind, tc.handle, time.Now().Add(-time.Hour))
			m.BodyText = tc.text
			n, err := a.Parts(m)
			if err != nil || n != tc.parts {
				t.Fatalf("Parts = %d, %v; want %d", n, err, tc.parts)
			}
			before := len(g.Sent())
			var ids []string
			for i := range n {
				rc, err := a.SendPart(context.Background(), m, i)
				if err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				ids = append(ids, rc.ExternalID)
			}
			sent := g.Sent()[before:]
			var got []string
			for _, r := range sent {
				var text string
				if tc.kind == KindWhatsApp {
					text = r.JSON["text"].(map[string]any)["body"].(string)
				} else {
					text = r.JSON["message"].(map[string]any)["text"].(string)
				}
				if tc.fits != nil && !tc.fits(text) {
					t.Errorf("a part over the limit: %d characters, %d bytes", utf8.RuneCountInString(text), len(text))
				}
				got = append(got, text)
			}
			if len(got) != tc.parts || strings.Join(strings.Fields(strings.Join(got, "")), "") != strings.Join(strings.Fields(tc.text), "") {
				t.Fatalf("%d parts sent, text changed", len(got))
			}
			if len(ids) != n || ids[0] == ids[len(ids)-1] && n > 1 {
				t.Errorf("external ids %v", ids)
			}
			if _, err := a.SendPart(context.Background(), m, n); !channels.IsPermanent(err) {
				t.Errorf("part %d of %d: %v, want a permanent error", n, n, err)
			}
		})
	}
	// Without splitting, the fake refuses what the Graph API refuses.
	a := newAdapter(t, KindWhatsApp, &channeltest.Sink{}, g, nil)
	if _, err := a.sendText(context.Background(), "393331234567", strings.Repeat("x", 4097)); err == nil || !strings.Contains(err.Error(), "(#100)") {
		t.Errorf("a 4097-character text: %v", err)
	}
}
