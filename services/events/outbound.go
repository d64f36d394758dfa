package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/services/cases"
)

// ReplyOutbox is where queued replies wait (services/storage).
type ReplyOutbox interface {
	RelayOutbound(ctx context.Context, limit int, publish func([]cases.OutboundReply) error) (int, error)
}

// OutboundRelay publishes queued replies to the OUTBOUND stream, subject
// sportello.outbound.<kind>.<channel>, with the message id as
// Nats-Msg-Id: a channel's replier sends each id at most once.
type OutboundRelay struct {
	JS     jetstream.JetStream
	Outbox ReplyOutbox
	Log    *slog.Logger
	Idle   time.Duration // 100 ms when zero
}

// Run relays until ctx ends.
func (r *OutboundRelay) Run(ctx context.Context) {
	idle := r.Idle
	if idle <= 0 {
		idle = 100 * time.Millisecond
	}
	for {
		n, err := r.Outbox.RelayOutbound(ctx, relayBatch, r.publish)
		if err != nil && ctx.Err() == nil {
			r.Log.Warn("outbound relay: will retry", "err", err)
		}
		if n == relayBatch && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(idle):
		}
	}
}

func (r *OutboundRelay) publish(replies []cases.OutboundReply) error {
	for _, o := range replies {
		msg := &outboundv1.OutboundMessage{
			Id: o.ID, CaseId: o.CaseID, CaseReference: o.CaseReference, CaseSubject: o.CaseSubject,
			ChannelKind: o.ChannelKind, ChannelId: o.ChannelID,
			To:       &outboundv1.Recipient{Name: o.ToName, Email: o.ToEmail, Phone: o.ToPhone, Handle: o.ToHandle},
			BodyText: o.Body, InReplyTo: o.InReplyTo, AuthorName: o.AuthorName, CreateTime: timestamppb.New(o.CreatedAt),
			Kind: o.Kind,
		}
		if o.Template != nil {
			msg.Template = &outboundv1.OutboundTemplate{Name: o.Template.Name, Params: o.Template.Params, NamedParams: o.Template.Named,
				ButtonParams: o.Template.Buttons}
			if h := o.Template.Header; h != nil {
				msg.Template.Header = &outboundv1.OutboundTemplateHeader{Text: h.Text, MediaLink: h.MediaLink, MediaId: h.MediaID, FileName: h.FileName}
			}
		}
		if !o.LastInboundAt.IsZero() {
			msg.LastInboundTime = timestamppb.New(o.LastInboundAt)
		}
		for _, a := range o.Attachments {
			msg.Attachments = append(msg.Attachments, &outboundv1.OutboundAttachment{Sha256: a.SHA256, FileName: a.FileName,
				ContentType: a.ContentType, Size: a.Size})
		}
		data, err := proto.Marshal(msg)
		if err != nil {
			return err
		}
		m := nats.NewMsg(OutboundPrefix + o.ChannelKind + "." + o.ChannelID)
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, o.ID)
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		_, err = r.JS.PublishMsg(ctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("publish reply %s: %w", o.ID, err)
		}
	}
	return nil
}
