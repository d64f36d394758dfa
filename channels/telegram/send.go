package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/split"
)

// ExternalID is "": Telegram numbers a message when it accepts it.
func (b *Bot) ExternalID(*outboundv1.OutboundMessage) string { return "" }

func (b *Bot) Send(ctx context.Context, m *outboundv1.OutboundMessage) error {
	_, err := b.SendReceipt(ctx, m)
	return err
}

// maxWait is the longest flood-control wait (retry_after) honoured within
// one attempt; a longer one defers the reply to the next attempt.
const maxWait = 10 * time.Second

// TextLimit is the Bot API's limit on one text message (sendMessage:
// 1-4096 characters, counted as UTF-16 code units); longer replies go in
// several messages.
var TextLimit = split.Limit{UTF16: 4096}

// SendReceipt sends every part of m in turn (see SendPart); the receipt
// names the first ("<chat>:<message_id>"). A failure after a part was
// accepted is permanent so nothing is sent twice: the OUTBOUND consumer
// uses SendPart instead and resumes where a failure stopped.
func (b *Bot) SendReceipt(ctx context.Context, m *outboundv1.OutboundMessage) (channels.Receipt, error) {
	return channels.SendParts(ctx, b, m)
}

// plan is how m goes out: to chat, its text's parts then one message per
// file.
func (b *Bot) plan(m *outboundv1.OutboundMessage) (chat int64, texts []string, files []*outboundv1.OutboundAttachment, err error) {
	user, ok := strings.CutPrefix(m.GetTo().GetHandle(), Kind+":")
	chat, perr := strconv.ParseInt(user, 10, 64)
	if !ok || perr != nil {
		return 0, nil, nil, channels.Permanent(errors.New("the citizen has no Telegram chat to answer"))
	}
	texts, files = split.Text(m.GetBodyText(), TextLimit), m.GetAttachments()
	if len(texts)+len(files) == 0 {
		return 0, nil, nil, channels.Permanent(errors.New("nothing to send: no text and no files"))
	}
	return chat, texts, files, nil
}

// Parts implements channels.PartSender: the text split at TextLimit, then
// one message per file.
func (b *Bot) Parts(m *outboundv1.OutboundMessage) (int, error) {
	_, texts, files, err := b.plan(m)
	return len(texts) + len(files), err
}

// SendPart implements channels.PartSender: sendMessage for a text part,
// sendDocument for a file.
func (b *Bot) SendPart(ctx context.Context, m *outboundv1.OutboundMessage, i int) (channels.Receipt, error) {
	done := b.Begin(1)
	defer done()
	rc, err := b.sendPart(ctx, m, i)
	if err != nil {
		b.Failed(err)
		return channels.Receipt{}, err
	}
	b.Sent()
	return rc, nil
}

func (b *Bot) sendPart(ctx context.Context, m *outboundv1.OutboundMessage, i int) (channels.Receipt, error) {
	chat, texts, files, err := b.plan(m)
	if err != nil {
		return channels.Receipt{}, err
	}
	if i < 0 || i >= len(texts)+len(files) {
		return channels.Receipt{}, channels.Permanent(fmt.Errorf("part %d of a message of %d parts", i, len(texts)+len(files)))
	}
	if i >= len(texts) {
		id, err := b.sendDocument(ctx, chat, files[i-len(texts)])
		if err != nil {
			return channels.Receipt{}, classify(err)
		}
		return channels.Receipt{ExternalID: id}, nil
	}
	var sent struct {
		MessageID int64 `json:"message_id"`
	}
	err = b.retrying(ctx, func() error {
		return b.call(ctx, "sendMessage", map[string]any{"chat_id": chat, "text": texts[i]}, &sent)
	})
	if err != nil {
		return channels.Receipt{}, classify(err)
	}
	return channels.Receipt{ExternalID: MessageID(chat, sent.MessageID, 0)}, nil
}

// retrying runs call again once after a short flood-control wait.
func (b *Bot) retrying(ctx context.Context, call func() error) error {
	err := call()
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == 429 && ae.RetryAfter > 0 && ae.RetryAfter <= maxWait {
		b.log.Info("telegram: flood control; waiting", "retry_after", ae.RetryAfter)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(ae.RetryAfter):
		}
		err = call()
	}
	return err
}

func classify(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && !ae.Temporary() {
		return channels.Permanent(err)
	}
	return err
}

func (b *Bot) sendDocument(ctx context.Context, chat int64, f *outboundv1.OutboundAttachment) (string, error) {
	opener, ok := b.deps.Blobs.(interface {
		Open(sum string) (io.ReadCloser, error)
	})
	if !ok {
		return "", channels.Permanent(errors.New("the attachment store cannot be read"))
	}
	var sent struct {
		MessageID int64 `json:"message_id"`
	}
	err := b.retrying(ctx, func() error {
		content, err := opener.Open(f.GetSha256())
		if err != nil {
			return fmt.Errorf("open %q: %w", f.GetFileName(), err)
		}
		defer content.Close()
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("chat_id", strconv.FormatInt(chat, 10))
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", multipart.FileContentDisposition("document", f.GetFileName()))
		h.Set("Content-Type", f.GetContentType())
		part, err := w.CreatePart(h)
		if err != nil {
			return err
		}
		if _, err := io.Copy(part, content); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		return b.do(ctx, "sendDocument", &buf, w.FormDataContentType(), &sent)
	})
	if err != nil {
		return "", err
	}
	return MessageID(chat, sent.MessageID, 0), nil
}
