// Package telegram is the Telegram Bot API channel: Telegram calls the
// bot's webhook with updates (authenticated by the secret token given to
// setWebhook); replies go through the Bot API. It never touches storage:
// contacts go to a channels.Sink, files to the blob store.
package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"github.com/sportello/sportello/channels/phone"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/threadkey"
	"github.com/sportello/sportello/services/attachments"
)

// Kind is the channel kind.
const Kind = "telegram"

// WebhookPrefix is where the bots' webhooks are routed: WebhookPrefix + channel id.
const WebhookPrefix = "/channels/telegram/"

// DefaultAPIURL is the Bot API server.
const DefaultAPIURL = "https://api.telegram.org"

// SecretHeader carries the secret_token given to setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Config is one bot's config section.
type Config struct {
	// Token is the bot token from @BotFather. Required.
	Token string `yaml:"token"`
	// SecretToken is the secret_token the webhook was set with (1-256
	// characters A-Z, a-z, 0-9, _ and -). Required.
	SecretToken string `yaml:"secret_token"`
	// APIURL is the Bot API server; DefaultAPIURL when empty.
	APIURL string `yaml:"api_url"`
	// MaxBody caps a webhook request, in bytes; 0 means 1 MiB.
	MaxBody int64 `yaml:"max_body"`
	// ConversationDays: a message within this many days of the citizen's
	// last one goes to the same case; 0 means 7.
	ConversationDays int `yaml:"conversation_days"`
	// Category is the category hint of new cases.
	Category string `yaml:"category"`
}

func validSecret(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == ""
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Token == "" || strings.ContainsAny(c.Token, "/ ?#") {
		errs = append(errs, errors.New("token is required (the bot token from @BotFather)"))
	}
	if !validSecret(c.SecretToken) {
		errs = append(errs, errors.New("secret_token is required: 1 to 256 of A-Z, a-z, 0-9, '_' and '-'"))
	}
	if u, err := url.Parse(c.APIURL); c.APIURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		errs = append(errs, fmt.Errorf("api_url %q: want an http(s) URL", c.APIURL))
	}
	if c.MaxBody < 0 || c.MaxBody > 64<<20 {
		errs = append(errs, fmt.Errorf("max_body %d: want 0 to 64 MiB", c.MaxBody))
	}
	if c.ConversationDays < 0 || c.ConversationDays > 365 {
		errs = append(errs, fmt.Errorf("conversation_days %d: want 0 to 365", c.ConversationDays))
	}
	return errors.Join(errs...)
}

// Bot is one Telegram bot.
type Bot struct {
	channels.Monitor
	id   string
	cfg  Config
	deps channels.Deps
	log  *slog.Logger

	closeOnce sync.Once
	closed    chan struct{}
}

var (
	_ channels.WebhookReceiver = (*Bot)(nil)
	_ channels.PartSender      = (*Bot)(nil)
)

// Factory opens bots from configuration entries.
func Factory(e channels.Entry, deps channels.Deps) (channels.Adapter, error) {
	var cfg Config
	if e.Decode != nil {
		if err := e.Decode(&cfg); err != nil {
			return nil, err
		}
	}
	return New(e.ID, cfg, deps)
}

// New opens a bot.
func New(id string, cfg Config, deps channels.Deps) (*Bot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.ConversationDays == 0 {
		cfg.ConversationDays = 7
	}
	if deps.Client == nil {
		deps.Client = &http.Client{Timeout: time.Minute}
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bot{id: id, cfg: cfg, deps: deps, log: log.With("channel_kind", Kind, "channel_id", id), closed: make(chan struct{})}, nil
}

func (b *Bot) Kind() string          { return Kind }
func (b *Bot) ID() string            { return b.id }
func (b *Bot) WebhookPath() string   { return WebhookPrefix + b.id }
func (b *Bot) Webhook() http.Handler { return http.HandlerFunc(b.serveHTTP) }

// Close makes the webhook answer 503 (Telegram retries later).
func (b *Bot) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

func (b *Bot) problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	b.log.Warn("telegram webhook refused", "status", status, "reason", msg, "remote", r.RemoteAddr)
	b.Failed(fmt.Errorf("webhook refused (%d): %s", status, msg))
	http.Error(w, msg, status)
}

