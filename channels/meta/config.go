// Package meta is the channel of Meta's messaging platforms: WhatsApp
// Business (Cloud API), Messenger and Instagram messaging. Meta calls the
// webhook (GET to verify the subscription, POST with a batch of events
// signed with the app secret); replies go through the Graph API. It
// never touches storage: contacts go to a channels.Sink, status callbacks
// to a channels.StatusSink, media to the blob store.
package meta

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of channel this package opens.
const (
	KindWhatsApp  = "whatsapp"
	KindMessenger = "messenger"
	KindInstagram = "instagram"
)

// WebhookPrefix is where Meta's webhooks are routed: WebhookPrefix + channel id.
const WebhookPrefix = "/channels/meta/"

// DefaultGraphURL is the Graph API with the version the payloads follow.
const DefaultGraphURL = "https://graph.facebook.com/v21.0"

// Config is one instance's config section.
type Config struct {
	// AppSecret signs webhooks (X-Hub-Signature-256). Required.
	AppSecret string `yaml:"app_secret"`
	// VerifyToken is what the webhook subscription is set up with
	// (hub.verify_token). Required.
	VerifyToken string `yaml:"verify_token"`
	// AccessToken is the system-user (WhatsApp) or page (Messenger,
	// Instagram) token replies are sent with. Required.
	AccessToken string `yaml:"access_token"`
	// GraphURL is the Graph API base with its version; DefaultGraphURL
	// when empty.
	GraphURL string `yaml:"graph_url"`
	// PhoneNumberID is the WhatsApp number's id: replies are sent from
	// it, and messages to other numbers of the same app are ignored.
	// Required for WhatsApp.
	PhoneNumberID string `yaml:"phone_number_id"`
	// PageID is the Facebook page (Messenger) or the Instagram account's
	// page; replies are sent as it. Required for Messenger and Instagram.
	PageID string `yaml:"page_id"`
	// MaxBody caps a webhook request, in bytes; 0 means 1 MiB.
	MaxBody int64 `yaml:"max_body"`
	// ConversationDays: a message within this many days of the citizen's
	// last one on this channel goes to the same case; 0 means 7.
	ConversationDays int `yaml:"conversation_days"`
	// Category is the category hint of new cases ("" for routing rules).
	Category string `yaml:"category"`
	// Templates are the message templates approved by Meta that operators
	// may send (WhatsApp only); they are the only replies allowed once the
	// 24-hour customer-service window is closed.
	Templates []Template `yaml:"templates"`
	// WABAID is the WhatsApp Business Account id: when set, the channel
	// fetches its message templates from Meta (GET
	// /{waba_id}/message_templates) every TemplateSyncInterval and on
	// demand, and refuses a template Meta has not approved (paused,
	// rejected, disabled) before sending. WhatsApp only.
	WABAID string `yaml:"waba_id"`
	// TemplateSyncInterval is how often templates are fetched; 1h when 0,
	// at least 1m.
	TemplateSyncInterval time.Duration `yaml:"template_sync_interval"`
}

// ReplyWindow is how long after the citizen's last message free-form
// replies are allowed (WhatsApp customer-service window, Messenger and
// Instagram standard messaging window).
const ReplyWindow = 24 * time.Hour

func (c *Config) defaults() {
	if c.GraphURL == "" {
		c.GraphURL = DefaultGraphURL
	}
	c.GraphURL = strings.TrimRight(c.GraphURL, "/")
	if c.MaxBody == 0 {
		c.MaxBody = 1 << 20
	}
	if c.ConversationDays == 0 {
		c.ConversationDays = 7
	}
	if c.TemplateSyncInterval == 0 {
		c.TemplateSyncInterval = time.Hour
	}
}

// Validate reports every problem of c for a channel of kind.
func (c Config) Validate(kind string) error {
	var errs []error
	if c.AppSecret == "" {
		errs = append(errs, errors.New("app_secret is required"))
	}
	if c.VerifyToken == "" {
		errs = append(errs, errors.New("verify_token is required"))
	}
	if c.AccessToken == "" {
		errs = append(errs, errors.New("access_token is required"))
	}
	if u, err := url.Parse(c.GraphURL); c.GraphURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		errs = append(errs, fmt.Errorf("graph_url %q: want an http(s) URL", c.GraphURL))
	}
	switch kind {
	case KindWhatsApp:
		if c.PhoneNumberID == "" {
			errs = append(errs, errors.New("phone_number_id is required"))
		}
	default:
		if c.PageID == "" {
			errs = append(errs, errors.New("page_id is required"))
		}
	}
	if c.MaxBody < 0 || c.MaxBody > 64<<20 {
		errs = append(errs, fmt.Errorf("max_body %d: want 0 to 64 MiB", c.MaxBody))
	}
	if c.ConversationDays < 0 || c.ConversationDays > 365 {
		errs = append(errs, fmt.Errorf("conversation_days %d: want 0 to 365", c.ConversationDays))
	}
	if c.WABAID != "" && (kind != KindWhatsApp || !wabaID.MatchString(c.WABAID)) {
		errs = append(errs, fmt.Errorf("waba_id %q: want the digits of a WhatsApp Business Account id (WhatsApp channels only)", c.WABAID))
	}
	if c.TemplateSyncInterval != 0 && (c.TemplateSyncInterval < time.Minute || c.TemplateSyncInterval > 7*24*time.Hour) {
		errs = append(errs, fmt.Errorf("template_sync_interval %s: want 1m to 168h", c.TemplateSyncInterval))
	}
	if len(c.Templates) > 0 && kind != KindWhatsApp {
		errs = append(errs, errors.New("templates: only WhatsApp channels send message templates"))
	}
	names := map[string]bool{}
	for i, t := range c.Templates {
		if err := t.validate(); err != nil {
			errs = append(errs, fmt.Errorf("templates[%d]: %w", i, err))
		}
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("templates[%d]: name %q is listed twice", i, t.Name))
		}
		names[t.Name] = true
	}
	return errors.Join(errs...)
}

