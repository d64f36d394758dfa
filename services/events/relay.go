package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/sportello/sportello/services/cases"
)

// Outbox is where the relay reads events to publish (services/storage).
type Outbox interface {
	// RelayEvents hands up to limit unpublished events, oldest first, to
	// publish and marks them published only if publish returns nil.
	RelayEvents(ctx context.Context, limit int, publish func([]cases.Event) error) (int, error)
	// RequeueEvents marks events published in the last window as not
	// published, so they are relayed again; it returns how many.
	RequeueEvents(ctx context.Context, window time.Duration) (int, error)
}

// Relay publishes the case history to the CASE_EVENTS stream: the outbox
// half of "change and event in one transaction". A crash between publish
// and mark republishes the same events with the same Nats-Msg-Id, which
// JetStream drops inside its duplicate window.
type Relay struct {
	JS     jetstream.JetStream
	Outbox Outbox
	Log    *slog.Logger
	// Idle is the pause between polls when nothing was pending; 100 ms
	// when zero.
	Idle      time.Duration
	Published prometheus.Counter
	// Requeue republishes the last RequeueWindow of events at start-up;
	// set it when CASE_EVENTS is stored asynchronously.
	Requeue bool
}

// NewRelayCounter registers the relay's counter on reg.
func NewRelayCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sportello_case_events_published_total", Help: "Case events relayed to the CASE_EVENTS stream.",
	})
	reg.MustRegister(c)
	return c
}

const relayBatch = 500

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	idle := r.Idle
	if idle <= 0 {
		idle = 100 * time.Millisecond
	}
	if r.Requeue {
		// Whatever a power loss took from the unsynced stream comes back;
		// what JetStream still has, it drops as a duplicate.
		if n, err := r.Outbox.RequeueEvents(ctx, RequeueWindow); err != nil {
			r.Log.Warn("relay: requeue of recent events failed", "err", err)
		} else if n > 0 {
			r.Log.Info("relay: republishing recent events", "events", n)
		}
	}
	for {
		n, err := r.Outbox.RelayEvents(ctx, relayBatch, r.publish)
		if err != nil && ctx.Err() == nil {
			r.Log.Warn("relay: will retry", "err", err)
		}
		if n == relayBatch && err == nil {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(idle):
		}
	}
}

// publish sends a batch asynchronously and waits for every ack.
func (r *Relay) publish(evs []cases.Event) error {
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	for _, e := range evs {
		data, err := proto.Marshal(cases.EventToProto(e))
		if err != nil {
			return err
		}
		m := nats.NewMsg(CaseEventsPrefix + string(e.Type))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, e.ID)
		m.Header.Set("Sportello-Case-Id", e.CaseID)
		f, err := r.JS.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("publish event %s: %w", e.ID, err)
		}
		futures = append(futures, f)
	}
	timeout := time.After(publishTimeout)
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish event: %w", err)
		case <-timeout:
			return fmt.Errorf("publish events: no ack after %v", publishTimeout)
		}
	}
	if r.Published != nil {
		r.Published.Add(float64(len(evs)))
	}
	return nil
}
