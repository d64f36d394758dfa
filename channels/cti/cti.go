// Package cti is the call-centre channel: a telephony webhook a PBX or
// call-centre platform calls on each call event (newCall, answer,
// hangup) at POST /v1/channels/cti/{channel_id}. It authenticates the
// request (HMAC-SHA256 over timestamp and body, a ±5-minute window,
// replays refused), decodes and checks the event, and hands it to a
// Backend (services/calls), whose answer it returns: the screen pop on
// newCall, or the caller id to dial out with. The wire format is in
// README.md. It never touches storage: replays are remembered by a
// ReplayGuard the server provides.
package cti

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"
)

// OpenAPI documents the webhook as a Swagger 2.0 fragment for the
// server's /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Kind is the channel kind of calls and of the cases they open.
const Kind = "cti"

// Pattern is the route of the webhook (a contract for integrators).
const Pattern = "POST /v1/channels/cti/{channel_id}"

// MaxBodyBytes bounds an event body.
const MaxBodyBytes = 16 << 10

// Channel is one configured PBX.
type Channel struct {
	Secret []byte
}

// Answer is the backend's answer to an event, returned as JSON.
type Answer struct {
	CallID string `json:"callId"`
	// Action is "accept", or "reject" for a blocked caller.
	Action string `json:"action"`
	// CallerID is the number to present on an outbound call.
	CallerID string `json:"callerId,omitempty"`
	// Department is the queue the call is routed to.
	Department string `json:"department,omitempty"`
	// Contact is the caller when their number is known (screen pop).
	Contact *Contact `json:"contact,omitempty"`
	// OpenCases are the caller's open cases, newest first.
	OpenCases []Case `json:"openCases,omitempty"`
	// Duplicate is true when the event had been received before.
	Duplicate bool `json:"duplicate,omitempty"`
	// CallbackCaseID is the callback case an unanswered call opened.
	CallbackCaseID string `json:"callbackCaseId,omitempty"`
}

// Actions of an Answer.
const (
	ActionAccept = "accept"
	ActionReject = "reject"
)

