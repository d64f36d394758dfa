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

// maxTextRunes is the Bot API's limit on one text message.
const maxTextRunes = 4096

// SendReceipt sends the text with sendMessage, then each file with
// sendDocument. The receipt names the first message sent
// ("<chat>:<message_id>"). A failure after the text was accepted is
// permanent so nothing is sent twice.
func (b *Bot) SendReceipt(ctx context.Context, m *outboundv1.OutboundMessage) (channels.Receipt, error) {
	done := b.Begin(1)
	defer done()
	rc, err := b.send(ctx, m)
	if err != nil {
		b.Failed(err)
		return channels.Receipt{}, err
	}
	b.Sent()
	return rc, nil
}

func (b *Bot) send(ctx context.Context, m *outboundv1.OutboundMessage) (channels.Receipt, error) {
	user, ok := strings.CutPrefix(m.GetTo().GetHandle(), Kind+":")
	chat, err := strconv.ParseInt(user, 10, 64)
	if !ok || err != nil {
		return channels.Receipt{}, channels.Permanent(errors.New("the citizen has no Telegram chat to answer"))
	}
	var rc channels.Receipt
	if text := strings.TrimSpace(m.GetBodyText()); text != "" {
		if n := len([]rune(text)); n > maxTextRunes {
			return rc, channels.Permanent(fmt.Errorf("the text has %d characters; Telegram takes at most %d in one message", n, maxTextRunes))
		}
		var sent struct {
			MessageID int64 `json:"message_id"`
		}
		err := b.retrying(ctx, func() error {
			return b.call(ctx, "sendMessage", map[string]any{"chat_id": chat, "text": text}, &sent)
		})
		if err != nil {
			return rc, classify(err)
		}
		rc.ExternalID = MessageID(chat, sent.MessageID, 0)
	}
	for _, f := range m.GetAttachments() {
		id, err := b.sendDocument(ctx, chat, f)
		if err != nil {
			err = classify(err)
			if rc.ExternalID != "" {
				return channels.Receipt{}, channels.Permanent(fmt.Errorf("the text was sent (%s) but the file %q was not: %w", rc.ExternalID, f.GetFileName(), err))
			}
			return channels.Receipt{}, err
		}
		if rc.ExternalID == "" {
			rc.ExternalID = id
		}
	}
	if rc.ExternalID == "" {
		return rc, channels.Permanent(errors.New("nothing to send: no text and no files"))
	}
	return rc, nil
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
