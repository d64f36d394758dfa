// Package channels is the contract between channel adapters (web form, email,
// social, call centre) and the rest of Sportello. An adapter verifies,
// parses and normalises what its source sends into an InboundContact and
// hands it to a Sink. Adapters never touch storage.
package channels

import (
	"context"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
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
