package events

import (
	"context"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/services/intake"
)

// Ingester is the part of intake.Service the consumer needs.
type Ingester interface {
	Ingest(ctx context.Context, contacts []intake.Contact) ([]intake.Outcome, error)
}

// IntakeMetrics are the consumer's Prometheus collectors.
type IntakeMetrics struct {
	Contacts    *prometheus.CounterVec
	DeadLetters prometheus.Counter
	Retries     prometheus.Counter
	TxSeconds   prometheus.Histogram
	// Pending is the intake lag: messages in INBOUND not yet acked.
	Pending prometheus.Gauge
	// DeadLetterDepth is how many messages INBOUND_DLQ holds.
	DeadLetterDepth prometheus.Gauge
}

// NewIntakeMetrics registers the collectors on reg.
func NewIntakeMetrics(reg prometheus.Registerer) *IntakeMetrics {
	m := &IntakeMetrics{
		Contacts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sportello_intake_contacts_total", Help: "Inbound contacts processed by intake, by outcome (created, appended, reopened, duplicate, invalid).",
		}, []string{"outcome"}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sportello_intake_dead_letters_total", Help: "Messages or contacts moved to the INBOUND_DLQ stream.",
		}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sportello_intake_retries_total", Help: "Messages handed back to JetStream for a later retry.",
		}),
		TxSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sportello_intake_transaction_seconds", Help: "Duration of one intake database transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	m.Pending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sportello_intake_pending_messages", Help: "Messages on the INBOUND stream that intake has not acked yet (lag).",
	})
	m.DeadLetterDepth = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sportello_intake_dead_letter_messages", Help: "Messages held by the INBOUND_DLQ stream.",
	})
	reg.MustRegister(m.Contacts, m.DeadLetters, m.Retries, m.TxSeconds, m.Pending, m.DeadLetterDepth)
	return m
}

// Intake consumes the INBOUND stream with the durable pull consumer "intake"
// and stores what it reads through an Ingester. A message is acked only
// after the transaction that stored its contacts committed; a crash between
// commit and ack redelivers it, and the unique (channel, external id) turns
// the redelivery into a no-op.
type Intake struct {
	JS       jetstream.JetStream
	Consumer jetstream.Consumer
	Ingester Ingester
	Log      *slog.Logger
	Metrics  *IntakeMetrics
	// Backoff must be the schedule the consumer was declared with
	// (StreamConfig.Backoff); DefaultBackoff when nil.
	Backoff []time.Duration
	// LagInterval is how often the lag gauges are refreshed; 5s when zero.
	LagInterval time.Duration
}

// Per transaction: at most this many JetStream messages and contacts.
const (
	maxMsgsPerTx     = 256
	maxContactsPerTx = 2000
	ingestTimeout    = AckWait * 2 / 3
)

