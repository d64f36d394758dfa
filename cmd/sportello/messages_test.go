package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationReplyAndNote: an operator replies and adds a note; the
// reply, not the note, reaches the OUTBOUND stream addressed to the citizen
// and threaded to their message.
func TestIntegrationReplyAndNote(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := startServer(t, testConfig(t, b))
		s.submit(itSubmit)
		c := s.waitForCases(1)[0]
		add := func(token, dir, body string) response {
			b, _ := json.Marshal(map[string]string{"direction": dir, "bodyText": body})
			return s.do("POST", "/v1/cases/"+c.Id+"/messages", jsonType, b, bearer(token))
		}
		if r := add(itToken, "DIRECTION_INTERNAL_NOTE", "Chiedere al CED."); r.Status != 200 {
			t.Fatalf("note: %d %s", r.Status, r.Body)
		}
		r := add(itToken, "DIRECTION_OUTBOUND", "Buongiorno, provi ora ad accedere.")
		var reply casesv1.Message
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &reply) != nil || reply.DeliveryStatus != "queued" || reply.AuthorName != "op-it" {
			t.Fatalf("reply: %d %s", r.Status, r.Body)
		}
		for _, bad := range []struct {
			token, dir, body string
			want             int
		}{
			{itToken, "DIRECTION_INBOUND", "x", 400}, {itToken, "DIRECTION_OUTBOUND", "", 400},
			{supToken, "DIRECTION_OUTBOUND", strings.Repeat("a", 20001), 400}, {"", "DIRECTION_OUTBOUND", "x", 401},
		} {
			if r := add(bad.token, bad.dir, bad.body); r.Status != bad.want {
				t.Errorf("%s %q…: %d, want %d", bad.dir, bad.body[:min(5, len(bad.body))], r.Status, bad.want)
			}
		}
		var thread casesv1.ListMessagesResponse
		r = s.get("/v1/cases/"+c.Id+"/messages", itToken)
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &thread) != nil || len(thread.Messages) != 3 ||
			thread.Messages[0].Direction != casesv1.Direction_DIRECTION_INBOUND || thread.Messages[1].Direction != casesv1.Direction_DIRECTION_INTERNAL_NOTE {
			t.Fatalf("thread: %d %s", r.Status, r.Body)
		}

		js, _ := jetstream.New(s.app.nc)
		stream, err := js.Stream(context.Background(), events.OutboundStream)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the reply on OUTBOUND", func() bool {
			info, _ := stream.Info(context.Background())
			return info.State.Msgs == 1
		})
		time.Sleep(100 * time.Millisecond) // the note must not follow
		info, _ := stream.Info(context.Background())
		m, err := stream.GetMsg(context.Background(), info.State.FirstSeq)
		if err != nil || info.State.Msgs != 1 {
			t.Fatalf("OUTBOUND holds %d messages (%v)", info.State.Msgs, err)
		}
		var out outboundv1.OutboundMessage
		if err := proto.Unmarshal(m.Data, &out); err != nil {
			t.Fatal(err)
		}
		if m.Subject != "sportello.outbound.webform.webform" || m.Header.Get(jetstream.MsgIDHeader) != reply.Id ||
			out.To.GetEmail() != "s@example.it" || out.CaseReference != c.Reference || len(out.InReplyTo) != 1 || out.BodyText != reply.BodyText {
			t.Fatalf("OUTBOUND %s %v: %v", m.Subject, m.Header, &out)
		}
	})
}
