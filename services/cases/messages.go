package cases

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sportello/sportello/services/attachments"
)

// Direction says who a message is from and for.
type Direction string

const (
	Inbound      Direction = "inbound"       // from the citizen
	Outbound     Direction = "outbound"      // a reply to the citizen
	InternalNote Direction = "internal_note" // between staff, never sent
	System       Direction = "system"        // by Sportello: how a message arrived, a delivery failure
)

// Message is one entry of a case's thread.
type Message struct {
	ID             string // UUIDv7
	CaseID         string
	Direction      Direction
	ChannelKind    string
	ChannelID      string
	AuthorName     string
	Body           string
	CreatedAt      time.Time
	DeliveryStatus string // outbound: "queued" until the channel reports (see Delivery)
	DeliveryError  string // the channel's error when deferred or failed
	// ExternalID is the message's id at its channel (an e-mail's
	// Message-ID, without angle brackets); "" until there is one.
	ExternalID string
	// Kind is "" for a person's message, intake.AckKind for an automatic
	// acknowledgement.
	Kind string
	// Attachments, oldest first. On AddMessage only their IDs are read: the
	// uploads of the same case to attach, returned complete.
	Attachments []attachments.Attachment
	// Template is set on a reply sent as a platform's approved message
	// template (WhatsApp); Body is then its text as filled in.
	Template *Template
}

// Template is a reply by message template: the template's name and its
// parameters: the body's in order (or by name, for a template with named
// parameters), the header's, the buttons' by position.
type Template struct {
	Name    string            `json:"name"`
	Params  []string          `json:"params"`
	Named   map[string]string `json:"named,omitempty"`
	Header  *TemplateHeader   `json:"header,omitempty"`
	Buttons []string          `json:"buttons,omitempty"`
}

// TemplateHeader is the parameter of a template's header: text, or an
// image, document or video by link or by uploaded media id.
type TemplateHeader struct {
	Text      string `json:"text,omitempty"`
	MediaLink string `json:"media_link,omitempty"`
	MediaID   string `json:"media_id,omitempty"`
	FileName  string `json:"file_name,omitempty"`
}

// OutboundReply is a queued reply with what a channel needs to send it.
type OutboundReply struct {
	Message
	CaseReference, CaseSubject string
	ToName, ToEmail            string
	// ToPhone is the citizen's phone; ToHandle their id on the message's
	// channel kind ("telegram:123456"), "" when they have none.
	ToPhone, ToHandle string
	// LastInboundAt is when the citizen last wrote on the message's
	// channel instance; zero when never.
	LastInboundAt time.Time
	InReplyTo     []string // the citizen's messages' external ids, oldest first
}

// Delivery statuses of an outbound message, after "queued".
const (
	DeliverySending  = "sending"  // handed to the channel's server
	DeliverySent     = "sent"     // accepted by it
	DeliveryDeferred = "deferred" // a temporary error: the channel retries
	DeliveryFailed   = "failed"   // a permanent error, a bounce, or no more retries
	// Reported later by channels that tell (WhatsApp, Messenger).
	DeliveryDelivered = "delivered" // reached the citizen's device
	DeliveryRead      = "read"      // the citizen opened it
)

// DeliveryRank orders the statuses a message moves through: a report of a
// lower rank than the stored one is a late one and is not recorded.
// Failed outranks all.
func DeliveryRank(status string) int {
	switch status {
	case "queued":
		return 0
	case DeliverySending, DeliveryDeferred:
		return 1
	case DeliverySent:
		return 2
	case DeliveryDelivered:
		return 3
	case DeliveryRead:
		return 4
	case DeliveryFailed:
		return 5
	}
	return -1
}

// Delivery is what a channel's replier reports on an outbound message.
type Delivery struct {
	MessageID string // the outbound message
	Status    string // one of the Delivery* statuses
	Error     string // the channel's error, for deferred and failed
	// ExternalID is the id the channel gave the message (the Message-ID
	// it was sent with); "" leaves the stored one.
	ExternalID string
	Attempts   int // delivery attempts so far
}

