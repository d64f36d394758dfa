package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/events"
)

// receipts is a provider without idempotency keys: it numbers what it
// accepts.
type receipts struct {
	mu   sync.Mutex
	sent []string
}

func (r *receipts) ExternalID(*outboundv1.OutboundMessage) string { return "" }
func (r *receipts) Send(ctx context.Context, m *outboundv1.OutboundMessage) error {
	_, err := r.SendReceipt(ctx, m)
	return err
}
func (r *receipts) SendReceipt(_ context.Context, m *outboundv1.OutboundMessage) (channels.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m.GetId())
	return channels.Receipt{ExternalID: "prov-" + m.GetId()}, nil
}

func (r *receipts) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

// TestRepliesAtMostOnce: with a provider that names messages only when it
// accepts them, a reply is sent once and its provider id recorded; a reply
// whose earlier attempt was interrupted mid-send is failed, not resent; a
// reply already settled is acknowledged without sending.
func TestRepliesAtMostOnce(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.publishRaw(t, "once-1", batch(contact("once-1")))
	eventually(t, "the case", func() bool { return len(r.cases(t)) == 1 })
	caseID := r.cases(t)[0].ID
	add := func() cases.Message {
		m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, AuthorName: "op", Body: "Risposta."}
		m, _, err := r.db.AddMessage(ctx, caseID, m, cases.MessageAdded("op", m))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	fresh, interrupted, settled := add(), add(), add()
	if err := r.db.RecordDelivery(ctx, cases.Delivery{MessageID: interrupted.ID, Status: cases.DeliverySending, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := r.db.RecordDelivery(ctx, cases.Delivery{MessageID: settled.ID, Status: cases.DeliverySent, ExternalID: "prov-earlier", Attempts: 1}); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go (&events.OutboundRelay{JS: r.js, Outbox: r.db, Log: log, Idle: 10 * time.Millisecond}).Run(rctx)
	provider := &receipts{}
	replies := &events.Replies{JS: r.js, Kind: "webform", Replier: provider, Deliveries: r.db, Messages: r.db, Log: log,
		Backoff: []time.Duration{50 * time.Millisecond}}
	done := make(chan struct{})
	go func() { defer close(done); _ = replies.Run(rctx) }()

	status := func(id string) cases.Message {
		m, err := r.db.GetMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	eventually(t, "the fresh reply sent", func() bool { return status(fresh.ID).DeliveryStatus == cases.DeliverySent })
	eventually(t, "the interrupted reply failed", func() bool { return status(interrupted.ID).DeliveryStatus == cases.DeliveryFailed })
	if got := status(fresh.ID); got.ExternalID != "prov-"+fresh.ID {
		t.Errorf("fresh reply's external id %q", got.ExternalID)
	}
	if got := status(interrupted.ID); !strings.Contains(got.DeliveryError, "not sent again") {
		t.Errorf("interrupted reply's error %q", got.DeliveryError)
	}
	// The settled one is acknowledged: nothing stays pending.
	eventually(t, "nothing pending", func() bool {
		c, err := r.js.Consumer(ctx, events.OutboundStream, "replier-webform")
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	if n := provider.count(); n != 1 {
		t.Fatalf("the provider was called %d times, want 1 (sent: %v)", n, provider.sent)
	}
	if got := status(settled.ID); got.DeliveryStatus != cases.DeliverySent || got.ExternalID != "prov-earlier" {
		t.Errorf("settled reply %+v", got)
	}
	cancel()
	<-done
}

// parted is a provider that takes each message in three parts; failOnce
// makes the first attempt of one part fail temporarily.
type parted struct {
	mu       sync.Mutex
	sent     []string // "<message id>/<part>"
	failOnce map[string]bool
}

func (p *parted) ExternalID(*outboundv1.OutboundMessage) string { return "" }
func (p *parted) Send(ctx context.Context, m *outboundv1.OutboundMessage) error {
	_, err := p.SendReceipt(ctx, m)
	return err
}
func (p *parted) SendReceipt(ctx context.Context, m *outboundv1.OutboundMessage) (channels.Receipt, error) {
	return p.SendPart(ctx, m, 0)
}
func (p *parted) Parts(*outboundv1.OutboundMessage) (int, error) { return 3, nil }
func (p *parted) SendPart(_ context.Context, m *outboundv1.OutboundMessage, i int) (channels.Receipt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := fmt.Sprintf("%s/%d", m.GetId(), i)
	if p.failOnce[key] {
		delete(p.failOnce, key)
		return channels.Receipt{}, errors.New("HTTP 503")
	}
	p.sent = append(p.sent, key)
	return channels.Receipt{ExternalID: "prov-" + key}, nil
}

func (p *parted) sentOf(id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.sent {
		if strings.HasPrefix(s, id+"/") {
			out = append(out, strings.TrimPrefix(s, id+"/"))
		}
	}
	return out
}

// TestRepliesInParts: a message sent in parts records each part's provider
// id; a temporary failure at a part resumes with that part (the earlier
// ones are not sent again); a crash between parts resumes with the next;
// a part interrupted mid-send fails the message without resending
// anything; status reports on the parts add up on the message.
func TestRepliesInParts(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.publishRaw(t, "parts-1", batch(contact("parts-1")))
	eventually(t, "the case", func() bool { return len(r.cases(t)) == 1 })
	c := r.cases(t)[0]
	add := func() cases.Message {
		m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, AuthorName: "op", Body: "Risposta lunga."}
		m, _, err := r.db.AddMessage(ctx, c.ID, m, cases.MessageAdded("op", m))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	flaky, resumed, interrupted := add(), add(), add()
	// resumed: an earlier worker got part 0 accepted and died before part 1.
	if err := r.db.RecordDelivery(ctx, cases.Delivery{MessageID: resumed.ID, Status: cases.DeliverySending, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := r.db.RecordPart(ctx, cases.Part{MessageID: resumed.ID, Index: 0, Status: cases.DeliverySent, ExternalID: "prov-" + resumed.ID + "/0"}); err != nil {
		t.Fatal(err)
	}
	// The provider reports part 0 delivered while the rest is unsent: the
	// message stays sending (delivered would make the retry take it as
	// settled and leave parts 1 and 2 unsent).
	if err := r.db.RecordDeliveryByExternalID(ctx, c.ChannelKind, c.ChannelID, "prov-"+resumed.ID+"/0", cases.Delivery{Status: cases.DeliveryDelivered}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.db.GetMessage(ctx, resumed.ID); err != nil || got.DeliveryStatus != cases.DeliverySending {
		t.Fatalf("a part's report while the rest is unsent: %+v %v", got.DeliveryStatus, err)
	}
	// interrupted: an earlier worker died while part 1 was with the provider.
	for _, p := range []cases.Part{{MessageID: interrupted.ID, Index: 0, Status: cases.DeliverySent, ExternalID: "x-0"},
		{MessageID: interrupted.ID, Index: 1, Status: cases.DeliverySending}} {
		if err := r.db.RecordPart(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.db.RecordDelivery(ctx, cases.Delivery{MessageID: interrupted.ID, Status: cases.DeliverySending, Attempts: 1}); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go (&events.OutboundRelay{JS: r.js, Outbox: r.db, Log: log, Idle: 10 * time.Millisecond}).Run(rctx)
	provider := &parted{failOnce: map[string]bool{flaky.ID + "/1": true}}
	replies := &events.Replies{JS: r.js, Kind: "webform", Replier: provider, Deliveries: r.db, Messages: r.db, Parts: r.db, Log: log,
		Backoff: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}}
	done := make(chan struct{})
	go func() { defer close(done); _ = replies.Run(rctx) }()

	status := func(id string) cases.Message {
		m, err := r.db.GetMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, m := range []cases.Message{flaky, resumed} {
		eventually(t, "sent", func() bool { return status(m.ID).DeliveryStatus == cases.DeliverySent })
	}
	eventually(t, "the interrupted reply failed", func() bool { return status(interrupted.ID).DeliveryStatus == cases.DeliveryFailed })
	for _, tt := range []struct {
		m    cases.Message
		want string
	}{{flaky, "0,1,2"}, {resumed, "1,2"}, {interrupted, ""}} {
		if got := strings.Join(provider.sentOf(tt.m.ID), ","); got != tt.want {
			t.Errorf("message %s: parts sent %q, want %q", tt.m.ID, got, tt.want)
		}
	}
	if got := status(flaky.ID); got.ExternalID != "prov-"+flaky.ID+"/0" {
		t.Errorf("flaky message: external id %q", got.ExternalID)
	}
	if got := status(interrupted.ID).DeliveryError; !strings.Contains(got, "part 2 of 3") || !strings.Contains(got, "not sent again") {
		t.Errorf("interrupted message's error %q", got)
	}
	parts, err := r.db.MessageParts(ctx, flaky.ID)
	if err != nil || len(parts) != 3 {
		t.Fatalf("parts %+v %v", parts, err)
	}
	for i, p := range parts {
		if p.Status != cases.DeliverySent || p.ExternalID != fmt.Sprintf("prov-%s/%d", flaky.ID, i) {
			t.Errorf("part %d: %+v", i, p)
		}
	}
	// Status reports name the parts; the message is delivered once all are.
	for i, want := range []string{cases.DeliverySent, cases.DeliverySent, cases.DeliveryDelivered} {
		ext := fmt.Sprintf("prov-%s/%d", flaky.ID, (i+1)%3) // parts 1, 2, then 0
		if err := r.db.RecordDeliveryByExternalID(ctx, c.ChannelKind, c.ChannelID, ext, cases.Delivery{Status: cases.DeliveryDelivered}); err != nil {
			t.Fatal(err)
		}
		if got := status(flaky.ID).DeliveryStatus; got != want {
			t.Errorf("after %d parts delivered: %s, want %s", i+1, got, want)
		}
	}
	if err := r.db.RecordDeliveryByExternalID(ctx, c.ChannelKind, c.ChannelID, "prov-"+flaky.ID+"/2", cases.Delivery{Status: cases.DeliveryFailed, Error: "131026"}); err != nil {
		t.Fatal(err)
	}
	if got := status(flaky.ID); got.DeliveryStatus != cases.DeliveryFailed || !strings.Contains(got.DeliveryError, "part 3 of 3") {
		t.Errorf("after a part failed: %s %q", got.DeliveryStatus, got.DeliveryError)
	}
	cancel()
	<-done
}
