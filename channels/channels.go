// Package channels is the contract between channel adapters (web form, email,
// social, call centre) and the rest of Sportello. An adapter verifies,
// parses and normalises what its source sends into an InboundContact and
// hands it to a Sink; a channel that answers implements Replier. Adapters
// never touch storage.
package channels

import (
	"context"
	"errors"

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
