// Package webform is the web-form channel: citizens (or the portal) POST a
// request as JSON or as an HTML form to /v1/channels/webform/submissions.
// It validates the submission, hands it to the Sink, and answers 202 only
// once the contact is durably stored. It never touches storage.
package webform

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/threadkey"
)

// OpenAPI documents Path as a Swagger 2.0 fragment (paths and
// definitions) for the server to merge into /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Kind is the channel kind of this adapter.
const Kind = "webform"

// Path is the route of the submission endpoint (a contract for integrators).
const Path = "/v1/channels/webform/submissions"

// Limits on a submission.
const (
	MaxBodyBytes       = 64 << 10
	maxNameRunes       = 200
	maxEmailBytes      = 254
	maxSubjectRunes    = 200
	maxMessageRunes    = 20000
	maxIdempotencyKey  = 255
	maxCategoryBytes   = 64
	defaultChannelName = "webform"
	readTimeout        = 30 * time.Second
)

// Config configures the channel.
type Config struct {
	// ChannelID names this instance; "webform" by default.
	ChannelID string
	Sink      channels.Sink
	// KnownCategory reports whether code is a category of the catalogue.
	KnownCategory func(ctx context.Context, code string) (bool, error)
	Logger        *slog.Logger
	// HTML, when set, answers browsers (a form post that accepts
	// text/html) with pages instead of JSON.
	HTML Responder
	// Language, when set, is the language ("it" or "en") of a request
	// that does not name one (Submission.Language): the page's language
	// for a browser's form post.
	Language func(r *http.Request) string
}

// Responder renders the outcome of a browser's form post.
type Responder interface {
	Accepted(w http.ResponseWriter, r *http.Request, contactID string)
	Rejected(w http.ResponseWriter, r *http.Request, status int, msg string, sub Submission, fields []FieldViolation)
}

// Handler serves the submission endpoint; it is the web form's channel
// instance.
type Handler struct {
	channels.Monitor
	cfg Config
}

var _ channels.Adapter = (*Handler)(nil)

func (h *Handler) Kind() string { return Kind }
func (h *Handler) ID() string   { return h.cfg.ChannelID }

// Capabilities: the web form is called over HTTP at Path.
func (h *Handler) Capabilities() []string { return []string{"webhook"} }

// Close does nothing: the handler holds nothing and stops with the server.
func (h *Handler) Close() error { return nil }

// New returns the channel's HTTP handler.
func New(cfg Config) *Handler {
	if cfg.ChannelID == "" {
		cfg.ChannelID = defaultChannelName
	}
	return &Handler{cfg: cfg}
}

// Submission is the JSON body (and the form fields) of a request.
type Submission struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Category string `json:"category"`
	Subject  string `json:"subject"`
	Message  string `json:"message"`
	// Reference, optional, is the case the citizen follows up
	// ("2026-000123"): the submission goes to that case when it is theirs
	// (same e-mail), and opens a new case otherwise.
	Reference string `json:"reference,omitempty"`
	// Language, optional, is the language of the request, "it" or "en":
	// the acknowledgement and the replies' templates use it.
	Language string `json:"language,omitempty"`
}

