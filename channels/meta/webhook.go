package meta

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/threadkey"
)

// Adapter is one WhatsApp number, Facebook page or Instagram account.
type Adapter struct {
	channels.Monitor
	kind, id string
	cfg      Config
	deps     channels.Deps
	log      *slog.Logger

	closeOnce sync.Once
	closed    chan struct{}
	// templates is what the last sync with Meta found (WhatsApp).
	templates templateState
}

var (
	_ channels.WebhookReceiver = (*Adapter)(nil)
	_ channels.PartSender      = (*Adapter)(nil)
)

// Factory returns the channels.Factory of kind (KindWhatsApp,
// KindMessenger or KindInstagram).
func Factory(kind string) channels.Factory {
	return func(e channels.Entry, deps channels.Deps) (channels.Adapter, error) {
		var cfg Config
		if e.Decode != nil {
			if err := e.Decode(&cfg); err != nil {
				return nil, err
			}
		}
		return New(kind, e.ID, cfg, deps)
	}
}

// New opens an instance.
func New(kind, id string, cfg Config, deps channels.Deps) (*Adapter, error) {
	if _, ok := objects[kind]; !ok {
		return nil, fmt.Errorf("meta: unknown kind %q", kind)
	}
	if err := cfg.Validate(kind); err != nil {
		return nil, err
	}
	cfg.defaults()
	if deps.Client == nil {
		deps.Client = &http.Client{Timeout: time.Minute}
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{kind: kind, id: id, cfg: cfg, deps: deps, log: log.With("channel_kind", kind, "channel_id", id),
		closed: make(chan struct{})}, nil
}

func (a *Adapter) Kind() string        { return a.kind }
func (a *Adapter) ID() string          { return a.id }
func (a *Adapter) WebhookPath() string { return WebhookPrefix + a.id }
func (a *Adapter) Webhook() http.Handler {
	return http.HandlerFunc(a.serveHTTP)
}

// Close makes the webhook answer 503 (Meta retries later) from now on.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() { close(a.closed) })
	return nil
}

func (a *Adapter) isClosed() bool {
	select {
	case <-a.closed:
		return true
	default:
		return false
	}
}

// problem answers status and logs why; a refused request counts as an
// error in the channel's health.
func (a *Adapter) problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.log.Warn("meta webhook refused", "status", status, "reason", msg, "remote", r.RemoteAddr)
	a.Failed(fmt.Errorf("webhook refused (%d): %s", status, msg))
	http.Error(w, msg, status)
}

func (a *Adapter) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if a.isClosed() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.verify(w, r)
	case http.MethodPost:
		a.receive(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET to verify, POST to deliver", http.StatusMethodNotAllowed)
	}
}

// verify answers the subscription check: hub.mode=subscribe with our
// verify token gets hub.challenge back.
func (a *Adapter) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("hub.mode") != "subscribe" || !equal(q.Get("hub.verify_token"), a.cfg.VerifyToken) {
		a.problem(w, r, http.StatusForbidden, "verification refused")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Sign is the X-Hub-Signature-256 of body under secret ("sha256=<hex>").
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// validSignature checks header against body in constant time.
func validSignature(secret, header string, body []byte) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(sum, m.Sum(nil))
}

// receive answers 200 only once every message of the batch is stored
// and every status recorded; otherwise 5xx and Meta delivers the batch
// again (what was stored is deduplicated by its message id).
func (a *Adapter) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		a.problem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", a.cfg.MaxBody))
		return
	case err != nil:
		a.problem(w, r, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		a.problem(w, r, http.StatusUnauthorized, "X-Hub-Signature-256 is missing")
		return
	}
	if !validSignature(a.cfg.AppSecret, sig, body) {
		a.problem(w, r, http.StatusForbidden, "X-Hub-Signature-256 does not match")
		return
	}
	b, err := Decode(a.kind, a.cfg.PhoneNumberID, body)
	if err != nil {
		a.problem(w, r, http.StatusBadRequest, err.Error())
		return
	}
	for _, why := range b.Ignored {
		a.log.Info("meta webhook: ignored", "what", why)
	}
	done := a.Begin(len(b.Messages) + len(b.Statuses))
	defer done()
	if err := a.store(r.Context(), b); err != nil {
		a.log.Error("meta webhook: not stored; Meta will deliver it again", "err", err)
		a.Failed(err)
		http.Error(w, "not stored, try again", http.StatusServiceUnavailable)
		return
	}
	if len(b.Messages) > 0 {
		a.Received(len(b.Messages))
	}
	w.WriteHeader(http.StatusOK)
}

