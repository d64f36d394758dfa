package email

import (
	"context"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/email/mailparse"
	"github.com/sportello/sportello/channels/email/threading"
	"github.com/sportello/sportello/channels/threadkey"
	"github.com/sportello/sportello/services/attachments"
)

// Kind is the channel kind of e-mail contacts.
const Kind = "email"

// Store is the blob store: raw messages go in whole (PutRaw), attachments
// through its type policy (Put).
type Store interface {
	mailparse.BlobSink
	PutRaw(ctx context.Context, r io.Reader, maxSize int64, contentType string) (attachments.Blob, error)
	Open(sum string) (io.ReadCloser, error)
}

// Receiver turns raw messages into inbound contacts: it keeps the raw
// message, parses it (attachments into the store), maps it and hands one
// contact per receiving mailbox to the Sink. The SMTP listener and the IMAP
// poller both use it.
type Receiver struct {
	cfg       Config
	sink      channels.Sink
	store     Store
	log       *slog.Logger
	limits    mailparse.Limits
	subjDays  int
	own       map[string]bool // our addresses: never acknowledged
	mailboxes map[string]*Mailbox
	now       func() time.Time
	health    *Health
}

// ReportTo makes the Receiver report each mailbox's deliveries to h.
func (r *Receiver) ReportTo(h *Health) { r.health = h }

// NewReceiver returns a Receiver for cfg's mailboxes (cfg must be valid).
func NewReceiver(cfg Config, sink channels.Sink, store Store, log *slog.Logger) *Receiver {
	days, _ := cfg.SubjectDays()
	lim := mailparse.DefaultLimits()
	lim.MaxSize = cfg.MaxMessageSize()
	r := &Receiver{cfg: cfg, sink: sink, store: store, log: log, limits: lim, subjDays: days,
		own: map[string]bool{}, mailboxes: map[string]*Mailbox{}, now: time.Now}
	for i := range cfg.Mailboxes {
		m := &cfg.Mailboxes[i]
		r.mailboxes[m.Name] = m
		for _, a := range append([]string{m.Address}, m.Aliases...) {
			r.own[strings.ToLower(a)] = true
		}
	}
	return r
}

// Target is one mailbox a message was received for, with the address it
// was received at (the envelope recipient, or the mailbox's address).
type Target struct {
	Mailbox *Mailbox
	Rcpt    string
}

// Envelope is what the transport knew of a message.
type Envelope struct {
	MailFrom string // SMTP MAIL FROM ("" for the null sender or unknown)
	Via      string // "smtp", "lmtp", "imap"
	Remote   string // the client's address, or the IMAP server and UID
}

// Limits on what a contact carries through NATS.
const (
	maxBodyBytes   = 256 << 10
	maxAttachments = 150
)

// StoreRaw keeps a raw message in the store, up to the size limit.
func (r *Receiver) StoreRaw(ctx context.Context, raw io.Reader) (attachments.Blob, error) {
	return r.store.PutRaw(ctx, raw, r.limits.MaxSize, "message/rfc822")
}

// Deliver parses the stored raw message and hands one contact per target to
// the sink; it returns nil only when every one is durably stored. Delivering
// the same message again is harmless: its contacts keep their ids and
// external ids, so JetStream and intake drop the copies.
func (r *Receiver) Deliver(ctx context.Context, raw attachments.Blob, targets []Target, env Envelope) error {
	return r.deliver(ctx, raw, targets, env, nil)
}

// DeliverOversized is Deliver for a message of size bytes, over the
// limit, of which only the header (raw) was kept: the case says so, and
// where the message is.
func (r *Receiver) DeliverOversized(ctx context.Context, header attachments.Blob, size int64, targets []Target, env Envelope) error {
	note := fmt.Sprintf("The message is %s, over the limit of %s: it was not downloaded and stays on the mail server (%s); only its header is attached.",
		attachments.FormatSize(size), attachments.FormatSize(r.limits.MaxSize), env.Remote)
	return r.deliver(ctx, header, targets, env, []string{note})
}

