package events_test

import (
	"context"
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