// Run consumes until ctx is cancelled, then drains: it stops pulling,
// finishes what it already received (commit, then ack) and returns.
func (in *Intake) Run(ctx context.Context) error {
	it, err := in.Consumer.Messages(jetstream.PullMaxMessages(2 * maxMsgsPerTx))
	if err != nil {
		return fmt.Errorf("intake consumer: %w", err)
	}
	msgs := make(chan jetstream.Msg, maxMsgsPerTx)
	go func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if err != nil {
				in.Log.Warn("intake: pull failed", "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			msgs <- m
		}
	}()
	go func() {
		<-ctx.Done()
		it.Drain()
	}()
	go in.watchLag(ctx)
	for first := range msgs {
		batch := []jetstream.Msg{first}
	fill:
		for len(batch) < maxMsgsPerTx {
			select {
			case m, ok := <-msgs:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		// In-flight work finishes even when shutdown has begun.
		in.process(context.WithoutCancel(ctx), batch)
	}
	return nil
}

type decoded struct {
	msg      jetstream.Msg
	protos   []*inboundv1.InboundContact
	contacts []intake.Contact
}

func (in *Intake) process(ctx context.Context, msgs []jetstream.Msg) {
	var items []decoded
	n := 0
	for _, m := range msgs {
		var b inboundv1.InboundBatch
		if err := proto.Unmarshal(m.Data(), &b); err != nil {
			in.deadLetter(m, m.Data(), fmt.Sprintf("undecodable InboundBatch: %v", err))
			continue
		}
		d := decoded{msg: m, protos: b.Contacts, contacts: make([]intake.Contact, len(b.Contacts))}
		for i, c := range b.Contacts {
			d.contacts[i] = toContact(c)
		}
		// Keep a transaction to a bounded size; the rest waits its turn.
		if len(items) > 0 && n+len(d.contacts) > maxContactsPerTx {
			in.ingest(ctx, items)
			items, n = nil, 0
		}
		items = append(items, d)
		n += len(d.contacts)
	}
	if len(items) > 0 {
		in.ingest(ctx, items)
	}
}

func (in *Intake) ingest(ctx context.Context, items []decoded) {
	var all []intake.Contact
	for _, d := range items {
		all = append(all, d.contacts...)
	}
	ctx, cancel := context.WithTimeout(ctx, ingestTimeout)
	start := time.Now()
	outcomes, err := in.Ingester.Ingest(ctx, all)
	cancel()
	in.Metrics.TxSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		if len(items) > 1 {
			// One message may be what fails the transaction: retry each
			// alone, so the others are not held back with it.
			in.Log.Warn("intake: batch failed, retrying message by message", "messages", len(items), "err", err)
			for _, d := range items {
				in.ingest(ctx, []decoded{d})
			}
			return
		}
		in.retryLater(items[0].msg, err)
		return
	}
	k := 0
	for _, d := range items {
		in.settle(d, outcomes[k:k+len(d.contacts)])
		k += len(d.contacts)
	}
}

// settle acks a message whose contacts were all stored, after moving any
// invalid ones to the dead-letter stream. If that move fails the message is
// redelivered later instead (its stored contacts are duplicates then).
func (in *Intake) settle(d decoded, outcomes []intake.Outcome) {
	for i, o := range outcomes {
		switch {
		case o.Err != nil:
			in.Metrics.Contacts.WithLabelValues("invalid").Inc()
			data, _ := proto.Marshal(&inboundv1.InboundBatch{Contacts: d.protos[i : i+1]})
			if !in.publishDeadLetter(d.msg, data, o.Err.Error(), fmt.Sprintf(":%d", i)) {
				in.retryLater(d.msg, errors.New("dead-letter publish failed"))
				return
			}
		case o.Duplicate:
			in.Metrics.Contacts.WithLabelValues("duplicate").Inc()
		case o.Action == intake.ActionAppended || o.Action == intake.ActionReopened:
			in.Metrics.Contacts.WithLabelValues(string(o.Action)).Inc()
		default:
			in.Metrics.Contacts.WithLabelValues("created").Inc()
		}
	}
	if err := d.msg.Ack(); err != nil {
		in.Log.Warn("intake: ack failed; the message will be redelivered and deduplicated", "err", err)
	}
}

// retryLater naks m with the backoff for its delivery count, or moves it to
// the dead-letter stream once the count is exhausted.
func (in *Intake) retryLater(m jetstream.Msg, cause error) {
	backoff := in.backoff()
	md, err := m.Metadata()
	if err == nil && int(md.NumDelivered) > len(backoff) {
		in.deadLetter(m, m.Data(), fmt.Sprintf("gave up after %d deliveries: %v", md.NumDelivered, cause))
		return
	}
	delay := backoff[0]
	if err == nil && md.NumDelivered >= 1 {
		delay = backoff[md.NumDelivered-1]
	}
	in.Metrics.Retries.Inc()
	in.Log.Warn("intake: will retry", "subject", m.Subject(), "delay", delay, "err", cause)
	if err := m.NakWithDelay(delay); err != nil {
		in.Log.Warn("intake: nak failed; JetStream redelivers after the ack wait", "err", err)
	}
}

// deadLetter moves a whole message to the DLQ and terminates it.
func (in *Intake) deadLetter(m jetstream.Msg, data []byte, reason string) {
	if !in.publishDeadLetter(m, data, reason, "") {
		_ = m.NakWithDelay(in.backoff()[len(in.backoff())-1])
		return
	}
	if err := m.TermWithReason(clip.Bytes(reason, 200)); err != nil {
		in.Log.Warn("intake: term failed", "err", err)
	}
}

func (in *Intake) publishDeadLetter(m jetstream.Msg, data []byte, reason, suffix string) bool {
	dl := nats.NewMsg(DeadLetterPrefix + strings.TrimPrefix(m.Subject(), "sportello.inbound."))
	dl.Data = data
	dl.Header.Set("Sportello-Dlq-Reason", clip.Bytes(reason, 1000))
	dl.Header.Set("Sportello-Original-Subject", m.Subject())
	if md, err := m.Metadata(); err == nil {
		dl.Header.Set("Sportello-Original-Sequence", fmt.Sprint(md.Sequence.Stream))
		dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq:%d%s", md.Sequence.Stream, suffix))
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if _, err := in.JS.PublishMsg(ctx, dl); err != nil {
		in.Log.Error("intake: dead-letter publish failed", "err", err, "reason", reason)
		return false
	}
	in.Metrics.DeadLetters.Inc()
	in.Log.Error("intake: dead-lettered", "subject", m.Subject(), "reason", reason)
	return true
}

// watchLag keeps the lag gauges current until ctx ends. The numbers come
// from JetStream, so every replica reports the same, shared lag.
func (in *Intake) watchLag(ctx context.Context) {
	every := in.LagInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, every)
		if info, err := in.Consumer.Info(qctx); err == nil {
			in.Metrics.Pending.Set(float64(info.NumPending + uint64(info.NumAckPending)))
		}
		if s, err := in.JS.Stream(qctx, DeadLetterStream); err == nil {
			if info, err := s.Info(qctx); err == nil {
				in.Metrics.DeadLetterDepth.Set(float64(info.State.Msgs))
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (in *Intake) backoff() []time.Duration {
	if in.Backoff == nil {
		return DefaultBackoff
	}
	return in.Backoff
}

func toContact(c *inboundv1.InboundContact) intake.Contact {
	out := intake.Contact{
		ID:               c.GetId(),
		ChannelKind:      c.GetChannelKind(),
		ChannelID:        c.GetChannelId(),
		ExternalID:       c.GetExternalId(),
		SenderName:       c.GetSender().GetName(),
		SenderEmail:      c.GetSender().GetEmail(),
		SenderPhone:      c.GetSender().GetPhone(),
		SenderHandle:     c.GetSender().GetHandle(),
		SenderFiscalCode: c.GetSender().GetFiscalCode(),
		ThreadKeys:       c.GetThreadKeys(),
		Subject:          c.GetSubject(),
		Body:             c.GetBodyText(),
		ReceivedAt:       c.GetReceivedAt().AsTime(),
		CategoryHint:     c.GetCategoryHint(),
		Metadata:         c.GetMetadata(),
		Language:         c.GetLanguage(),
		Notes:            c.GetNotes(),
		Acknowledge:      c.GetAcknowledge(),
	}
	for _, a := range c.GetAttachments() {
		out.Attachments = append(out.Attachments, intake.Attachment{SHA256: a.GetSha256(), Size: a.GetSize(),
			ContentType: a.GetContentType(), FileName: a.GetFileName(), Original: a.GetOriginal()})
	}
	if r := c.GetDeliveryReport(); r != nil {
		out.DeliveryReport = &intake.DeliveryReport{MessageExternalID: r.GetMessageExternalId(), Action: r.GetAction(),
			Status: r.GetStatus(), Diagnostic: r.GetDiagnostic(), Recipients: r.GetRecipients()}
	}
	return out
}
