package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/email/threading"
)

// Replier sends replies by SMTP submission from the mailbox of the case's
// channel: Message-ID of our domain, In-Reply-To and References to the
// citizen's messages, the case reference tagged in the subject, the text
// with an HTML alternative, and the attachments. Acknowledgements go out as RFC 3834
// auto-replies.
type Replier struct {
	cfg       Config
	store     Store
	mailboxes map[string]*Mailbox
	now       func() time.Time
	health    *Health
}

// ReportTo makes the Replier report each mailbox's sends to h.
func (r *Replier) ReportTo(h *Health) { r.health = h }

var _ channels.Replier = (*Replier)(nil)

// NewReplier returns the replier of cfg's mailboxes.
func NewReplier(cfg Config, store Store) *Replier {
	r := &Replier{cfg: cfg, store: store, mailboxes: map[string]*Mailbox{}, now: time.Now}
	for i := range cfg.Mailboxes {
		r.mailboxes[cfg.Mailboxes[i].Name] = &cfg.Mailboxes[i]
	}
	return r
}

// ExternalID implements channels.Replier: "<message id>@<our domain>".
func (r *Replier) ExternalID(m *outboundv1.OutboundMessage) string {
	return m.GetId() + "@" + r.cfg.Domain
}

// maxThreadRefs caps the References of a reply.
const maxThreadRefs = 20

// Compose writes the MIME message of m, from mailbox mb, with the
// attachments from the store.
func (r *Replier) Compose(m *outboundv1.OutboundMessage, mb *Mailbox, w io.Writer) error {
	var h mail.Header
	h.SetDate(r.now())
	h.SetAddressList("From", []*mail.Address{{Name: mb.DisplayName, Address: mb.Address}})
	h.SetAddressList("To", []*mail.Address{{Name: m.GetTo().GetName(), Address: m.GetTo().GetEmail()}})
	h.SetMessageID(r.ExternalID(m))
	subject := strings.TrimSpace(m.GetCaseSubject())
	h.SetSubject("Re: " + threading.TagSubject(subject, m.GetCaseReference()))
	var refs []string
	for _, id := range m.GetInReplyTo() {
		// Only real Message-IDs: a message without one is known by the
		// hash of its bytes, which no mail client would recognise.
		if strings.Contains(id, "@") && !strings.ContainsAny(id, "<> \t\r\n") {
			refs = append(refs, id)
		}
	}
	if len(refs) > maxThreadRefs {
		refs = append(refs[:1], refs[len(refs)-maxThreadRefs+1:]...)
	}
	if len(refs) > 0 {
		h.SetMsgIDList("In-Reply-To", refs[len(refs)-1:])
		h.SetMsgIDList("References", refs)
	}
	switch m.GetKind() {
	case "acknowledgement":
		h.Set("Auto-Submitted", "auto-replied")
	case "follow_link", "survey_invitation":
		h.Set("Auto-Submitted", "auto-generated")
	}
	// Ask Exchange and others not to answer our mail automatically.
	h.Set("X-Auto-Response-Suppress", "All")
	h.Set("X-Sportello-Case", m.GetCaseReference())

	if len(m.GetAttachments()) == 0 {
		iw, err := mail.CreateInlineWriter(w, h)
		if err != nil {
			return err
		}
		return writeBody(iw, m.GetBodyText())
	}
	mw, err := mail.CreateWriter(w, h)
	if err != nil {
		return err
	}
	iw, err := mw.CreateInline()
	if err != nil {
		return err
	}
	if err := writeBody(iw, m.GetBodyText()); err != nil {
		return err
	}
	for _, a := range m.GetAttachments() {
		if err := r.attach(mw, a); err != nil {
			return err
		}
	}
	return mw.Close()
}

// writeBody writes the operator's text as multipart/alternative: the
// text/plain part exactly as written, and an HTML rendering of it (escaped,
// paragraphs and line breaks kept) for the clients that prefer HTML.
func writeBody(iw *mail.InlineWriter, text string) error {
	for _, p := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", textToHTML(text)}} {
		var ph mail.InlineHeader
		ph.SetContentType(p.typ, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := iw.CreatePart(ph)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, crlf(p.body)); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return iw.Close()
}

