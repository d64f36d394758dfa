package main

import (
	"context"

	"github.com/sportello/sportello/channels/email"
	"github.com/sportello/sportello/channels/webform"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
)

// replyRouters asks each router in turn where a staff reply goes: the first
// that routes it (or refuses it) decides; none keeps the case's channel.
type replyRouters []cases.ReplyRouter

func (rs replyRouters) RouteReply(ctx context.Context, c cases.Case) (string, string, bool, error) {
	for _, r := range rs {
		kind, id, ok, err := r.RouteReply(ctx, c)
		if ok || err != nil {
			return kind, id, ok, err
		}
	}
	return "", "", false, nil
}

// webReplies sends staff replies on requests made with the web form or on
// the portal by e-mail, from mailbox, when the citizen gave an address:
// the web form has no way back of its own. Without an address the reply
// stays on the case, where a signed-in citizen reads it on the portal.
type webReplies struct {
	contacts interface {
		GetContact(ctx context.Context, id string) (contacts.Contact, error)
	}
	mailbox string
}

func (w webReplies) RouteReply(ctx context.Context, c cases.Case) (string, string, bool, error) {
	if w.mailbox == "" || (c.ChannelKind != webform.Kind && c.ChannelKind != cases.PortalChannel) {
		return "", "", false, nil
	}
	who, err := w.contacts.GetContact(ctx, c.ContactID)
	if err != nil {
		return "", "", false, err
	}
	if who.Email == "" {
		return "", "", false, nil
	}
	return email.Kind, w.mailbox, true, nil
}

// webReplyMailbox is the mailbox web-form replies go out from:
// web.reply_mailbox, else the first mailbox of the e-mail channel, else
// none.
func (c Config) webReplyMailbox() string {
	if c.Web.ReplyMailbox != "" {
		return c.Web.ReplyMailbox
	}
	if c.Email.Enabled() && len(c.Email.Mailboxes) > 0 {
		return c.Email.Mailboxes[0].Name
	}
	return ""
}
