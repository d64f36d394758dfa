package calls

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sportello/sportello/channels/cti"
	"github.com/sportello/sportello/services/cases"
)

var _ cases.ReplyRouter = (*Service)(nil)

// ReplyChannelKind is the channel replies on phone cases go out on.
const ReplyChannelKind = "email"

// RouteReply sends replies on a call-centre case by e-mail, from the
// channel's reply mailbox, when the citizen has an address. Otherwise
// the reply is refused and a callback case (tag callback) is opened in
// the case's department instead, once per state of the case.
func (s *Service) RouteReply(ctx context.Context, c cases.Case) (string, string, bool, error) {
	if c.ChannelKind != cti.Kind {
		return "", "", false, nil
	}
	ch := s.d.Channels[c.ChannelID]
	contact, err := s.d.Contacts.GetContact(ctx, c.ContactID)
	if err != nil {
		return "", "", false, err
	}
	if contact.Email != "" && ch.ReplyMailbox != "" {
		return ReplyChannelKind, ch.ReplyMailbox, true, nil
	}
	why := "the citizen has no e-mail address"
	if contact.Email != "" {
		why = fmt.Sprintf("CTI channel %q has no reply_mailbox configured", c.ChannelID)
	}
	if contact.Phone == "" {
		return "", "", false, fmt.Errorf("%w: a phone case's reply goes by e-mail, and %s; the citizen has no phone number either", cases.ErrFailedPrecondition, why)
	}
	body := fmt.Sprintf("Una risposta sul caso %s non è stata inviata: %s. Richiamare il numero %s.\n\n"+
		"A reply on case %s was not sent: %s. Call %s back.", c.Reference, why, contact.Phone, c.Reference, why, contact.Phone)
	id, err := s.ingest(ctx, intakeCallback(c, contact.Phone, body, s.d.Now()))
	if err != nil {
		return "", "", false, err
	}
	return "", "", false, fmt.Errorf("%w: a phone case's reply goes by e-mail, and %s: a callback task was opened instead (case %s)",
		cases.ErrFailedPrecondition, why, id)
}

// callbackKey is the external id of the callback of case c at its
// version: a refused reply repeated before anything else happens on the
// case opens no second callback.
func callbackKey(c cases.Case) string {
	return "case/" + c.ID + "/callback/" + strconv.FormatInt(c.Version, 10)
}
