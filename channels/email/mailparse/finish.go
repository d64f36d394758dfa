package mailparse

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/sportello/sportello/services/attachments"
)

// maxProblems caps the problems listed: a hostile message can be
// malformed in every part.
const maxProblems = 50

func (p *parser) problem(s string) {
	if len(p.problems) >= maxProblems {
		p.moreProblems++
		return
	}
	for _, q := range p.problems {
		if q == s {
			return
		}
	}
	p.problems = append(p.problems, s)
}

// truncated records a problem that left content unread.
func (p *parser) truncated(s string) {
	p.msg.Truncated = true
	p.problem(s)
}

// finishMessage fills the Message from the top-level header and what the
// walk gathered, and states the limits that were hit.
func (p *parser) finishMessage(h textproto.Header, b *body) {
	m := p.msg
	env := p.envelope(h, "")
	m.MessageID, m.InReplyTo, m.References = env.messageID, env.inReplyTo, env.references
	m.From, m.To, m.Cc, m.ReplyTo = env.from, env.to, env.cc, env.replyTo
	m.DeliveredTo, m.XOriginalTo = env.deliveredTo, env.xOriginalTo
	m.ReturnPath, m.NullReturnPath = env.returnPath, env.nullReturnPath
	m.Date, m.Subject = env.date, env.subject
	m.Size, m.Parts = p.src.n, p.parts

	m.Auto = classifyHeader(h, m)
	if b.dsn != nil {
		m.DSN = b.dsn
		m.Auto.add(AutoBounce, "delivery status report")
	} else if m.Auto.Kind == AutoBounce && h.Has("X-Failed-Recipients") {
		m.DSN = failedRecipientsDSN(h.Get("X-Failed-Recipients"), maxDSNRecipients)
	}
	if m.DSN != nil {
		m.DSN.OriginalMessageID = b.returnedID
		if m.DSN.OriginalMessageID == "" && len(b.forwards) > 0 {
			m.DSN.OriginalMessageID = b.forwards[0].msg.MessageID
		}
	}
	if m.DSN != nil && m.DSN.OriginalMessageID == "" {
		m.DSN.OriginalMessageID = returnedIDInText(strings.Join(b.plain, "\n"))
	}
	if b.mdn {
		m.Auto.add(AutoReceipt, "read receipt (disposition notification)")
	}
	m.PEC = readPEC(h, b)

	if m.PEC != nil && m.PEC.Original != nil {
		// The envelope's own text is the provider's boilerplate; the
		// citizen's is in the original.
		o := m.PEC.Original
		m.FullText, m.TextBody, m.SanitizedHTML = o.FullText, o.TextBody, o.SanitizedHTML
	} else {
		m.FullText, m.TextBody, m.SanitizedHTML, m.TextFromHTML = finishBody(b, m.Subject, p.lim.MaxTextBytes)
	}
	p.limitProblems()
	m.Problems = p.problems
	if p.moreProblems > 0 {
		m.Problems = append(m.Problems, fmt.Sprintf("and %s more problems", count(p.moreProblems)))
	}
}

// embedded summarises a forwarded message once it has been read.
func (p *parser) embedded(h textproto.Header, b *body, path string) *Embedded {
	env := p.envelope(h, "in the message in part "+path+", ")
	e := &Embedded{MessageID: env.messageID, InReplyTo: env.inReplyTo, References: env.references, From: env.from, To: env.to, Cc: env.cc, Date: env.date, Subject: env.subject}
	e.FullText, e.TextBody, e.SanitizedHTML, _ = finishBody(b, e.Subject, p.lim.MaxTextBytes)
	return e
}

// finishBody makes the text fields of a message from its text parts: the
// plain text, or the text of the HTML when there is no plain text.
func finishBody(b *body, subject string, maxText int) (full, trimmed, sanitized string, fromHTML bool) {
	full = strings.TrimSpace(strings.Join(b.plain, "\n"))
	if len(b.html) > 0 {
		raw := strings.Join(b.html, "\n")
		sanitized = sanitizeHTML(raw)
		if full == "" {
			full, fromHTML = htmlToText(raw, maxText), true
		}
	}
	return full, trimReply(full, isForward(subject)), sanitized, fromHTML
}

// limitProblems states the limits that stopped the reading, once each.
func (p *parser) limitProblems() {
	lim := p.lim
	if p.partsOver {
		more := ""
		if p.stopped() || p.parts >= p.countParts() {
			more = "more than "
		}
		p.truncated(fmt.Sprintf("the message has %s%s MIME parts; the limit is %s: the parts after the %s were not read",
			more, count(p.parts), count(lim.MaxParts), ordinal(lim.MaxParts)))
	}
	if p.depthOver {
		p.truncated(fmt.Sprintf("MIME parts are nested more than %d deep; the limit is %d: the parts below that depth were not read",
			lim.MaxDepth, lim.MaxDepth))
	}
	if p.decodedOver {
		p.truncated(fmt.Sprintf("the parts decode to more than %s; the limit is %s: the content after that was not read",
			attachments.FormatSize(lim.MaxDecodedBytes), attachments.FormatSize(lim.MaxDecodedBytes)))
	}
	if p.textOver {
		p.truncated(fmt.Sprintf("the text of the message is longer than %s; the limit is %s: the text after that was not kept",
			attachments.FormatSize(int64(lim.MaxTextBytes)), attachments.FormatSize(int64(lim.MaxTextBytes))))
	}
	switch {
	case errors.Is(p.src.err, errTooLarge):
		p.truncated(fmt.Sprintf("the message is larger than %s; the limit is %s: the content after that was not read",
			attachments.FormatSize(lim.MaxSize), attachments.FormatSize(lim.MaxSize)))
	case errors.Is(context.Cause(p.ctx), errParseTimeout):
		p.truncated(fmt.Sprintf("reading the message took longer than %s; the limit is %s: the content after that was not read",
			lim.ParseTimeout.Round(time.Millisecond), lim.ParseTimeout.Round(time.Millisecond)))
	}
}

// returnedMessageIDRE finds a Message-ID header line in the text of a
// bounce that copies the returned message inline (Exim, qmail).
var returnedMessageIDRE = regexp.MustCompile(`(?im)^message-id:\s*(<[^<>\s]+>)`)

func returnedIDInText(text string) string {
	if m := returnedMessageIDRE.FindStringSubmatch(text); m != nil {
		if ids, _ := msgIDs(m[1]); len(ids) > 0 {
			return ids[0]
		}
	}
	return ""
}