func (r *Receiver) deliver(ctx context.Context, raw attachments.Blob, targets []Target, env Envelope, extra []string) error {
	f, err := r.store.Open(raw.SHA256)
	if err != nil {
		return fmt.Errorf("open raw message: %w", err)
	}
	defer f.Close()
	msg, err := mailparse.Parse(ctx, f, r.limits, r.store)
	if err != nil {
		return fmt.Errorf("parse message: %w", err)
	}
	for _, t := range targets {
		c := r.contact(msg, raw, t, env)
		c.Notes = slices.Concat(extra, c.Notes)
		if err := r.sink.Deliver(ctx, c); err != nil {
			r.health.monitor(t.Mailbox.Name).Failed(err)
			return err
		}
		r.health.monitor(t.Mailbox.Name).Received(1)
		r.log.Info("email: message stored", "mailbox", t.Mailbox.Name, "external_id", c.ExternalId, "via", env.Via,
			"automatic", c.Automatic, "attachments", len(c.Attachments)-1)
	}
	return nil
}

// contactNS is the UUIDv5 namespace of e-mail contact ids.
var contactNS = uuid.MustParse("0b5c6f0e-3c1a-4f59-9a7e-1d2e3f405162")

// ExternalID is the dedupe key of a message: its Message-ID, or the
// SHA-256 of the raw bytes when it has none (or one too long to store).
func ExternalID(msg *mailparse.Message, rawSHA256 string) string {
	if id := msg.MessageID; id != "" && len(id) <= threadkey.MaxIDBytes && utf8.ValidString(id) {
		return id
	}
	return "sha256:" + rawSHA256
}

// contact maps a parsed message for one target.
func (r *Receiver) contact(msg *mailparse.Message, raw attachments.Blob, t Target, env Envelope) *inboundv1.InboundContact {
	ext := ExternalID(msg, raw.SHA256)
	from, subject, text := msg.From, msg.Subject, msg.TextBody
	var notes []string
	// A certified (PEC) message: its author and words are inside the
	// envelope the provider wrapped around it.
	if p := msg.PEC; p != nil && p.Original != nil {
		if p.Original.From.Address != "" {
			from = p.Original.From
		}
		if p.Original.Subject != "" {
			subject = p.Original.Subject
		}
		if strings.TrimSpace(p.Original.TextBody) != "" {
			text = p.Original.TextBody
		}
		notes = append(notes, fmt.Sprintf("Certified e-mail (PEC): the provider's envelope came from %s.", msg.From.Address))
	}
	if strings.TrimSpace(text) == "" && len(msg.Attachments) > 0 {
		text = "(no text: see the attachments)"
	}
	if len(text) > maxBodyBytes {
		text = clip.Bytes(text, maxBodyBytes)
		notes = append(notes, fmt.Sprintf("The text was cut at %d KiB; the full original message is attached.", maxBodyBytes>>10))
	}
	sender := strings.ToLower(from.Address)
	md := map[string]string{"to": t.Mailbox.Address, "via": env.Via}
	if t.Rcpt != "" {
		md["rcpt_to"] = t.Rcpt
	}
	if len(msg.DeliveredTo) > 0 {
		md["delivered_to"] = msg.DeliveredTo[0].Address
	}
	if len(msg.XOriginalTo) > 0 {
		md["original_to"] = msg.XOriginalTo[0].Address
	}
	if env.MailFrom != "" {
		md["mail_from"] = clip.Bytes(env.MailFrom, 320)
	}
	if msg.MessageID != "" {
		md["message_id"] = clip.Bytes(msg.MessageID, 512)
	}
	if msg.Auto.Automatic() {
		md["auto_reasons"] = clip.Bytes(strings.Join(msg.Auto.Reasons, "; "), 512)
	}

	files := []*inboundv1.BlobRef{{Sha256: raw.SHA256, Size: raw.Size, ContentType: "message/rfc822",
		FileName: originalName(subject), Original: true}}
	var refused []string
	left := 0
	for _, a := range msg.Attachments {
		switch {
		case a.SHA256 == "":
			refused = append(refused, fmt.Sprintf("%s (%s): %s", a.FileName, a.ContentType, a.Error))
		case len(files) > maxAttachments:
			left++
		default:
			ct := a.StoredType
			if ct == "" {
				ct = a.ContentType
			}
			files = append(files, &inboundv1.BlobRef{Sha256: a.SHA256, Size: a.Size, ContentType: ct, FileName: a.FileName})
		}
	}
	for i, p := range refused {
		if i == 10 {
			notes = append(notes, fmt.Sprintf("%d more parts were not kept as attachments.", len(refused)-10))
			break
		}
		notes = append(notes, "Not kept as an attachment: "+clip.Bytes(p, 300)+".")
	}
	if left > 0 {
		notes = append(notes, fmt.Sprintf("%d more attachments are only in the original message.", left))
	}
	if len(msg.Problems) > 0 {
		notes = append(notes, "The message was not read in full: "+clip.Bytes(strings.Join(msg.Problems, "; "), 4000)+".")
	}
	if len(refused) > 0 || len(msg.Problems) > 0 || left > 0 {
		notes = append(notes, "The original message is attached exactly as received.")
	}

	keys := msg.ThreadKeys()
	if r.subjDays > 0 && !msg.Auto.Automatic() {
		if k := threadkey.Subject(threading.NormalizeSubject(subject), r.subjDays); k != "" {
			keys = append(keys, k)
		}
	}
	c := &inboundv1.InboundContact{
		Id:          uuid.NewSHA1(contactNS, []byte(t.Mailbox.Name+"\x00"+ext)).String(),
		ChannelKind: Kind, ChannelId: t.Mailbox.Name, ExternalId: ext, ThreadKeys: keys,
		Sender:     &inboundv1.Sender{Name: clip.Bytes(from.Name, 200), Email: clip.Bytes(sender, 254)},
		Subject:    clip.Bytes(subject, 1000),
		BodyText:   text,
		ReceivedAt: timestamppb.New(r.now()),
		Metadata:   md, Attachments: files, Notes: notes,
		Language:  guessLanguage(subject + "\n" + text),
		Automatic: string(msg.Auto.Kind),
	}
	c.Acknowledge = t.Mailbox.Acknowledges() && !msg.Auto.Automatic() && sender != "" && !r.own[sender] &&
		!strings.HasSuffix(strings.ToLower(msg.MessageID), "@"+r.cfg.Domain)
	c.DeliveryReport = deliveryReport(msg)
	return c
}