// Template is a WhatsApp message template the administration had approved
// by Meta: replies outside the 24-hour window may only be templates.
type Template struct {
	// Name is the template's name at Meta (lowercase letters, digits and
	// underscores).
	Name string `yaml:"name"`
	// Language is the approved translation's code ("it", "en_US").
	Language string `yaml:"language"`
	// Body is the template's body text as approved, with placeholders
	// {{1}} ... {{n}}: what the thread records as sent.
	Body string `yaml:"body"`
	// Params is the number of placeholders of Body.
	Params int `yaml:"params"`
}

var (
	templateName     = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLanguage = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
	wabaID           = regexp.MustCompile(`^[0-9]{1,30}$`)
	placeholder      = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
)

// validate reports the problems of template t.
func (t Template) validate() error {
	var errs []error
	if !templateName.MatchString(t.Name) {
		errs = append(errs, fmt.Errorf("name %q: want lowercase letters, digits and underscores", t.Name))
	}
	if !templateLanguage.MatchString(t.Language) {
		errs = append(errs, fmt.Errorf("language %q: want a language code such as it or en_US", t.Language))
	}
	if strings.TrimSpace(t.Body) == "" {
		errs = append(errs, errors.New("body is required"))
	} else if n := utf8.RuneCountInString(t.Body); n > 1024 {
		errs = append(errs, fmt.Errorf("body has %d characters; WhatsApp takes at most 1024", n))
	}
	seen := map[int]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(t.Body, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > t.Params {
			errs = append(errs, fmt.Errorf("body placeholder %s: want {{1}} to {{%d}} (params: %d)", m[0], max(t.Params, 1), t.Params))
			continue
		}
		seen[n] = true
	}
	if t.Params < 0 || t.Params > 100 {
		errs = append(errs, fmt.Errorf("params %d: want 0 to 100", t.Params))
	} else if len(errs) == 0 && len(seen) != t.Params {
		errs = append(errs, fmt.Errorf("params is %d but the body has %d distinct placeholders", t.Params, len(seen)))
	}
	return errors.Join(errs...)
}

// ErrTemplate: a template reply that does not match an approved template
// of the channel (unknown name, wrong number of parameters).
var ErrTemplate = errors.New("not an approved message template")

// Fill returns t's body with params in place of its placeholders; an
// error wrapping ErrTemplate when the count differs or a parameter is
// empty or unusable (WhatsApp refuses new lines, tabs and more than four
// consecutive spaces in parameters).
func (t Template) Fill(params []string) (string, error) {
	if len(params) != t.Params {
		return "", fmt.Errorf("%w: template %q takes %d parameters, got %d", ErrTemplate, t.Name, t.Params, len(params))
	}
	for i, p := range params {
		switch {
		case strings.TrimSpace(p) == "":
			return "", fmt.Errorf("%w: parameter %d of template %q is empty", ErrTemplate, i+1, t.Name)
		case strings.ContainsAny(p, "\n\r\t") || strings.Contains(p, "     "):
			return "", fmt.Errorf("%w: parameter %d of template %q has a new line, a tab or more than four spaces in a row", ErrTemplate, i+1, t.Name)
		case utf8.RuneCountInString(p) > 1024:
			return "", fmt.Errorf("%w: parameter %d of template %q is longer than 1024 characters", ErrTemplate, i+1, t.Name)
		}
	}
	return placeholder.ReplaceAllStringFunc(t.Body, func(s string) string {
		n, _ := strconv.Atoi(placeholder.FindStringSubmatch(s)[1]) // checked by validate
		return params[n-1]
	}), nil
}

// Template returns the approved template name of the channel.
func (c Config) Template(name string) (Template, bool) {
	for _, t := range c.Templates {
		if t.Name == name {
			return t, true
		}
	}
	return Template{}, false
}