// Deliveries records what channels report. services/storage implements it.
type Deliveries interface {
	// RecordDelivery stores d on its message. A message sent or failed is
	// not set back to sending or deferred (a late report of an earlier
	// attempt); a failure also goes into the case history. ErrNotFound
	// when there is no such outbound message.
	RecordDelivery(ctx context.Context, d Delivery) error
}

// Part is one provider message of an outbound message sent in several
// (a long text split at the platform's limit, then each file).
type Part struct {
	MessageID string
	Index     int // from 0
	// ExternalID is the provider's id of the part, once accepted.
	ExternalID string
	// Status is DeliverySending while the part is with the provider,
	// DeliveryDeferred after an error (it is sent again), DeliverySent once
	// accepted, then what the provider reports.
	Status string
	Error  string
}

// Parts records the parts of outbound messages. services/storage
// implements it.
type Parts interface {
	// MessageParts returns the parts recorded for message id, by index.
	MessageParts(ctx context.Context, id string) ([]Part, error)
	// RecordPart stores p, replacing what was recorded for its index.
	RecordPart(ctx context.Context, p Part) error
}

// Messages stores threads. services/storage implements it.
type Messages interface {
	// AddMessage stores m on case caseID in one transaction with fn's
	// update of the case (its events, its new version), the attaching of
	// m.Attachments (uploads of that case not attached yet: others are
	// ErrInvalidArgument, ErrFailedPrecondition when attached already) and,
	// for an outbound message, the row that queues it for the OUTBOUND
	// stream.
	AddMessage(ctx context.Context, caseID string, m Message, fn Mutation) (Message, Case, error)
	// ListMessages returns the thread oldest first, after message id after,
	// with the messages' attachments.
	ListMessages(ctx context.Context, caseID, after string, limit int) ([]Message, error)
	// GetMessage returns one message without its attachments.
	GetMessage(ctx context.Context, id string) (Message, error)
}

// MaxMessageRunes bounds a message an operator writes.
const MaxMessageRunes = 20000

// MaxMessageAttachments bounds the attachments of one message.
const MaxMessageAttachments = 20

// validMessage checks what a person writes on a case, staff or citizen:
// some text or files, within the limits.
func validMessage(m Message) error {
	switch {
	case strings.TrimSpace(m.Body) == "" && len(m.Attachments) == 0:
		return fmt.Errorf("%w: body_text is required (it may be empty only when attachment_ids are given)", ErrInvalidArgument)
	case len(m.Attachments) > MaxMessageAttachments:
		return fmt.Errorf("%w: at most %d attachments per message", ErrInvalidArgument, MaxMessageAttachments)
	case !utf8.ValidString(m.Body) || utf8.RuneCountInString(m.Body) > MaxMessageRunes:
		return fmt.Errorf("%w: body_text must be valid UTF-8 of at most %d characters", ErrInvalidArgument, MaxMessageRunes)
	}
	return nil
}

// MessageAdded is the Mutation recording a new message m on a case:
// replies are refused on a closed case (notes are not); m must be valid.
func MessageAdded(actor string, m Message) Mutation {
	return func(c *Case) ([]Event, error) {
		if m.Direction != Outbound && m.Direction != InternalNote {
			return nil, fmt.Errorf("%w: a message added by staff is a reply or an internal note", ErrInvalidArgument)
		}
		if err := validMessage(m); err != nil {
			return nil, err
		}
		if m.Direction == Outbound && c.Status == StatusClosed {
			return nil, fmt.Errorf("%w: the case is closed; a new message from the citizen opens a linked case", ErrFailedPrecondition)
		}
		if m.Direction == Outbound {
			at := m.CreatedAt
			if at.IsZero() {
				at = time.Now()
			}
			c.Responded(at.UTC())
		}
		changes := map[string]Change{"message": {After: m.ID}, "direction": {After: string(m.Direction)}}
		if len(m.Attachments) > 0 {
			changes["attachments"] = Change{After: strconv.Itoa(len(m.Attachments))}
		}
		return []Event{{Type: EventMessageAdded, Actor: actor, Changes: changes}}, nil
	}
}
