package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
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
	// RequeueEvents puts every event whose id is at or after from (a
	// UUIDv7, so: created at or after its time) back in the outbox; it
	// returns how many.
	RequeueEvents(ctx context.Context, from string) (int, error)
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
	// Requeue republishes, at start-up, what CASE_EVENTS may have lost:
	// set it when the stream is stored asynchronously.
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
		if err := r.requeue(ctx); err != nil {
			r.Log.Warn("relay: requeue after restart failed", "err", err)
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

// requeue republishes what CASE_EVENTS may have lost: every event from
// shortly before the last one the stream still holds (the relay publishes
// in id order; the margin covers commits that landed out of order), or the
// stream's whole age when it is empty. JetStream drops copies it still has
// inside its duplicate window; after a longer outage consumers may see an
// event twice (CASE_EVENTS is at-least-once: consumers deduplicate by event
// id).
func (r *Relay) requeue(ctx context.Context) error {
	s, err := r.JS.Stream(ctx, CaseEventsStream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	from := time.Now().Add(-caseEventsMaxAge)
	if info.State.Msgs > 0 {
		// The last message that exists: LastSeq may name a deleted one.
		last, err := s.GetLastMsgForSubject(ctx, CaseEventsPrefix+">")
		if err != nil {
			return err
		}
		id, err := uuid.Parse(last.Header.Get(jetstream.MsgIDHeader))
		if err != nil || id.Version() != 7 {
			return fmt.Errorf("last CASE_EVENTS message has no event id: %q", last.Header.Get(jetstream.MsgIDHeader))
		}
		sec, nsec := id.Time().UnixTime()
		from = time.Unix(sec, nsec).Add(-requeueMargin)
	}
	n, err := r.Outbox.RequeueEvents(ctx, lowestV7(from).String())
	if n > 0 {
		r.Log.Info("relay: republishing events the stream may have lost", "events", n, "from", from)
	}
	return err
}

// lowestV7 is the smallest UUIDv7 of millisecond t: every id created at t
// or later sorts at or after it.
func lowestV7(t time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6], u[8] = 0x70, 0x80 // version 7, RFC 4122 variant
	return u
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
