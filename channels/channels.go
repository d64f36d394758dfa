// Package channels is the contract between channel adapters (web form, email,
// social, call centre) and the rest of Sportello. An adapter verifies,
// parses and normalises what its source sends into an InboundContact and
// hands it to a Sink; a channel that answers implements Replier. Adapters
// never touch storage.
package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
)

// Sink stores inbound contacts durably. Deliver returns nil only once the
// contact is durably stored (a JetStream ack on a synced stream): only then
// may the adapter tell its source "received".
type Sink interface {
	Deliver(ctx context.Context, c *inboundv1.InboundContact) error
}

// Subject is the JetStream subject a contact of this channel is published on.
func Subject(kind, id string) string {
	return "sportello.inbound." + kind + "." + id
}

// Replier sends replies on a channel: the OUTBOUND stream's consumer
// (services/events) hands it each message of its channel kind, records
// what it reports, and retries temporary failures with backoff.
type Replier interface {
	// ExternalID is the id m is sent with (an e-mail's Message-ID, without
	// angle brackets), the same at every attempt. It is recorded on the
	// message before Send, so a citizen's answer threads back to it.
	ExternalID(m *outboundv1.OutboundMessage) string
	// Send delivers m. It returns nil once the channel's server accepted
	// it; an error wrapped by Permanent when no retry can succeed (the
	// recipient does not exist, the message is refused); any other error
	// is temporary.
	Send(ctx context.Context, m *outboundv1.OutboundMessage) error
}

// PermanentError is a send failure no retry can mend.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Adapter is one configured channel instance (a Telegram bot, a WhatsApp
// number, a mailbox). What it can do beyond that is told by the
// capability interfaces it also implements: Poller, WebhookReceiver,
// Replier.
type Adapter interface {
	// Kind is the channel kind ("whatsapp", "telegram", "email").
	Kind() string
	// ID is the instance's configured id, unique across all channels.
	ID() string
	// Health is what the instance saw since it started.
	Health() Health
	// Close stops the instance's background work promptly and releases
	// what it holds; calling it again does nothing.
	Close() error
}

// Poller is an Adapter that fetches contacts itself (an IMAP mailbox).
type Poller interface {
	Adapter
	// Poll runs until ctx ends, delivering what it fetches to its Sink.
	Poll(ctx context.Context) error
}

// WebhookReceiver is an Adapter its provider calls over HTTP. The server
// routes WebhookPath (and everything under it) to Webhook.
type WebhookReceiver interface {
	Adapter
	// WebhookPath is the route the provider is told to call
	// ("/channels/meta/comune-whatsapp").
	WebhookPath() string
	Webhook() http.Handler
}

// Receipt is what a provider answered when it accepted a reply.
type Receipt struct {
	// ExternalID is the provider's id of the sent message (a WhatsApp
	// wamid, a Telegram message_id): status callbacks name it.
	ExternalID string
}

// ReceiptReplier is a Replier whose provider assigns the message id only
// when it accepts the message, and offers no idempotency key: the
// OUTBOUND consumer then records the id once the provider accepted, and
// never sends again a message whose earlier attempt may have reached the
// provider (a worker that died mid-send).
type ReceiptReplier interface {
	Replier
	SendReceipt(ctx context.Context, m *outboundv1.OutboundMessage) (Receipt, error)
}

// Status is a provider's report on one of our messages: "sent",
// "delivered", "read" or "failed".
type Status struct {
	ChannelKind, ChannelID string
	// ExternalID is the provider's id of our message (Receipt.ExternalID).
	ExternalID string
	Status     string
	// Error explains a failure, as the provider said it.
	Error string
	At    time.Time
}

// StatusSink records status reports on outbound messages.
type StatusSink interface {
	// RecordStatus stores s on the message it names. ErrUnknownMessage
	// when no outbound message of that channel has that external id (yet).
	RecordStatus(ctx context.Context, s Status) error
}

// ErrUnknownMessage: a status report names no message we sent.
var ErrUnknownMessage = errors.New("no outbound message with that external id")

// PartSender is a ReceiptReplier that sends one message as several
// provider messages: a text longer than the platform takes in one message
// is split (package split), and each file goes as a message of its own.
// The OUTBOUND consumer records each part before it is handed to the
// provider and again with the provider's id once accepted, so a retry
// resumes with the first part not accepted, never sends a part twice,
// and status callbacks naming any part reach the message.
type PartSender interface {
	ReceiptReplier
	// Parts is how many provider messages m goes out as, the same at
	// every attempt; an error (wrapped by Permanent) when m cannot be
	// sent at all (no recipient, nothing to send, outside the reply
	// window).
	Parts(m *outboundv1.OutboundMessage) (int, error)
	// SendPart sends part i (from 0) of m; errors as for Send.
	SendPart(ctx context.Context, m *outboundv1.OutboundMessage, i int) (Receipt, error)
}

// SendParts sends every part of m in turn through ps, for a PartSender's
// SendReceipt; the receipt names the first part. A failure after a part
// was accepted is permanent, so nothing is sent twice: the OUTBOUND
// consumer uses SendPart instead and resumes where a failure stopped.
func SendParts(ctx context.Context, ps interface {
	Parts(m *outboundv1.OutboundMessage) (int, error)
	SendPart(ctx context.Context, m *outboundv1.OutboundMessage, i int) (Receipt, error)
}, m *outboundv1.OutboundMessage) (Receipt, error) {
	n, err := ps.Parts(m)
	if err != nil {
		return Receipt{}, err
	}
	var first Receipt
	for i := range n {
		rc, err := ps.SendPart(ctx, m, i)
		if err != nil {
			if i > 0 {
				return Receipt{}, Permanent(fmt.Errorf("part %d of %d was not sent after %s was: %w", i+1, n, first.ExternalID, err))
			}
			return Receipt{}, err
		}
		if i == 0 {
			first = rc
		}
	}
	return first, nil
}

// TemplateSyncer is an Adapter that fetches the message templates its
// provider approved (WhatsApp with a business account id), periodically
// and on demand, and refuses the others before sending.
type TemplateSyncer interface {
	Adapter
	// TemplateSyncEnabled is false when the instance is not configured to
	// sync (its configured templates are then trusted).
	TemplateSyncEnabled() bool
	SyncTemplates(ctx context.Context) (TemplateSync, error)
	LastTemplateSync() TemplateSync
}

// TemplateSync is what a synchronisation of message templates found.
type TemplateSync struct {
	// At is when the last sync ended, successfully or not; zero before
	// the first. OK is when the last successful one ended.
	At, OK time.Time
	Err    string
	// Templates are those of the last successful sync.
	Templates []SyncedTemplate
}

// SyncedTemplate is a message template as the provider holds it.
type SyncedTemplate struct {
	Name, Language, Status, Category string
	// Body is the body text; Params its placeholders ("1", "2" ... or
	// names), in order of first use.
	Body            string
	Params          []string
	ParameterFormat string // "POSITIONAL" or "NAMED"
}
