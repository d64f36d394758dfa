package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/deadletters"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/services/storage/storetest"
)

type rig struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	db      *storage.DB
	metrics *events.IntakeMetrics
	pub     *events.Publisher
}

var fastBackoff = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}

// newRig starts an embedded JetStream and an SQLite store; ingester wraps
// the real intake service when non-nil.
func newRig(t *testing.T, wrap func(events.Ingester) events.Ingester) *rig {
	t.Helper()
	ns, err := events.StartEmbedded(events.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := events.ConnectEmbedded(ns, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	cons, err := events.EnsureStreams(context.Background(), js, events.StreamConfig{Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, storetest.SQLiteDSN(t))
	if err := db.UpsertDepartments(context.Background(), directory.Demo.Departments); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertCategories(context.Background(), directory.Demo.Categories); err != nil {
		t.Fatal(err)
	}
	var ing events.Ingester = intake.New(db, db, time.UTC, nil)
	if wrap != nil {
		ing = wrap(ing)
	}
	reg := prometheus.NewRegistry()
	r := &rig{js: js, nc: nc, db: db, metrics: events.NewIntakeMetrics(reg), pub: events.NewPublisher(js, events.NewPublisherMetrics(reg), 0)}
	in := &events.Intake{JS: js, Consumer: cons, Ingester: ing, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: r.metrics,
		Backoff: fastBackoff, LagInterval: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(ctx) }()
	t.Cleanup(func() { r.pub.Close(); cancel(); <-done })
	return r
}

func contact(ext string) *inboundv1.InboundContact {
	return &inboundv1.InboundContact{Id: ext, ChannelKind: "webform", ChannelId: "webform", ExternalId: ext,
		Sender: &inboundv1.Sender{Name: "Maria", Email: "maria@example.it"}, Subject: "Richiesta " + ext,
		BodyText: "testo", CategoryHint: "microdata"}
}

func (r *rig) publishRaw(t *testing.T, msgID string, data []byte) {
	t.Helper()
	m := nats.NewMsg("sportello.inbound.webform.webform")
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := r.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func batch(cs ...*inboundv1.InboundContact) []byte {
	b, _ := proto.Marshal(&inboundv1.InboundBatch{Contacts: cs})
	return b
}

func (r *rig) cases(t *testing.T) []cases.Case {
	t.Helper()
	list, err := r.db.ListCases(context.Background(), cases.Query{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) dlqCount(t *testing.T) uint64 {
	s, err := r.js.Stream(context.Background(), events.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func (r *rig) pending(t *testing.T) (int, uint64) {
	c, err := r.js.Consumer(context.Background(), events.InboundStream, events.IntakeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumAckPending, info.NumPending
}

func TestPublisherGroupCommit(t *testing.T) {
	r := newRig(t, nil)
	const n = 400
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- r.pub.Deliver(context.Background(), contact(fmt.Sprintf("c-%d", i)))
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := r.js.Stream(context.Background(), events.InboundStream)
	info, _ := s.Info(context.Background())
	if info.State.Msgs >= n {
		t.Errorf("%d contacts took %d JetStream messages: no batching", n, info.State.Msgs)
	}
	eventually(t, "all contacts become cases", func() bool { return len(r.cases(t)) == n })
	t.Logf("%d contacts in %d JetStream messages", n, info.State.Msgs)
}

func TestPublisherClosed(t *testing.T) {
	r := newRig(t, nil)
	r.pub.Close()
	if err := r.pub.Deliver(context.Background(), contact("late")); !errors.Is(err, events.ErrClosed) {
		t.Fatalf("Deliver after Close = %v, want ErrClosed", err)
	}
	big := contact("big")
	big.BodyText = string(make([]byte, events.MaxBatchBytes+1))
	if err := events.NewPublisher(r.js, nil, 0).Deliver(context.Background(), big); err == nil {
		t.Fatal("oversized contact was accepted")
	}
}

// TestRedeliveredMessage publishes the same contact in two messages that
// JetStream cannot deduplicate (different ids): intake stores it once.
func TestRedeliveredMessage(t *testing.T) {
	r := newRig(t, nil)
	r.publishRaw(t, "one", batch(contact("same")))
	r.publishRaw(t, "two", batch(contact("same"), contact("other")))
	eventually(t, "both messages acked", func() bool { a, p := r.pending(t); return a == 0 && p == 0 })
	if got := len(r.cases(t)); got != 2 {
		t.Fatalf("%d cases, want 2", got)
	}
	if got := testutil.ToFloat64(r.metrics.Contacts.WithLabelValues("duplicate")); got != 1 {
		t.Fatalf("duplicates counted = %v, want 1", got)
	}
}

// crashAfterCommit commits through the real service, then fails the first
// n calls as a process that died before acking would.
type crashAfterCommit struct {
	events.Ingester
	left atomic.Int32
}

func (c *crashAfterCommit) Ingest(ctx context.Context, cs []intake.Contact) ([]intake.Outcome, error) {
	out, err := c.Ingester.Ingest(ctx, cs)
	if err == nil && c.left.Add(-1) >= 0 {
		return nil, errors.New("simulated crash between commit and ack")
	}
	return out, err
}

func TestCrashBetweenCommitAndAck(t *testing.T) {
	var crash *crashAfterCommit
	r := newRig(t, func(i events.Ingester) events.Ingester {
		crash = &crashAfterCommit{Ingester: i}
		crash.left.Store(1)
		return crash
	})
	r.publishRaw(t, "m1", batch(contact("a"), contact("b")))
	eventually(t, "message acked after redelivery", func() bool { a, p := r.pending(t); return a == 0 && p == 0 && crash.left.Load() < 0 })
	if got := len(r.cases(t)); got != 2 {
		t.Fatalf("%d cases, want 2", got)
	}
}

func TestPoisonAndInvalidGoToDeadLetters(t *testing.T) {
	r := newRig(t, nil)
	r.publishRaw(t, "garbage", []byte("\xff\xfe not a protobuf"))
	bad := contact("")
	bad.ExternalId = "" // can never be stored
	r.publishRaw(t, "mixed", batch(contact("good"), bad))
	eventually(t, "two dead letters", func() bool { return r.dlqCount(t) == 2 })
	eventually(t, "good contact stored", func() bool { return len(r.cases(t)) == 1 })
	// The counter follows the publish the stream count shows.
	eventually(t, "two dead letters counted", func() bool { return testutil.ToFloat64(r.metrics.DeadLetters) == 2 })
	s, _ := r.js.Stream(context.Background(), events.DeadLetterStream)
	m, err := s.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Sportello-Dlq-Reason") == "" || m.Header.Get("Sportello-Original-Subject") != "sportello.inbound.webform.webform" {
		t.Fatalf("dead letter headers = %v", m.Header)
	}
}

type alwaysFails struct{ calls atomic.Int32 }

func (a *alwaysFails) Ingest(context.Context, []intake.Contact) ([]intake.Outcome, error) {
	a.calls.Add(1)
	return nil, errors.New("database unavailable")
}

func TestRetriesAreCappedThenDeadLettered(t *testing.T) {
	fail := &alwaysFails{}
	r := newRig(t, func(events.Ingester) events.Ingester { return fail })
	r.publishRaw(t, "x", batch(contact("x")))
	eventually(t, "dead-lettered after the last retry", func() bool { return r.dlqCount(t) == 1 })
	if got, want := int(fail.calls.Load()), len(fastBackoff)+1; got != want {
		t.Fatalf("%d attempts, want %d", got, want)
	}
	if got := testutil.ToFloat64(r.metrics.Retries); got != float64(len(fastBackoff)) {
		t.Fatalf("retries counted = %v, want %d", got, len(fastBackoff))
	}
}

// blocked holds every Ingest until released, so messages pile up.
type blocked struct {
	events.Ingester
	release chan struct{}
}

func (b *blocked) Ingest(ctx context.Context, cs []intake.Contact) ([]intake.Outcome, error) {
	<-b.release
	return b.Ingester.Ingest(ctx, cs)
}

func TestLagGauges(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, func(i events.Ingester) events.Ingester { return &blocked{Ingester: i, release: release} })
	for i := 0; i < 5; i++ {
		r.publishRaw(t, fmt.Sprint("lag-", i), batch(contact(fmt.Sprint("lag-", i))))
	}
	eventually(t, "lag of 5 messages", func() bool { return testutil.ToFloat64(r.metrics.Pending) == 5 })
	close(release)
	r.publishRaw(t, "poison", []byte("\xff"))
	eventually(t, "lag back to 0 and one dead letter", func() bool {
		return testutil.ToFloat64(r.metrics.Pending) == 0 && testutil.ToFloat64(r.metrics.DeadLetterDepth) == 1
	})
}

// outage fails every Ingest while down is set.
type outage struct {
	events.Ingester
	down atomic.Bool
}

func (o *outage) Ingest(ctx context.Context, cs []intake.Contact) ([]intake.Outcome, error) {
	if o.down.Load() {
		return nil, errors.New("database unavailable")
	}
	return o.Ingester.Ingest(ctx, cs)
}

// TestDeadLetterReplay: contacts dead-lettered during an outage are listed
// (without their content) and become cases when replayed afterwards.
func TestDeadLetterReplay(t *testing.T) {
	var o *outage
	r := newRig(t, func(i events.Ingester) events.Ingester {
		o = &outage{Ingester: i}
		o.down.Store(true)
		return o
	})
	r.publishRaw(t, "a", batch(contact("a"), contact("b")))
	r.publishRaw(t, "c", batch(contact("c")))
	eventually(t, "two dead letters", func() bool { return r.dlqCount(t) == 2 })
	o.down.Store(false)

	dl := &events.DeadLetters{JS: r.js}
	list, err := dl.List(context.Background(), 0, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if list[0].Contacts != 2 || list[0].OriginalSubject != "sportello.inbound.webform.webform" || !strings.Contains(list[0].Reason, "database unavailable") {
		t.Fatalf("entry = %+v", list[0])
	}
	if page, _ := dl.List(context.Background(), list[0].Sequence, 10); len(page) != 1 || page[0].Sequence != list[1].Sequence {
		t.Fatalf("second page = %+v", page)
	}
	if err := dl.Replay(context.Background(), list[0].Sequence); err != nil {
		t.Fatal(err)
	}
	if err := dl.Replay(context.Background(), list[0].Sequence); !errors.Is(err, deadletters.ErrNotFound) {
		t.Fatalf("second replay = %v, want ErrNotFound", err)
	}
	eventually(t, "replayed contacts become cases", func() bool { return len(r.cases(t)) == 2 })
	rest, err := dl.List(context.Background(), 0, 10)
	if err != nil || len(rest) != 1 || rest[0].Sequence != list[1].Sequence {
		t.Fatalf("after replay List = %+v, %v", rest, err)
	}
}

// TestRelayRestoresLostTail: CASE_EVENTS loses its last events (what a
// power loss does to an unsynced tail); after the NATS server restarts, the
// relay republishes exactly what is missing, once.
func TestRelayRestoresLostTail(t *testing.T) {
	for _, lose := range []string{"tail", "everything"} {
		t.Run(lose, func(t *testing.T) {
			dir := t.TempDir()
			db := storetest.Open(t, storetest.SQLiteDSN(t))
			if err := db.UpsertDepartments(context.Background(), directory.Demo.Departments); err != nil {
				t.Fatal(err)
			}
			ncs := []intake.NewCase{}
			for _, ext := range []string{"a", "b", "c"} {
				ncs = append(ncs, intake.NewCase{Contact: intake.Contact{ChannelKind: "webform", ChannelID: "w", ExternalID: ext, Body: "x"},
					Department: "it", Subject: "s"})
			}
			if _, err := db.CreateCases(context.Background(), 2026, ncs, intake.FollowUpRule{}); err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			// run starts NATS on dir, relays until the stream holds want
			// messages, and returns the stream's message ids.
			run := func(want uint64, damage func(jetstream.Stream)) map[string]bool {
				ns, err := events.StartEmbedded(events.EmbeddedConfig{StoreDir: dir})
				if err != nil {
					t.Fatal(err)
				}
				defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
				nc, _ := events.ConnectEmbedded(ns, "t")
				defer nc.Close()
				js, _ := jetstream.New(nc)
				if _, err := events.EnsureStreams(context.Background(), js, events.StreamConfig{AsyncCaseEvents: true}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					(&events.Relay{JS: js, Outbox: db, Log: log, Idle: 5 * time.Millisecond, Requeue: true}).Run(ctx)
				}()
				s, _ := js.Stream(context.Background(), events.CaseEventsStream)
				msgs := func() uint64 { info, _ := s.Info(context.Background()); return info.State.Msgs }
				eventually(t, fmt.Sprintf("%d messages on CASE_EVENTS", want), func() bool { return msgs() == want })
				time.Sleep(50 * time.Millisecond) // a duplicate would show up now
				cancel()
				<-done
				if got := msgs(); got != want {
					t.Fatalf("%d messages, want %d", got, want)
				}
				ids := map[string]bool{}
				info, _ := s.Info(context.Background())
				for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
					if m, err := s.GetMsg(context.Background(), seq); err == nil {
						ids[m.Header.Get(jetstream.MsgIDHeader)] = true
					}
				}
				if damage != nil {
					damage(s)
				}
				return ids
			}
			before := run(3, func(s jetstream.Stream) {
				info, _ := s.Info(context.Background())
				switch lose {
				case "tail":
					_ = s.DeleteMsg(context.Background(), info.State.LastSeq)
					_ = s.DeleteMsg(context.Background(), info.State.LastSeq-1)
				case "everything":
					_ = s.Purge(context.Background())
				}
			})
			after := run(3, nil)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatalf("event ids before %v, after the restart %v", before, after)
			}
		})
	}
}

// TestFeed: every watcher gets every event; a watcher that stops reading
// is dropped with ErrTooSlow; Close ends the rest.
func TestFeed(t *testing.T) {
	r := newRig(t, nil)
	feed := events.NewFeed(r.js, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := feed.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	relay := &events.Relay{JS: r.js, Outbox: r.db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Idle: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go relay.Run(ctx)
	fast, _, stopFast := feed.Subscribe(context.Background())
	defer stopFast()
	slow, slowErr, _ := feed.Subscribe(context.Background())
	const n = 1100 // more than a watcher's buffer
	var batch []*inboundv1.InboundContact
	for i := 0; i < n; i++ {
		batch = append(batch, contact(fmt.Sprint("f-", i)))
	}
	for i := 0; i < n; i += 100 {
		r.publishRaw(t, fmt.Sprint("feed-", i), batchBytes(batch[i:i+100]))
	}
	got := 0
	// A guard against a stuck feed, not a speed target: 1,100 cases go
	// through intake and the relay first, which takes 8 s under -race on
	// an idle 2-core machine and several times that on a busy one.
	timeout := time.After(2 * time.Minute)
	for got < n {
		select {
		case e := <-fast:
			if e.Type != cases.EventCreated {
				t.Fatalf("event %v", e)
			}
			got++
		case <-timeout:
			t.Fatalf("fast watcher got %d of %d events", got, n)
		}
	}
	for range slow {
	}
	if err := <-slowErr; !errors.Is(err, cases.ErrTooSlow) {
		t.Fatalf("slow watcher ended with %v, want ErrTooSlow", err)
	}
	feed.Close()
	if _, ok := <-fast; ok {
		// drain what was buffered, then it must close
		for range fast {
		}
	}
}

func batchBytes(cs []*inboundv1.InboundContact) []byte {
	b, _ := proto.Marshal(&inboundv1.InboundBatch{Contacts: cs})
	return b
}