// textToHTML renders plain text as HTML: every character escaped, blank
// lines separating paragraphs, single line ends as <br>.
func textToHTML(s string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n")
	for _, para := range strings.Split(strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		lines := strings.Split(strings.Trim(para, "\n"), "\n")
		for i, l := range lines {
			lines[i] = html.EscapeString(l)
		}
		b.WriteString("<p>" + strings.Join(lines, "<br>\n") + "</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

func (r *Replier) attach(mw *mail.Writer, a *outboundv1.OutboundAttachment) error {
	f, err := r.store.Open(a.GetSha256())
	if err != nil {
		return fmt.Errorf("attachment %s: %w", a.GetFileName(), err)
	}
	defer f.Close()
	var ah mail.AttachmentHeader
	mt, params, err := mime.ParseMediaType(a.GetContentType())
	if err != nil {
		mt, params = "application/octet-stream", nil
	}
	ah.SetContentType(mt, params)
	ah.SetFilename(a.GetFileName())
	ah.Set("Content-Transfer-Encoding", "base64")
	aw, err := mw.CreateAttachment(ah)
	if err != nil {
		return err
	}
	if _, err := io.Copy(aw, f); err != nil {
		return fmt.Errorf("attachment %s: %w", a.GetFileName(), err)
	}
	return aw.Close()
}

// crlf gives text CRLF line ends.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// Send implements channels.Replier: compose, then submit. 5xx answers and
// what no retry can mend are permanent.
func (r *Replier) Send(ctx context.Context, m *outboundv1.OutboundMessage) error {
	mon := r.health.monitor(m.GetChannelId())
	done := mon.Begin(1)
	defer done()
	err := r.send(ctx, m)
	if err != nil {
		mon.Failed(err)
	} else {
		mon.Sent()
	}
	return err
}

func (r *Replier) send(ctx context.Context, m *outboundv1.OutboundMessage) error {
	mb := r.mailboxes[m.GetChannelId()]
	switch {
	case mb == nil:
		return channels.Permanent(fmt.Errorf("no mailbox %q is configured", m.GetChannelId()))
	case mb.SMTP == nil:
		return channels.Permanent(fmt.Errorf("mailbox %q has no SMTP submission configured", mb.Name))
	case m.GetTo().GetEmail() == "":
		return channels.Permanent(errors.New("the citizen has no e-mail address"))
	}
	var buf bytes.Buffer
	if err := r.Compose(m, mb, &buf); err != nil {
		// A missing blob will not come back.
		return channels.Permanent(fmt.Errorf("compose: %w", err))
	}
	return classify(submit(ctx, mb, m.GetTo().GetEmail(), buf.Bytes()))
}

// classify marks SMTP 5xx answers permanent.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return channels.Permanent(err)
	}
	return err
}

// submit sends msg from mailbox mb to rcpt through its submission server.
func submit(ctx context.Context, mb *Mailbox, rcpt string, msg []byte) error {
	s := mb.SMTP
	mode := s.TLS
	if mode == "" {
		mode = "starttls"
	}
	port := s.Port
	if port == 0 {
		port = map[string]int{"starttls": 587, "tls": 465, "none": 25}[mode]
	}
	addr := net.JoinHostPort(s.Host, strconv.Itoa(port))
	tc, err := tlsConfig(s.Host, s.CAFile)
	if err != nil {
		return channels.Permanent(fmt.Errorf("smtp ca_file: %w", err))
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var c *smtp.Client
	switch mode {
	case "tls":
		c = smtp.NewClient(tlsClient(conn, tc))
	case "starttls":
		if c, err = smtp.NewClientStartTLS(conn, tc); err != nil {
			conn.Close()
			return fmt.Errorf("starttls with %s: %w", addr, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = time.Minute, 5*time.Minute
	if s.Username != "" {
		pw, err := readSecret(s.PasswordFile)
		if err != nil {
			return fmt.Errorf("smtp password: %w", err)
		}
		if err := c.Auth(sasl.NewPlainClient("", s.Username, pw)); err != nil {
			// Not permanent: a password fixed in the configuration lets the
			// retries through.
			return fmt.Errorf("smtp auth as %s: %v", s.Username, err)
		}
	}
	if err := c.Mail(mb.Address, &smtp.MailOptions{}); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return fmt.Errorf("RCPT TO <%s>: %w", rcpt, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	_ = c.Quit()
	return nil
}