func (a *Adapter) store(ctx context.Context, b Batch) error {
	var wg sync.WaitGroup
	errs := make([]error, len(b.Messages))
	// A few at a time: each may download media.
	slots := make(chan struct{}, 8)
	for i, m := range b.Messages {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			c, err := a.contact(ctx, m)
			if err == nil {
				err = a.deps.Sink.Deliver(ctx, c)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, s := range b.Statuses {
		if err := a.recordStatus(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// unknownGrace is how long a status report on a message we do not know
// is retried: the report may come before the replier recorded the id.
const unknownGrace = 10 * time.Minute

func (a *Adapter) recordStatus(ctx context.Context, s StatusReport) error {
	if a.deps.Statuses == nil {
		return nil
	}
	switch s.Status {
	case "sent", "delivered", "read", "failed":
	default:
		a.log.Info("meta webhook: status ignored", "status", s.Status, "external_id", s.ExternalID)
		return nil
	}
	err := a.deps.Statuses.RecordStatus(ctx, channels.Status{ChannelKind: a.kind, ChannelID: a.id, ExternalID: s.ExternalID,
		Status: s.Status, Error: s.Error, At: s.At})
	if errors.Is(err, channels.ErrUnknownMessage) {
		if !s.At.IsZero() && time.Since(s.At) > unknownGrace {
			a.log.Info("meta webhook: status of a message we did not send", "external_id", s.ExternalID, "status", s.Status)
			return nil
		}
		return fmt.Errorf("status %s of %s: %w", s.Status, s.ExternalID, err)
	}
	return err
}

// maxNotes bounds the media notes of one message.
const maxNotes = 20

// contact turns m into an inbound contact, storing its media first.
func (a *Adapter) contact(ctx context.Context, m Message) (*inboundv1.InboundContact, error) {
	handle := a.kind + ":" + m.UserID
	c := &inboundv1.InboundContact{
		Id:           uuid.NewString(),
		ChannelKind:  a.kind,
		ChannelId:    a.id,
		ExternalId:   m.ExternalID,
		Sender:       &inboundv1.Sender{Name: channels.CleanName(m.Name), Handle: handle},
		BodyText:     clip.Bytes(channels.CleanText(m.Text), maxTextBytes),
		ReceivedAt:   timestamppb.Now(),
		Notes:        m.Notes,
		Metadata:     map[string]string{"message_type": m.Type},
		CategoryHint: a.cfg.Category,
	}
	if a.kind == KindWhatsApp && validPhone(m.Phone) {
		c.Sender.Phone = m.Phone
	}
	if !m.Sent.IsZero() {
		c.Metadata["sent_at"] = m.Sent.Format(time.RFC3339)
	}
	if k := threadkey.Message(m.ReplyTo); k != "" {
		c.ThreadKeys = append(c.ThreadKeys, k)
	}
	if k := threadkey.Subject("conversation "+a.kind+":"+a.id+":"+m.UserID, a.cfg.ConversationDays); k != "" {
		c.ThreadKeys = append(c.ThreadKeys, k)
	}
	c.Subject = channels.ChatSubject(kindNames[a.kind], c.Sender.Name, c.BodyText)
	for _, md := range m.Media {
		ref, err := a.fetch(ctx, md)
		var perm *permanentMediaError
		switch {
		case errors.As(err, &perm):
			if len(c.Notes) < maxNotes {
				c.Notes = append(c.Notes, "A file of this message was not kept: "+perm.Error())
			}
		case err != nil:
			return nil, err
		default:
			c.Attachments = append(c.Attachments, ref)
		}
	}
	return c, nil
}

func validPhone(p string) bool {
	if len(p) < 4 || len(p) > 20 || p[0] != '+' {
		return false
	}
	return strings.Trim(p[1:], "0123456789") == ""
}

var kindNames = map[string]string{KindWhatsApp: "WhatsApp", KindMessenger: "Messenger", KindInstagram: "Instagram"}
