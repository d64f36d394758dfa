package events

import (
	"context"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/services/cases"
)

// DefaultSendBackoff is the retry schedule of a reply whose channel failed
// temporarily; after the last delay (len+1 attempts) the reply is failed
// and dead-lettered.
var DefaultSendBackoff = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}

// DeadLetterOutboundPrefix is where replies that exhausted their retries go
// (in the dead-letter stream, beside inbound contacts).
const DeadLetterOutboundPrefix = "sportello.dlq.outbound."

// Replies consumes the OUTBOUND stream for one channel kind with a durable
// pull consumer ("replier-<kind>"), hands each reply to the channel's
// Replier, and records what happened on the message: sending (with the id
// it is sent with), then sent, deferred (a temporary error, retried after
// Backoff) or failed (a permanent error, or retries exhausted: then it is
// also dead-lettered for an administrator to replay). A message is acked
// only after its outcome is recorded.
type Replies struct {
	JS         jetstream.JetStream
	Kind       string // channel kind, "email"
	Replier    channels.Replier
	Deliveries cases.Deliveries
	Log        *slog.Logger
	// Backoff is the retry schedule; DefaultSendBackoff when nil.
	Backoff []time.Duration
	// SendTimeout bounds one Send; 2 minutes when zero.
	SendTimeout time.Duration
	// Messages, when set, is read before each attempt: a reply already
	// settled (a crash between recording and acking) is not sent again,
	// and for a channels.ReceiptReplier neither is one whose earlier
	// attempt was interrupted mid-send (it may have reached the provider,
	// which has no idempotency key): it is failed with that reason.
	Messages MessageReader
	// Parts, when set with Messages, records the parts of a message a
	// channels.PartSender sends in several: each part before it is handed
	// to the provider and with the provider's id once accepted. A retry
	// resumes with the first part not accepted; a part interrupted
	// mid-send (it may have reached the provider) fails the message rather
	// than being sent again.
	Parts cases.Parts
}

// MessageReader reads a stored message (services/storage).
type MessageReader interface {
	GetMessage(ctx context.Context, id string) (cases.Message, error)
}

// interruptedSend is the failure recorded on a reply whose earlier attempt
// stopped after it may have reached the provider.
const interruptedSend = "an earlier attempt to send this reply was interrupted after it was handed to the provider; " +
	"it is not sent again so the citizen cannot receive it twice: check the conversation and write again if it did not arrive"

// consumerName is the durable consumer of a channel kind's replies.
func (r *Replies) consumerName() string { return "replier-" + r.Kind }

func (r *Replies) backoff() []time.Duration {
	if len(r.Backoff) == 0 {
		return DefaultSendBackoff
	}
	return r.Backoff
}

