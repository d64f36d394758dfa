package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sportello/sportello/services/attachments"
)

// Listener is the inbound SMTP (or LMTP) server: it accepts mail for the
// configured mailboxes only, announces and enforces the size limit, and
// answers 250 only once every contact of a message is durably stored (4xx
// when storage fails, so the MTA retries).
type Listener struct {
	srv      *smtp.Server
	receiver *Receiver
	byAddr   map[string]*Mailbox
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	ln       net.Listener
}

// Protocol limits of the listener.
const (
	maxRecipients = 50
	// maxLineLength is far above RFC 5322's 998: real clients overstep it.
	maxLineLength   = 16 << 10
	smtpReadTimeout = 2 * time.Minute
	// deliverTimeout bounds storing one message, after its DATA.
	deliverTimeout = 2 * time.Minute
)

// NewListener returns a listener for cfg.Listener that hands messages to
// receiver.
func NewListener(cfg Config, receiver *Receiver, log *slog.Logger) (*Listener, error) {
	l := &Listener{receiver: receiver, byAddr: map[string]*Mailbox{}, log: log, done: make(chan struct{})}
	for i := range receiver.cfg.Mailboxes {
		m := &receiver.cfg.Mailboxes[i]
		for _, a := range append([]string{m.Address}, m.Aliases...) {
			l.byAddr[strings.ToLower(a)] = m
		}
	}
	s := smtp.NewServer(l)
	s.Addr = cfg.Listener.Listen
	s.Domain = cfg.Domain
	s.LMTP = cfg.Listener.LMTP
	s.MaxMessageBytes = cfg.MaxMessageSize()
	s.MaxRecipients = maxRecipients
	s.MaxLineLength = maxLineLength
	s.ReadTimeout = smtpReadTimeout
	s.WriteTimeout = smtpReadTimeout
	s.EnableSMTPUTF8 = true
	s.ErrorLog = slogLogger{log}
	if cfg.Listener.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Listener.CertFile, cfg.Listener.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("email.smtp_listener: %w", err)
		}
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l.srv = s
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l, nil
}

// Start listens and serves in the background.
func (l *Listener) Start() error {
	network := "tcp"
	ln, err := net.Listen(network, l.srv.Addr)
	if err != nil {
		return fmt.Errorf("email listener: %w", err)
	}
	l.ln = ln
	go func() {
		defer close(l.done)
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			l.log.Error("email listener stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the address the listener listens on.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// Shutdown stops accepting connections and waits for those in progress
// (a message being stored finishes) until ctx ends.
func (l *Listener) Shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.cancel()
		_ = l.srv.Close()
	}
	<-l.done
	l.cancel()
	return err
}

// NewSession implements smtp.Backend.
func (l *Listener) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{l: l, conn: c}, nil
}

type session struct {
	l       *Listener
	conn    *smtp.Conn
	from    string
	targets []Target
}

// Policy rejections: clear 5xx answers.
func errNoMailbox(to string) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: fmt.Sprintf("<%s>: no such mailbox here", clip.Bytes(to, 254))}
}

func (l *Listener) errTooBig() error {
	return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: fmt.Sprintf("Message too big: the limit is %s", attachments.FormatSize(l.srv.MaxMessageBytes))}
}

var errTryLater = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
	Message: "The message could not be stored right now; please try again later"}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if opts != nil && opts.Size > s.l.srv.MaxMessageBytes {
		return s.l.errTooBig()
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	mb := s.l.byAddr[strings.ToLower(to)]
	if mb == nil {
		return errNoMailbox(to)
	}
	for _, t := range s.targets {
		if t.Mailbox == mb {
			return nil // another alias of a mailbox already addressed
		}
	}
	s.targets = append(s.targets, Target{Mailbox: mb, Rcpt: to})
	return nil
}

func (s *session) Data(r io.Reader) error {
	ctx, cancel := context.WithTimeout(s.l.ctx, deliverTimeout)
	defer cancel()
	// We are the final delivery: record the envelope sender and the hop,
	// as RFC 5321 §4.4 asks (a bounce's null sender is how it is known).
	trace := fmt.Sprintf("Return-Path: <%s>\r\nReceived: from %s (%s)\r\n\tby %s (Sportello) with %s;\r\n\t%s\r\n",
		headerSafe(s.from), headerSafe(s.conn.Hostname()), remoteIP(s.conn.Conn()), s.l.srv.Domain, s.proto(),
		time.Now().Format(time.RFC1123Z))
	body := &counter{r: r}
	blob, err := s.l.receiver.StoreRaw(ctx, io.MultiReader(bytes.NewReader([]byte(trace)), body))
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se) && se.Code == 552, errors.Is(err, attachments.ErrTooLarge):
		return s.l.errTooBig()
	case errors.Is(err, smtp.ErrTooLongLine):
		return &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
			Message: fmt.Sprintf("Line too long: the limit is %d bytes", maxLineLength)}
	case err != nil:
		s.l.log.Error("email: could not keep a message", "remote", remoteIP(s.conn.Conn()), "err", err)
		return errTryLater
	case body.text == 0:
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Empty message"}
	}
	env := Envelope{MailFrom: s.from, Via: s.proto(), Remote: remoteIP(s.conn.Conn())}
	if err := s.l.receiver.Deliver(ctx, blob, s.targets, env); err != nil {
		s.l.log.Error("email: could not store a message", "remote", env.Remote, "sha256", blob.SHA256, "err", err)
		return errTryLater
	}
	return nil
}

func (s *session) proto() string {
	if s.l.srv.LMTP {
		return "lmtp"
	}
	return "smtp"
}

func (s *session) Reset() { s.from, s.targets = "", nil }

func (s *session) Logout() error { return nil }

// counter counts the bytes read that are not white space.
type counter struct {
	r    io.Reader
	text int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for _, b := range p[:n] {
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			c.text++
		}
	}
	return n, err
}

// headerSafe keeps a value that goes into a trace header on one line.
func headerSafe(v string) string {
	return clip.Bytes(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '<' || r == '>' {
			return -1
		}
		return r
	}, v), 254)
}

func remoteIP(c net.Conn) string {
	if c == nil {
		return "unknown"
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return "unknown"
	}
	return host
}

// slogLogger is go-smtp's logger on slog.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.log.Warn("email listener: " + fmt.Sprintf(format, v...))
}
func (l slogLogger) Println(v ...any) { l.log.Warn("email listener: " + fmt.Sprint(v...)) }