// FieldViolation names one bad field (google.rpc.BadRequest.FieldViolation).
type FieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
	// Reason is machine-readable: REQUIRED, TOO_LONG, INVALID_EMAIL,
	// CONTROL_CHARACTERS, UNKNOWN_CATEGORY, INVALID_REFERENCE.
	Reason string `json:"reason"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST to submit a request", nil)
		return
	}
	// Bound the time a client may take to send its body, not only its size.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readTimeout))
	sub, status, msg := decode(w, r)
	html := h.cfg.HTML != nil && wantsHTML(r)
	fail := func(status int, msg string, fields []FieldViolation) {
		if html {
			h.cfg.HTML.Rejected(w, r, status, msg, sub, fields)
			return
		}
		writeError(w, status, msg, fields)
	}
	if status != 0 {
		fail(status, msg, nil)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		fail(http.StatusBadRequest, fmt.Sprintf("Idempotency-Key must be at most %d printable ASCII characters", maxIdempotencyKey), nil)
		return
	}
	violations, err := h.validate(r.Context(), &sub)
	if err != nil {
		h.cfg.Logger.Error("webform: category lookup failed", "err", err)
		fail(http.StatusServiceUnavailable, "the service catalogue is unavailable; retry shortly", nil)
		return
	}
	if len(violations) > 0 {
		fail(http.StatusBadRequest, "the submission has invalid fields", violations)
		return
	}
	c := h.contact(sub, key, r)
	if err := h.cfg.Sink.Deliver(r.Context(), c); err != nil {
		h.Failed(err)
		h.cfg.Logger.Error("webform: could not store submission", "err", err)
		w.Header().Set("Retry-After", "1")
		fail(http.StatusServiceUnavailable, "the submission could not be stored; retry (with the same Idempotency-Key)", nil)
		return
	}
	h.Received(1)
	if html {
		h.cfg.HTML.Accepted(w, r, c.Id)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"contactId": c.Id})
}

// wantsHTML: a browser posting the HTML form (JSON clients get JSON).
func wantsHTML(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// decode reads the body in the content type the client declared. It returns
// a non-zero HTTP status with a message when the body is unusable.
func decode(w http.ResponseWriter, r *http.Request) (Submission, int, string) {
	var sub Submission
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/x-www-form-urlencoded") {
		return sub, http.StatusUnsupportedMediaType, "Content-Type must be application/json or application/x-www-form-urlencoded"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return sub, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes)
	case err != nil:
		return sub, http.StatusBadRequest, "the request body could not be read"
	case len(bytes.TrimSpace(body)) == 0:
		return sub, http.StatusBadRequest, "the request body is empty"
	}
	if mt == "application/json" {
		if !utf8.Valid(body) {
			return sub, http.StatusBadRequest, "the request body is not valid UTF-8"
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sub); err != nil {
			return sub, http.StatusBadRequest, "the request body is not a valid JSON submission: " + jsonProblem(err)
		}
		if dec.More() {
			return sub, http.StatusBadRequest, "the request body has data after the JSON object"
		}
		return sub, 0, ""
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return sub, http.StatusBadRequest, "the form body is not valid application/x-www-form-urlencoded"
	}
	for k, vs := range form {
		for _, v := range vs {
			if !utf8.ValidString(v) || !utf8.ValidString(k) {
				return sub, http.StatusBadRequest, "the form body is not valid UTF-8"
			}
		}
	}
	sub = Submission{Name: form.Get("name"), Email: form.Get("email"), Category: form.Get("category"),
		Subject: form.Get("subject"), Message: form.Get("message"), Reference: form.Get("reference")}
	return sub, 0, ""
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}

// Check trims the fields of s and reports every bad one, as a submission
// is checked (the portal's summary step uses it). The error is the
// catalogue's, when it could not be read.
func (h *Handler) Check(ctx context.Context, s *Submission) ([]FieldViolation, error) {
	return h.validate(ctx, s)
}

// validate trims the fields and reports every bad one.
func (h *Handler) validate(ctx context.Context, s *Submission) ([]FieldViolation, error) {
	s.Name = clean(s.Name)
	s.Email = strings.TrimSpace(s.Email)
	s.Category = strings.TrimSpace(s.Category)
	s.Subject = clean(s.Subject)
	s.Message = strings.TrimSpace(strings.ReplaceAll(s.Message, "\r\n", "\n"))
	var v []FieldViolation
	add := func(f, reason, d string) { v = append(v, FieldViolation{Field: f, Description: d, Reason: reason}) }
	text := func(field, val string, max int) {
		switch {
		case val == "":
			add(field, "REQUIRED", "is required")
		case utf8.RuneCountInString(val) > max:
			add(field, "TOO_LONG", fmt.Sprintf("must be at most %d characters", max))
		case strings.ContainsFunc(val, forbidden):
			add(field, "CONTROL_CHARACTERS", "contains control characters")
		}
	}
	text("name", s.Name, maxNameRunes)
	switch {
	case s.Email == "":
		add("email", "REQUIRED", "is required")
	case len(s.Email) > maxEmailBytes:
		add("email", "TOO_LONG", fmt.Sprintf("must be at most %d characters", maxEmailBytes))
	default:
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email || !strings.Contains(a.Address[strings.LastIndex(a.Address, "@")+1:], ".") {
			add("email", "INVALID_EMAIL", "is not a valid e-mail address (like nome@example.it)")
		}
	}
	text("subject", s.Subject, maxSubjectRunes)
	text("message", s.Message, maxMessageRunes)
	if s.Language = strings.ToLower(strings.TrimSpace(s.Language)); s.Language != "" && s.Language != "it" && s.Language != "en" {
		add("language", "INVALID_LANGUAGE", `must be "it" or "en"`)
	}
	s.Reference = strings.TrimSpace(s.Reference)
	if s.Reference != "" && threadkey.Ref(s.Reference) == "" {
		add("reference", "INVALID_REFERENCE", "is not a case reference (like 2026-000123)")
	}
	if s.Category != "" {
		known := false
		if len(s.Category) <= maxCategoryBytes {
			ok, err := h.cfg.KnownCategory(ctx, s.Category)
			if err != nil {
				return nil, err
			}
			known = ok
		}
		if !known {
			add("category", "UNKNOWN_CATEGORY", "is not a known category code (see GET /v1/categories)")
		}
	}
	return v, nil
}

// clean trims a one-line field and folds its inner whitespace.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// forbidden matches control and bidi-override characters in a one-line
// field or a message (newlines and tabs are fine in a message).
func forbidden(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// idempotencyNS is the UUIDv5 namespace of idempotent submissions.
var idempotencyNS = uuid.MustParse("6f1c3b52-6a3e-4f0e-9a51-5e7f0d0c9b11")

// contact builds the InboundContact. With an Idempotency-Key the id is
// derived from the key AND the submission, so a retried POST maps to the same
// contact (and JetStream and intake drop the copy), while a different
// submission that reuses a key is never silently discarded.
func (h *Handler) contact(s Submission, key string, r *http.Request) *inboundv1.InboundContact {
	id := uuid.Must(uuid.NewV7()).String()
	if key != "" {
		sum := sha256.New()
		for _, f := range []string{key, s.Name, s.Email, s.Category, s.Subject, s.Message, s.Reference} {
			sum.Write([]byte(f))
			sum.Write([]byte{0})
		}
		id = uuid.NewSHA1(idempotencyNS, sum.Sum(nil)).String()
	}
	md := map[string]string{}
	if ua := r.UserAgent(); ua != "" {
		md["user_agent"] = clip.Bytes(ua, 256)
	}
	if key != "" {
		md["idempotency_key"] = key
	}
	var keys []string
	if k := threadkey.Ref(s.Reference); k != "" {
		keys = append(keys, k)
	}
	return &inboundv1.InboundContact{
		Id: id, ChannelKind: Kind, ChannelId: h.cfg.ChannelID, ExternalId: id, ThreadKeys: keys,
		Sender:       &inboundv1.Sender{Name: s.Name, Email: strings.ToLower(s.Email)},
		Subject:      s.Subject,
		BodyText:     s.Message,
		ReceivedAt:   timestamppb.New(time.Now()),
		CategoryHint: s.Category,
		Metadata:     md,
		Language:     h.language(s, r),
	}
}

// language is the submission's language, else the request's (Config.Language).
func (h *Handler) language(s Submission, r *http.Request) string {
	if s.Language != "" {
		return s.Language
	}
	if h.cfg.Language != nil {
		if l := h.cfg.Language(r); l == "it" || l == "en" {
			return l
		}
	}
	return ""
}

// writeError answers in the shape the REST gateway uses for gRPC errors
// (google.rpc.Status with a BadRequest detail), so clients parse one format.
func writeError(w http.ResponseWriter, status int, msg string, fields []FieldViolation) {
	body := map[string]any{"code": grpcCode(status), "message": msg}
	details := []any{}
	if len(fields) > 0 {
		details = append(details, map[string]any{
			"@type":           "type.googleapis.com/google.rpc.BadRequest",
			"fieldViolations": fields,
		})
	}
	body["details"] = details
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// grpcCode maps an HTTP status to the google.rpc.Code the gateway would use.
func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusRequestEntityTooLarge:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}
