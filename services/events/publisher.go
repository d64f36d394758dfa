package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/channels"
)

// Publisher is the channels.Sink of every channel: it publishes contacts to
// the INBOUND stream and returns once JetStream has stored them.
//
// Group commit: the embedded stream syncs every message to disk, so one
// message per contact caps intake at one fsync per contact. Instead each
// subject has a flusher that takes every contact waiting for it (up to
// MaxBatch contacts, MaxBatchBytes bytes) and publishes them as ONE
// InboundBatch message. Under no load a batch has one contact and adds no
// delay; under load batches grow while the previous publish is in flight.
type Publisher struct {
	js       jetstream.JetStream
	metrics  *PublisherMetrics
	maxBatch int

	// mu guards flushers and closed; Deliver holds it for reading while it
	// sends, so Close (which takes it for writing) never closes a queue
	// under a sender.
	mu       sync.RWMutex
	flushers map[string]chan *pending
	closed   bool
	wg       sync.WaitGroup
}

var _ channels.Sink = (*Publisher)(nil)

// Batch limits: NATS refuses payloads over 1 MiB by default.
const (
	MaxBatch      = 512
	MaxBatchBytes = 768 << 10
)

// PublisherMetrics are the publisher's Prometheus collectors.
type PublisherMetrics struct {
	BatchSize *prometheus.HistogramVec
	Failures  *prometheus.CounterVec
}

// NewPublisherMetrics registers the collectors on reg.
func NewPublisherMetrics(reg prometheus.Registerer) *PublisherMetrics {
	m := &PublisherMetrics{
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sportello_inbound_publish_batch_size", Help: "Contacts per JetStream message on the INBOUND stream.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}, []string{"channel_kind"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sportello_inbound_publish_failures_total", Help: "Inbound publishes JetStream did not acknowledge.",
		}, []string{"channel_kind"}),
	}
	reg.MustRegister(m.BatchSize, m.Failures)
	return m
}

type pending struct {
	contact *inboundv1.InboundContact
	size    int
	done    chan error
}

// NewPublisher returns a Publisher on js that puts at most maxBatch
// contacts in one message (MaxBatch when maxBatch is out of 1..MaxBatch;
// 1 turns group commit off).
func NewPublisher(js jetstream.JetStream, m *PublisherMetrics, maxBatch int) *Publisher {
	if maxBatch < 1 || maxBatch > MaxBatch {
		maxBatch = MaxBatch
	}
	return &Publisher{js: js, metrics: m, maxBatch: maxBatch, flushers: make(map[string]chan *pending)}
}

// ErrClosed is returned by Deliver after Close.
var ErrClosed = errors.New("publisher closed")

// Deliver implements channels.Sink.
func (p *Publisher) Deliver(ctx context.Context, c *inboundv1.InboundContact) error {
	size := proto.Size(c)
	if size > MaxBatchBytes {
		return fmt.Errorf("inbound contact of %d bytes exceeds the %d-byte message limit", size, MaxBatchBytes)
	}
	req := &pending{contact: c, size: size, done: make(chan error, 1)}
	if err := p.enqueue(ctx, c, req); err != nil {
		return err
	}
	// Once queued, the contact will be published whatever the caller does:
	// wait for the result so a 2xx is never sent before it is stored.
	return <-req.done
}

func (p *Publisher) enqueue(ctx context.Context, c *inboundv1.InboundContact, req *pending) error {
	subject := channels.Subject(c.GetChannelKind(), c.GetChannelId())
	p.mu.RLock()
	q, ok := p.flushers[subject]
	if !ok {
		p.mu.RUnlock()
		p.mu.Lock()
		if q, ok = p.flushers[subject]; !ok && !p.closed {
			q = make(chan *pending, 4*MaxBatch)
			p.flushers[subject] = q
			p.wg.Add(1)
			go p.flush(subject, c.GetChannelKind(), q)
		}
		p.mu.Unlock()
		p.mu.RLock()
	}
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case q <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting contacts and waits for queued ones to be published.
func (p *Publisher) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, q := range p.flushers {
			close(q)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Publisher) flush(subject, kind string, q chan *pending) {
	defer p.wg.Done()
	var carry *pending
	for {
		first := carry
		carry = nil
		if first == nil {
			var ok bool
			if first, ok = <-q; !ok {
				return
			}
		}
		batch := []*pending{first}
		bytes := first.size
	fill:
		for len(batch) < p.maxBatch {
			select {
			case r, ok := <-q:
				if !ok {
					break fill
				}
				if bytes+r.size > MaxBatchBytes {
					carry = r
					break fill
				}
				batch = append(batch, r)
				bytes += r.size
			default:
				break fill
			}
		}
		err := p.publish(subject, batch)
		if p.metrics != nil {
			p.metrics.BatchSize.WithLabelValues(kind).Observe(float64(len(batch)))
			if err != nil {
				p.metrics.Failures.WithLabelValues(kind).Inc()
			}
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// publishTimeout bounds one publish; a caller gets an error, not a hang,
// when JetStream is unreachable.
const publishTimeout = 10 * time.Second

func (p *Publisher) publish(subject string, batch []*pending) error {
	b := &inboundv1.InboundBatch{Contacts: make([]*inboundv1.InboundContact, len(batch))}
	for i, r := range batch {
		b.Contacts[i] = r.contact
	}
	data, err := proto.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode inbound batch: %w", err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, batchID(b.Contacts))
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish to %s: %w", subject, err)
	}
	return nil
}

// batchID is the Nats-Msg-Id: "<channel>:<external id>" for a single
// contact (the contract in DESIGN.md), a digest of the ids for a batch, so a
// republished identical batch is dropped by JetStream's duplicate window.
func batchID(cs []*inboundv1.InboundContact) string {
	if len(cs) == 1 {
		return cs[0].GetChannelId() + ":" + cs[0].GetExternalId()
	}
	h := sha256.New()
	for _, c := range cs {
		h.Write([]byte(c.GetChannelId()))
		h.Write([]byte{0})
		h.Write([]byte(c.GetExternalId()))
		h.Write([]byte{0})
	}
	return "batch:" + hex.EncodeToString(h.Sum(nil))
}