func (b *Bot) serveHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-b.closed:
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(SecretHeader)
	if got == "" {
		b.problem(w, r, http.StatusUnauthorized, SecretHeader+" is missing")
		return
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(b.cfg.SecretToken)) != 1 {
		b.problem(w, r, http.StatusForbidden, SecretHeader+" does not match")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		b.problem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", b.cfg.MaxBody))
		return
	case err != nil:
		b.problem(w, r, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	u, err := Decode(body)
	if err != nil {
		b.problem(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if u.Message == nil {
		b.log.Info("telegram webhook: update without a message ignored", "update_id", u.UpdateID, "what", u.Ignored)
		w.WriteHeader(http.StatusOK)
		return
	}
	done := b.Begin(1)
	defer done()
	c, err := b.contact(r.Context(), u)
	if err == nil {
		err = b.deps.Sink.Deliver(r.Context(), c)
	}
	if err != nil {
		b.log.Error("telegram webhook: not stored; Telegram will deliver it again", "update_id", u.UpdateID, "err", err)
		b.Failed(err)
		http.Error(w, "not stored, try again", http.StatusServiceUnavailable)
		return
	}
	b.Received(1)
	w.WriteHeader(http.StatusOK)
}

// maxTextBytes bounds the text kept of one message (Telegram's own limit
// is 4096 characters).
const maxTextBytes = 64 << 10

func (b *Bot) contact(ctx context.Context, u Update) (*inboundv1.InboundContact, error) {
	m := u.Message
	from := m.From
	if from == nil {
		from = &User{ID: m.Chat.ID, FirstName: m.Chat.Title}
	}
	name := channels.CleanName(strings.TrimSpace(from.FirstName + " " + from.LastName))
	if name == "" && from.Username != "" {
		name = channels.CleanName("@" + from.Username)
	}
	user := strconv.FormatInt(from.ID, 10)
	c := &inboundv1.InboundContact{
		Id:           uuid.NewString(),
		ChannelKind:  Kind,
		ChannelId:    b.id,
		ExternalId:   MessageID(m.Chat.ID, m.MessageID, u.Edited),
		Sender:       &inboundv1.Sender{Name: name, Handle: Kind + ":" + user},
		BodyText:     clip.Bytes(channels.CleanText(m.text()), maxTextBytes),
		ReceivedAt:   timestamppb.Now(),
		CategoryHint: b.cfg.Category,
		Metadata:     map[string]string{"update_id": strconv.FormatInt(u.UpdateID, 10), "chat_id": strconv.FormatInt(m.Chat.ID, 10)},
	}
	if m.Chat.Type != "" && m.Chat.Type != "private" {
		c.Notes = append(c.Notes, fmt.Sprintf("Written in a Telegram %s chat, not a private one: replies go to the citizen's private chat with the bot, which Telegram refuses if they never started it.", m.Chat.Type))
	}
	if u.Edited != 0 {
		c.Notes = append(c.Notes, "The citizen edited an earlier message; this is the new text.")
	}
	if lang := from.LanguageCode; len(lang) >= 2 {
		if l := strings.ToLower(lang[:2]); l != "it" && strings.Trim(l, "abcdefghijklmnopqrstuvwxyz") == "" {
			c.Language = l
		}
	}
	if ct := m.Contact; ct != nil {
		// A phone number links the citizen's channels, but only when they
		// shared their own (a contact card of someone else is text).
		if ct.UserID == from.ID && validPhone(normalisePhone(ct.PhoneNumber)) {
			c.Sender.Phone = normalisePhone(ct.PhoneNumber)
		}
	}
	if m.ReplyTo != nil {
		if k := threadkey.Message(MessageID(m.Chat.ID, m.ReplyTo.MessageID, 0)); k != "" {
			c.ThreadKeys = append(c.ThreadKeys, k)
		}
	}
	if k := threadkey.Subject("conversation "+Kind+":"+b.id+":"+strconv.FormatInt(m.Chat.ID, 10), b.cfg.ConversationDays); k != "" {
		c.ThreadKeys = append(c.ThreadKeys, k)
	}
	c.Subject = channels.ChatSubject("Telegram", name, c.BodyText)
	for _, f := range m.files() {
		ref, err := b.fetch(ctx, f)
		var perm *permanentError
		switch {
		case errors.As(err, &perm):
			c.Notes = append(c.Notes, "A file of this message was not kept: "+perm.Error())
		case err != nil:
			return nil, err
		default:
			c.Attachments = append(c.Attachments, ref)
		}
	}
	if len(m.unknown) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("The message also held %s, which Sportello does not read: ask the citizen to write it as text.", strings.Join(m.unknown, ", ")))
	}
	return c, nil
}

// MessageID is the external id of a Telegram message: "<chat>:<message>"
// (stable across redeliveries and unique per bot); an edit adds ":e<unix
// time of the edit>".
func MessageID(chat, message, edited int64) string {
	s := strconv.FormatInt(chat, 10) + ":" + strconv.FormatInt(message, 10)
	if edited != 0 {
		s += ":e" + strconv.FormatInt(edited, 10)
	}
	return s
}

func normalisePhone(p string) string { return phone.Normalise(p) }

func validPhone(p string) bool { return len(p) >= 5 && len(p) <= 20 }

// permanentError: a file no retry will fetch.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// maxDownload is the Bot API's limit on getFile downloads.
const maxDownload = 20 << 20

// fetch stores one file: getFile gives its path, then the file is
// downloaded from <api>/file/bot<token>/<path>.
func (b *Bot) fetch(ctx context.Context, f fileRef) (*inboundv1.BlobRef, error) {
	if b.deps.Blobs == nil {
		return nil, &permanentError{"no attachment store is configured"}
	}
	if f.Size > maxDownload {
		return nil, &permanentError{fmt.Sprintf("%s is larger than the 20 MB bots may download", attachments.FormatSize(f.Size))}
	}
	var file struct {
		FilePath string `json:"file_path"`
		FileSize int64  `json:"file_size"`
	}
	if err := b.call(ctx, "getFile", map[string]any{"file_id": f.ID}, &file); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && !ae.Temporary() {
			return nil, &permanentError{err.Error()}
		}
		return nil, err
	}
	if file.FilePath == "" {
		return nil, &permanentError{"getFile returned no file_path"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cfg.APIURL+"/file/bot"+b.cfg.Token+"/"+file.FilePath, nil)
	if err != nil {
		return nil, &permanentError{"bad file path"}
	}
	resp, err := b.deps.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download file: %w", redact(err, b.cfg.Token))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("download file: HTTP %d", resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, err
		}
		return nil, &permanentError{err.Error()}
	}
	blob, err := b.deps.Blobs.Put(ctx, resp.Body)
	if err != nil {
		if errors.Is(err, attachments.ErrTooLarge) || errors.Is(err, attachments.ErrTypeNotAllowed) || errors.Is(err, attachments.ErrEmpty) {
			return nil, &permanentError{err.Error()}
		}
		return nil, fmt.Errorf("store file: %w", err)
	}
	name := f.Name
	if name == "" {
		name = attachments.DefaultFileName(blob.ContentType)
	}
	return &inboundv1.BlobRef{Sha256: blob.SHA256, Size: blob.Size, ContentType: blob.ContentType, FileName: attachments.SanitizeFileName(name)}, nil
}