// Contact is the caller's record as the screen pop shows it.
type Contact struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Case is an open case of the caller.
type Case struct {
	ID         string    `json:"id"`
	Reference  string    `json:"reference"`
	Subject    string    `json:"subject"`
	Status     string    `json:"status"`
	Department string    `json:"department"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Backend acts on authenticated, valid events; services/calls
// implements it. Each method is idempotent: the same event twice gives
// the same answer (with Duplicate set) and no second record.
type Backend interface {
	NewCall(ctx context.Context, channelID string, at time.Time, e Event) (Answer, error)
	Answered(ctx context.Context, channelID string, at time.Time, e Event) (Answer, error)
	HungUp(ctx context.Context, channelID string, at time.Time, e Event) (Answer, error)
}

// ErrUnknownCall is returned by Backend for an answer or hangup of a call
// whose newCall has not been received (yet): answered 409, to retry.
var ErrUnknownCall = errors.New("unknown callId: newCall not received yet")

// ErrRejected wraps a Backend's refusal of a valid event that no retry
// can mend (an unknown operator, an answer of a rejected call): answered 422.
var ErrRejected = errors.New("event refused")

// ReplayGuard remembers accepted signatures for the whole window, across
// replicas (in the database).
type ReplayGuard interface {
	// Claim records key until expires; it returns false when key is
	// already recorded (a replay).
	Claim(ctx context.Context, key string, expires time.Time) (bool, error)
	// Release forgets key, after a request that failed and may be retried
	// byte for byte.
	Release(ctx context.Context, key string) error
}

// Config configures the handler.
type Config struct {
	// Channels are the configured PBXs by channel id.
	Channels map[string]Channel
	Backend  Backend
	Replays  ReplayGuard
	Logger   *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Handler serves the webhook.
type Handler struct {
	cfg    Config
	health map[string]*adapter
}

// New returns the webhook's handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, health: map[string]*adapter{}}
	for id := range cfg.Channels {
		h.health[id] = &adapter{id: id, h: h}
	}
	return h
}

// adapter is one configured PBX as the channel list shows it: the
// webhook's events it stored and refused.
type adapter struct {
	channels.Monitor
	id string
	h  *Handler
}

func (a *adapter) Kind() string          { return Kind }
func (a *adapter) ID() string            { return a.id }
func (a *adapter) Close() error          { return nil }
func (a *adapter) WebhookPath() string   { return "/v1/channels/cti/" + a.id }
func (a *adapter) Webhook() http.Handler { return a.h } // served at Pattern, for every PBX

// Adapters lists the configured PBXs with their health, for the channel
// list (GET /v1/admin/channels) and /metrics. The webhook itself is the
// one Handler at Pattern.
func (h *Handler) Adapters() []channels.Adapter {
	out := make([]channels.Adapter, 0, len(h.health))
	for _, a := range h.health {
		out = append(out, a)
	}
	return out
}

const readTimeout = 10 * time.Second

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readTimeout))
	channelID := r.PathValue("channel_id")
	ch, ok := h.cfg.Channels[channelID]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no CTI channel %q is configured", truncate(channelID, 64)))
		return
	}
	mon := h.health[channelID]
	defer mon.Begin(1)()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "the body could not be read")
		return
	}
	now := h.cfg.Now()
	at, mac, err := verify(ch.Secret, r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader), body, now)
	if err != nil {
		mon.Failed(fmt.Errorf("refused: %w", err))
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	// Decode before claiming the signature: a bad event is refused for
	// good, however often it is sent.
	e, err := Decode(body)
	if err != nil {
		mon.Failed(fmt.Errorf("undecodable event: %w", err))
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	key := channelID + ":" + mac
	fresh, err := h.cfg.Replays.Claim(ctx, key, at.Add(Window))
	if err != nil {
		h.unavailable(w, "replay check", err)
		return
	}
	if !fresh {
		writeError(w, http.StatusUnauthorized, ErrReplayed.Error())
		return
	}
	if e.Time != nil {
		at = *e.Time
	}
	var ans Answer
	switch e.Type {
	case TypeNewCall:
		ans, err = h.cfg.Backend.NewCall(ctx, channelID, at, e)
	case TypeAnswer:
		ans, err = h.cfg.Backend.Answered(ctx, channelID, at, e)
	case TypeHangup:
		ans, err = h.cfg.Backend.HungUp(ctx, channelID, at, e)
	}
	if err != nil {
		mon.Failed(err)
		// The same bytes may come again: do not call them a replay.
		if rerr := h.cfg.Replays.Release(context.WithoutCancel(ctx), key); rerr != nil {
			h.cfg.Logger.Warn("cti: could not release a replay key", "err", rerr)
		}
		switch {
		case errors.Is(err, ErrUnknownCall):
			writeError(w, http.StatusConflict, err.Error())
		case errors.Is(err, ErrRejected):
			writeError(w, http.StatusUnprocessableEntity, err.Error())
		default:
			h.unavailable(w, e.Type, err)
		}
		return
	}
	mon.Received(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(ans)
}

func (h *Handler) unavailable(w http.ResponseWriter, what string, err error) {
	h.cfg.Logger.Error("cti: event not stored", "step", what, "err", err)
	w.Header().Set("Retry-After", "2")
	writeError(w, http.StatusServiceUnavailable, "the event could not be stored; retry with a fresh timestamp")
}

// writeError answers {"code": <google.rpc.Code>, "message": ...}, the
// shape of the REST gateway's errors.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": grpcCode(status), "message": msg})
}

func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusNotFound:
		return 5 // NOT_FOUND
	case http.StatusConflict:
		return 10 // ABORTED
	case http.StatusUnprocessableEntity:
		return 9 // FAILED_PRECONDITION
	case http.StatusRequestEntityTooLarge:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	}
	return 2
}
