package events

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/services/deadletters"
)

// DeadLetters is the INBOUND_DLQ stream as a deadletters.Queue.
type DeadLetters struct {
	JS jetstream.JetStream
}

var _ deadletters.Queue = (*DeadLetters)(nil)

// List implements deadletters.Queue. Replayed entries leave holes in the
// sequence; they are skipped.
func (d *DeadLetters) List(ctx context.Context, after uint64, limit int) ([]deadletters.Entry, error) {
	s, err := d.JS.Stream(ctx, DeadLetterStream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []deadletters.Entry
	for seq := max(after+1, info.State.FirstSeq); seq <= info.State.LastSeq && len(out) < limit; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		e := deadletters.Entry{Sequence: m.Sequence, OriginalSubject: m.Header.Get("Sportello-Original-Subject"),
			Reason: m.Header.Get("Sportello-Dlq-Reason"), Time: m.Time}
		var b inboundv1.InboundBatch
		if strings.HasPrefix(e.OriginalSubject, "sportello.inbound.") && proto.Unmarshal(m.Data, &b) == nil {
			e.Contacts = len(b.Contacts)
		}
		out = append(out, e)
	}
	return out, nil
}

// Replay implements deadletters.Queue: publish, then delete. A replayed
// reply is sent again (its channel's replier retries it from the start). A replay that
// published but failed to delete is safe to repeat: JetStream drops the
// second publish (same message id) and intake deduplicates contacts.
func (d *DeadLetters) Replay(ctx context.Context, seq uint64) error {
	s, err := d.JS.Stream(ctx, DeadLetterStream)
	if err != nil {
		return err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: %d", deadletters.ErrNotFound, seq)
	}
	if err != nil {
		return err
	}
	subject := m.Header.Get("Sportello-Original-Subject")
	if !strings.HasPrefix(subject, "sportello.inbound.") && !strings.HasPrefix(subject, OutboundPrefix) {
		return fmt.Errorf("dead letter %d has no original inbound or outbound subject", seq)
	}
	msg := nats.NewMsg(subject)
	msg.Data = m.Data
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("replay:%d", seq))
	if _, err := d.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("republish dead letter %d: %w", seq, err)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("remove replayed dead letter %d: %w", seq, err)
	}
	return nil
}