// redact removes the bot token from an error (URLs carry it).
func redact(err error, token string) error {
	if err == nil || token == "" {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "<token>"))
}

// APIError is an error answer of the Bot API.
type APIError struct {
	Code        int    `json:"error_code"`
	Description string `json:"description"`
	RetryAfter  time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("Bot API error %d: %s", e.Code, e.Description)
}

// Temporary: flood control and server errors; a 401 (a revoked token an
// administrator replaces) too.
func (e *APIError) Temporary() bool {
	return e.Code == http.StatusTooManyRequests || e.Code >= 500 || e.Code == http.StatusUnauthorized
}

// call invokes a Bot API method with a JSON body; out receives "result".
func (b *Bot) call(ctx context.Context, method string, params any, out any) error {
	data, err := json.Marshal(params)
	if err != nil {
		return err
	}
	return b.do(ctx, method, strings.NewReader(string(data)), "application/json", out)
}

func (b *Bot) do(ctx context.Context, method string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.APIURL+"/bot"+b.cfg.Token+"/"+method, body)
	if err != nil {
		return redact(err, b.cfg.Token)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := b.deps.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, redact(err, b.cfg.Token))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var env struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  *struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		if resp.StatusCode/100 != 2 {
			return &APIError{Code: resp.StatusCode, Description: http.StatusText(resp.StatusCode)}
		}
		return fmt.Errorf("%s: undecodable answer: %w", method, err)
	}
	if !env.OK {
		e := &APIError{Code: env.ErrorCode, Description: env.Description}
		if e.Code == 0 {
			e.Code = resp.StatusCode
		}
		if env.Parameters != nil && env.Parameters.RetryAfter > 0 {
			e.RetryAfter = time.Duration(env.Parameters.RetryAfter) * time.Second
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("%s: undecodable result: %w", method, err)
		}
	}
	return nil
}