// Run consumes until ctx ends; a reply being sent is finished first.
func (r *Replies) Run(ctx context.Context) error {
	s, err := r.JS.Stream(ctx, OutboundStream)
	if err != nil {
		return fmt.Errorf("replies: %w", err)
	}
	sendTimeout := r.SendTimeout
	if sendTimeout <= 0 {
		sendTimeout = 2 * time.Minute
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       r.consumerName(),
		Description:   "Sends the " + r.Kind + " channel's replies.",
		FilterSubject: OutboundPrefix + r.Kind + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		// Retries are explicit naks with the backoff delay; AckWait only
		// covers a replier that died mid-send.
		AckWait:       sendTimeout + 30*time.Second,
		MaxDeliver:    len(r.backoff()) + 1,
		MaxAckPending: 64,
	})
	if err != nil {
		return fmt.Errorf("replies consumer: %w", err)
	}
	for ctx.Err() == nil {
		// One at a time: a reply is sent as soon as it arrives.
		m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				r.Log.Warn("replies: fetch failed", "kind", r.Kind, "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
		r.handle(sctx, m)
		cancel()
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (r *Replies) handle(ctx context.Context, m jetstream.Msg) {
	var out outboundv1.OutboundMessage
	if err := proto.Unmarshal(m.Data(), &out); err != nil || out.GetId() == "" {
		r.Log.Error("replies: undecodable outbound message", "subject", m.Subject(), "err", err)
		r.deadLetter(m, fmt.Sprintf("undecodable OutboundMessage: %v", err))
		return
	}
	attempt := 1
	if md, err := m.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	log := r.Log.With("message_id", out.GetId(), "case_id", out.GetCaseId(), "attempt", attempt)
	receipts, _ := r.Replier.(channels.ReceiptReplier)
	parts, _ := r.Replier.(channels.PartSender)
	if r.Parts == nil || r.Messages == nil {
		parts = nil
	}
	if r.Messages != nil {
		stored, err := r.Messages.GetMessage(ctx, out.GetId())
		switch {
		case err == nil && cases.DeliveryRank(stored.DeliveryStatus) >= cases.DeliveryRank(cases.DeliverySent):
			log.Info("replies: already settled; not sending again", "status", stored.DeliveryStatus)
			_ = m.Ack()
			return
		case err == nil && receipts != nil && parts == nil && stored.DeliveryStatus == cases.DeliverySending:
			r.record(ctx, log, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliveryFailed, Error: interruptedSend, Attempts: attempt})
			log.Error("replies: an earlier attempt was interrupted mid-send; not resending")
			_ = m.Term()
			return
		}
	}
	if parts != nil {
		// Whether an interrupted attempt may resume is told by its parts.
		r.handleParts(ctx, log, m, &out, parts, attempt)
		return
	}
	ext := r.Replier.ExternalID(&out)
	if err := r.Deliveries.RecordDelivery(ctx, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliverySending, ExternalID: ext, Attempts: attempt}); err != nil {
		if errors.Is(err, cases.ErrNotFound) {
			log.Error("replies: the message to send is not stored; dropping it", "err", err)
			_ = m.Term()
			return
		}
		// Nothing was sent: try again shortly.
		log.Warn("replies: could not record the attempt; will retry", "err", err)
		_ = m.NakWithDelay(r.backoff()[0])
		return
	}
	var err error
	if receipts != nil {
		var rc channels.Receipt
		rc, err = receipts.SendReceipt(ctx, &out)
		if ext == "" {
			ext = rc.ExternalID
		}
	} else {
		err = r.Replier.Send(ctx, &out)
	}
	r.settle(ctx, log, m, &out, attempt, ext, err)
}

// settle records the outcome of an attempt and acks, naks or terminates
// m: sent (ext is the provider's id), failed for good, or deferred.
func (r *Replies) settle(ctx context.Context, log *slog.Logger, m jetstream.Msg, out *outboundv1.OutboundMessage, attempt int, ext string, err error) {
	switch {
	case err == nil:
		r.record(ctx, log, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliverySent, ExternalID: ext, Attempts: attempt})
		log.Info("replies: sent", "external_id", ext)
		_ = m.Ack()
	case channels.IsPermanent(err):
		r.record(ctx, log, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliveryFailed, Error: err.Error(), Attempts: attempt})
		log.Warn("replies: failed permanently", "err", err)
		_ = m.Term()
	case attempt > len(r.backoff()):
		reason := fmt.Sprintf("gave up after %d attempts: %v", attempt, err)
		r.record(ctx, log, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliveryFailed, Error: reason, Attempts: attempt})
		log.Error("replies: "+reason, "err", err)
		r.deadLetter(m, reason)
	default:
		delay := r.backoff()[attempt-1]
		r.record(ctx, log, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliveryDeferred, Error: err.Error(), Attempts: attempt})
		log.Warn("replies: deferred", "retry_in", delay, "err", err)
		_ = m.NakWithDelay(delay)
	}
}

