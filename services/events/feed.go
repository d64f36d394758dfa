package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/cases"
)

// Feed fans the CASE_EVENTS stream out to this process's watchers
// (cases.Feed): one ordered consumer per process, whatever the number of
// watchers. A watcher that lets its buffer fill is dropped with
// cases.ErrTooSlow instead of slowing the others.
type Feed struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	cc     jetstream.ConsumeContext
	calls  *nats.Subscription
	closed bool
}

var _ cases.Feed = (*Feed)(nil)

type subscriber struct {
	ch   chan cases.Event
	errc chan error
	once sync.Once
}

// watcherBuffer is how many events a watcher may lag behind.
const watcherBuffer = 1024

// NewFeed returns a Feed on js; call Start.
func NewFeed(js jetstream.JetStream, log *slog.Logger) *Feed {
	return &Feed{js: js, log: log, subs: map[*subscriber]struct{}{}}
}

// Start begins consuming new events.
func (f *Feed) Start(ctx context.Context) error {
	cons, err := f.js.OrderedConsumer(ctx, CaseEventsStream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("case event feed: %w", err)
	}
	cc, err := cons.Consume(f.deliver)
	if err != nil {
		return fmt.Errorf("case event feed: %w", err)
	}
	sub, err := f.js.Conn().Subscribe(LiveCallSubject, f.deliverCall)
	if err != nil {
		cc.Stop()
		return fmt.Errorf("live call notices: %w", err)
	}
	f.mu.Lock()
	f.cc, f.calls = cc, sub
	f.mu.Unlock()
	return nil
}

func (f *Feed) deliver(m jetstream.Msg) {
	var pe casesv1.CaseEvent
	if err := proto.Unmarshal(m.Data(), &pe); err != nil {
		f.log.Warn("case event feed: undecodable event", "subject", m.Subject(), "err", err)
		return
	}
	e := cases.Event{ID: pe.Id, CaseID: pe.CaseId, Type: cases.EventType(pe.Type), Actor: pe.Actor, Reason: pe.Reason,
		Department: pe.Department, CaseVersion: pe.CaseVersion, Time: pe.Time.AsTime(), Changes: map[string]cases.Change{}}
	for k, v := range pe.Changes {
		e.Changes[k] = cases.Change{Before: v.GetBefore(), After: v.GetAfter()}
	}
	f.fanOut(e)
}

// fanOut hands e to every watcher, dropping those that lag.
func (f *Feed) fanOut(e cases.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		select {
		case s.ch <- e:
		default:
			f.endLocked(s, cases.ErrTooSlow)
		}
	}
}

// Subscribe implements cases.Feed.
func (f *Feed) Subscribe(ctx context.Context) (<-chan cases.Event, <-chan error, func()) {
	s := &subscriber{ch: make(chan cases.Event, watcherBuffer), errc: make(chan error, 1)}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		s.errc <- nil
		close(s.ch)
		return s.ch, s.errc, func() {}
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	cancel := func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.endLocked(s, nil)
	}
	go func() {
		<-ctx.Done()
		cancel()
	}()
	return s.ch, s.errc, cancel
}

// endLocked removes s, reporting err; f.mu is held.
func (f *Feed) endLocked(s *subscriber, err error) {
	s.once.Do(func() {
		delete(f.subs, s)
		s.errc <- err
		close(s.ch)
	})
}

// Close stops the feed and ends every watch, so that graceful shutdown
// does not wait for them.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	if f.cc != nil {
		f.cc.Stop()
	}
	if f.calls != nil {
		_ = f.calls.Unsubscribe()
	}
	for s := range f.subs {
		f.endLocked(s, nil)
	}
}

// LiveCallSubject carries live call notices (casesv1.CallNotice) on core
// NATS, to every replica's feed: a notice is for whoever watches now, so
// it is not stored in a stream.
const LiveCallSubject = "sportello.live.call"

// CallNotifier publishes live call notices (calls.Notifier).
type CallNotifier struct{ NC *nats.Conn }

// NotifyCall implements calls.Notifier.
func (n CallNotifier) NotifyCall(_ context.Context, c cases.CallNotice) error {
	data, err := proto.Marshal(cases.CallNoticeToProto(c))
	if err != nil {
		return err
	}
	return n.NC.Publish(LiveCallSubject, data)
}

func (f *Feed) deliverCall(m *nats.Msg) {
	var pn casesv1.CallNotice
	if err := proto.Unmarshal(m.Data, &pn); err != nil {
		f.log.Warn("case event feed: undecodable call notice", "err", err)
		return
	}
	n := cases.CallNoticeFromProto(&pn)
	f.fanOut(cases.Event{Type: "call", Call: &n, Department: n.Department, Time: n.Time})
}
