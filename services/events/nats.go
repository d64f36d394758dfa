// Package events connects Sportello to NATS JetStream: it runs the embedded
// server of the default mode, declares the streams and consumers, publishes
// inbound contacts with group commit, and feeds the intake consumer. It holds
// transport concerns only; what a contact becomes is services/intake's job.
package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EmbeddedConfig configures the in-process NATS server.
type EmbeddedConfig struct {
	StoreDir string
	// Listen is "host:port" for outside clients; "" keeps the server
	// reachable only in-process (the default: port 4222 may be the
	// machine's own NATS).
	Listen string
}

// StartEmbedded starts a JetStream-enabled nats-server in this process. Every
// write to its file store is synced (sync_interval: always): the default of
// syncing every two minutes loses acknowledged messages on power loss.
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	opts := &server.Options{
		ServerName:         "sportello-embedded",
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		SyncAlways:         true,
		NoSigs:             true,
		NoLog:              true,
		DontListen:         cfg.Listen == "",
		JetStreamMaxMemory: 64 << 20,
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	return ns, nil
}

// ConnectEmbedded opens an in-process connection to ns (no TCP).
func ConnectEmbedded(ns *server.Server, name string) (*nats.Conn, error) {
	return nats.Connect("", nats.InProcessServer(ns), nats.Name(name), nats.MaxReconnects(-1))
}

// Connect opens a connection to an external NATS cluster.
func Connect(urls, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(urls, nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", urls, err)
	}
	return nc, nil
}

// Stream and consumer names. The subjects are part of the integration
// contract (DESIGN.md): sportello.inbound.<kind>.<channel>.
const (
	InboundStream    = "INBOUND"
	InboundSubjects  = "sportello.inbound.>"
	DeadLetterStream = "INBOUND_DLQ"
	DeadLetterPrefix = "sportello.dlq.inbound."
	IntakeConsumer   = "intake"
	CaseEventsStream = "CASE_EVENTS"
	CaseEventsPrefix = "sportello.case."
	OutboundStream   = "OUTBOUND"
	OutboundPrefix   = "sportello.outbound."
)

// DefaultBackoff is the intake redelivery schedule: capped, with growing
// delays; after the last attempt (len+1 deliveries) the message goes to the
// dead-letter stream.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute}

// CaseEventsDuplicates is CASE_EVENTS' duplicate window: a quick restart's
// republished tail is dropped as duplicates.
const CaseEventsDuplicates = 10 * time.Minute

// requeueMargin reaches back before the last message CASE_EVENTS holds,
// for events the relay published out of id order (concurrent commits).
const requeueMargin = time.Minute

// caseEventsMaxAge is how long CASE_EVENTS keeps events.
const caseEventsMaxAge = 30 * 24 * time.Hour

// AckWait is how long JetStream waits for an ack before it redelivers to
// another consumer; intake's transaction timeout stays well below it.
const AckWait = 30 * time.Second

// StreamConfig sets what differs between the embedded server and a cluster.
type StreamConfig struct {
	Replicas int // 1 embedded; 3 on a cluster
	// Backoff is the intake redelivery schedule; DefaultBackoff when nil.
	Backoff []time.Duration
	// AsyncCaseEvents stores CASE_EVENTS without a sync per message (the
	// embedded, single-node server: one sync per event would cap the relay
	// near 800 events/s). Its source of truth is the database, and the
	// relay republishes the recent tail at start-up (Relay.Requeue), so a
	// power loss loses no event. INBOUND always syncs every write.
	AsyncCaseEvents bool
}

// EnsureStreams declares the streams and the intake consumer, creating or
// updating them to the configuration in this code.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Consumer, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	inbound, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        InboundStream,
		Description: "Inbound contacts from every channel, before intake.",
		Subjects:    []string{InboundSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  10 * time.Minute,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", InboundStream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "Inbound contacts intake could not store and replies a channel could not send, for inspection and replay.",
		Subjects:    []string{DeadLetterPrefix + ">", DeadLetterOutboundPrefix + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      90 * 24 * time.Hour,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", DeadLetterStream, err)
	}
	caseEvents := jetstream.StreamConfig{
		Name:        CaseEventsStream,
		Description: "Case history, relayed from the database outbox: sportello.case.<type>.",
		Subjects:    []string{CaseEventsPrefix + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      caseEventsMaxAge,
		Duplicates:  CaseEventsDuplicates,
		Replicas:    cfg.Replicas,
	}
	if cfg.AsyncCaseEvents {
		caseEvents.PersistMode = jetstream.AsyncPersistMode
	}
	_, err = js.CreateOrUpdateStream(ctx, caseEvents)
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", CaseEventsStream, err)
	}
	// Replies to send: synced like INBOUND (a lost reply is not re-derived
	// at start-up), kept until a channel has sent them.
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        OutboundStream,
		Description: "Replies to citizens, for each channel's replier: sportello.outbound.<kind>.<channel>.",
		Subjects:    []string{OutboundPrefix + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  CaseEventsDuplicates,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", OutboundStream, err)
	}
	cons, err := inbound.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:     IntakeConsumer,
		Description: "services/intake: turns inbound contacts into cases.",
		AckPolicy:   jetstream.AckExplicitPolicy,
		// No BackOff here: with BackOff set, JetStream takes BackOff[0] as
		// the ack wait of the first delivery, and a transaction slower than
		// that would be redelivered while it runs. Retries are explicit
		// naks with the backoff delay instead (Intake.retryLater); AckWait
		// only covers a consumer that died.
		AckWait:       AckWait,
		MaxDeliver:    len(cfg.Backoff) + 1,
		MaxAckPending: 20000,
		FilterSubject: InboundSubjects,
	})
	if err != nil {
		return nil, fmt.Errorf("declare consumer %s: %w", IntakeConsumer, err)
	}
	return cons, nil
}