// handleParts sends out through ps part by part, resuming after the parts
// an earlier attempt got accepted.
func (r *Replies) handleParts(ctx context.Context, log *slog.Logger, m jetstream.Msg, out *outboundv1.OutboundMessage, ps channels.PartSender, attempt int) {
	n, err := ps.Parts(out)
	if err != nil {
		r.settle(ctx, log, m, out, attempt, "", err)
		return
	}
	done, err := r.Parts.MessageParts(ctx, out.GetId())
	if err != nil {
		log.Warn("replies: could not read the parts sent; will retry", "err", err)
		_ = m.NakWithDelay(r.backoff()[0])
		return
	}
	next := 0
	for _, p := range done {
		if p.Status == cases.DeliverySending {
			reason := interruptedSend
			if n > 1 {
				reason = fmt.Sprintf("part %d of %d: %s", p.Index+1, n, interruptedSend)
			}
			r.record(ctx, log, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliveryFailed, Error: reason, Attempts: attempt})
			log.Error("replies: an earlier attempt was interrupted mid-send; not resending", "part", p.Index)
			_ = m.Term()
			return
		}
		if p.Index == next && p.ExternalID != "" && cases.DeliveryRank(p.Status) >= cases.DeliveryRank(cases.DeliverySent) {
			next++
		}
	}
	if err := r.Deliveries.RecordDelivery(ctx, cases.Delivery{MessageID: out.GetId(), Status: cases.DeliverySending, Attempts: attempt}); err != nil {
		if errors.Is(err, cases.ErrNotFound) {
			log.Error("replies: the message to send is not stored; dropping it", "err", err)
			_ = m.Term()
			return
		}
		log.Warn("replies: could not record the attempt; will retry", "err", err)
		_ = m.NakWithDelay(r.backoff()[0])
		return
	}
	first := ""
	if len(done) > 0 && next > 0 {
		first = done[0].ExternalID
	}
	for i := next; i < n; i++ {
		part := cases.Part{MessageID: out.GetId(), Index: i, Status: cases.DeliverySending}
		if err := r.Parts.RecordPart(ctx, part); err != nil {
			// Nothing of this part was sent.
			log.Warn("replies: could not record the part; will retry", "part", i, "err", err)
			_ = m.NakWithDelay(r.backoff()[0])
			return
		}
		rc, err := ps.SendPart(ctx, out, i)
		if err != nil {
			// The provider refused it (or could not be reached): not sent,
			// so a retry may send it.
			part.Status, part.Error = cases.DeliveryDeferred, err.Error()
			if channels.IsPermanent(err) {
				part.Status = cases.DeliveryFailed
			}
			r.recordPart(ctx, log, part)
			if n > 1 {
				err = fmt.Errorf("part %d of %d (%d sent): %w", i+1, n, i, err)
			}
			r.settle(ctx, log, m, out, attempt, first, err)
			return
		}
		part.Status, part.ExternalID = cases.DeliverySent, rc.ExternalID
		r.recordPart(ctx, log, part)
		if i == 0 {
			first = rc.ExternalID
		}
	}
	r.settle(ctx, log, m, out, attempt, first, nil)
}

// recordPart stores a part's outcome, retrying briefly like record. A
// part left recorded as sending is never sent again.
func (r *Replies) recordPart(ctx context.Context, log *slog.Logger, p cases.Part) {
	var err error
	for i := 0; i < 5; i++ {
		if err = r.Parts.RecordPart(ctx, p); err == nil {
			return
		}
		sleep(ctx, time.Duration(100<<i)*time.Millisecond)
	}
	log.Error("replies: could not record a part", "part", p.Index, "status", p.Status, "err", err)
}

// record stores an outcome, retrying briefly: what was sent must not be
// sent again because the database blinked, so after the retries the
// outcome is only logged.
func (r *Replies) record(ctx context.Context, log *slog.Logger, d cases.Delivery) {
	var err error
	for i := 0; i < 5; i++ {
		if err = r.Deliveries.RecordDelivery(ctx, d); err == nil {
			return
		}
		sleep(ctx, time.Duration(100<<i)*time.Millisecond)
	}
	log.Error("replies: could not record the delivery status", "status", d.Status, "err", err)
}

// deadLetter moves m to the dead-letter stream and terminates it; if the
// move fails, m is redelivered after the longest backoff instead.
func (r *Replies) deadLetter(m jetstream.Msg, reason string) {
	dl := nats.NewMsg(DeadLetterOutboundPrefix + m.Subject()[len(OutboundPrefix):])
	dl.Data = m.Data()
	dl.Header.Set("Sportello-Dlq-Reason", clip.Bytes(reason, 1000))
	dl.Header.Set("Sportello-Original-Subject", m.Subject())
	if md, err := m.Metadata(); err == nil {
		dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq-outbound:%d", md.Sequence.Stream))
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if _, err := r.JS.PublishMsg(ctx, dl); err != nil {
		r.Log.Error("replies: dead-letter publish failed", "err", err)
		_ = m.NakWithDelay(r.backoff()[len(r.backoff())-1])
		return
	}
	_ = m.TermWithReason(clip.Bytes(reason, 200))
}