// deliveryReport maps a bounce (a DSN, or a PEC failure receipt) that
// names the message it is about.
func deliveryReport(msg *mailparse.Message) *inboundv1.DeliveryReport {
	if d := msg.DSN; d != nil && d.OriginalMessageID != "" {
		rep := &inboundv1.DeliveryReport{MessageExternalId: d.OriginalMessageID, Action: "failed"}
		rs := d.Failed()
		if len(rs) == 0 && len(d.Recipients) > 0 {
			// Delayed, relayed or delivered: a report, not a failure.
			rs, rep.Action = d.Recipients, d.Recipients[0].Action
		}
		for _, x := range rs {
			rep.Recipients = append(rep.Recipients, x.FinalRecipient)
			if rep.Status == "" {
				rep.Status, rep.Diagnostic = x.Status, x.DiagnosticCode
			}
		}
		return rep
	}
	if p := msg.PEC; p != nil && p.Failed() && p.RefMessageID != "" {
		return &inboundv1.DeliveryReport{MessageExternalId: p.RefMessageID, Action: "failed", Diagnostic: "PEC receipt: " + p.Receipt}
	}
	return nil
}

// originalName names the raw message's attachment after its subject.
func originalName(subject string) string {
	name := attachments.SanitizeFileName(strings.Join(strings.Fields(subject), " "))
	if name == "" {
		name = "message"
	}
	return clip.Bytes(name, 100) + ".eml"
}

func rawBlob(sha string, size int64) attachments.Blob {
	return attachments.Blob{SHA256: sha, Size: size, ContentType: "message/rfc822"}
}

// NewStore makes a blob store the channel's Store.
func NewStore(b *attachments.Blobs) Store { return blobStore{b} }

type blobStore struct{ *attachments.Blobs }

func (s blobStore) Open(sum string) (io.ReadCloser, error) { return s.Blobs.Open(sum) }
