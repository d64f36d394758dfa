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
	// ParameterFormat is "positional" (placeholders {{1}}..{{n}}, the
	// default) or "named" ({{customer_name}}), as the template was
	// created at Meta.
	ParameterFormat string `yaml:"parameter_format"`
	// Header is the template's header, if it has one.
	Header *TemplateHeader `yaml:"header"`
	// Buttons are the template's buttons, in order.
	Buttons []TemplateButton `yaml:"buttons"`
}

// TemplateHeader is a template's header: text (with at most one
// placeholder, whose value a reply gives) or media (image, document,
// video: a reply gives the file by link or uploaded media id).
type TemplateHeader struct {
	Format string `yaml:"format"` // text, image, document, video
	Text   string `yaml:"text"`   // text headers: at most 60 characters
}

// TemplateButton is a template's button: quick_reply (a reply may give
// its payload) or url (a URL ending in {{1}} takes a suffix from the
// reply).
type TemplateButton struct {
	Type string `yaml:"type"`
	Text string `yaml:"text"`
	URL  string `yaml:"url"`
}

// BodyOnly reports whether a reply fills only positional body
// parameters (no named parameters, header or buttons).
func (t Template) BodyOnly() bool { return !t.named() && t.Header == nil && len(t.Buttons) == 0 }

// named reports whether t has named parameters.
func (t Template) named() bool { return strings.EqualFold(t.ParameterFormat, "named") }

// dynamic reports whether button b takes a parameter a reply must give.
func (b TemplateButton) dynamic() bool {
	return strings.EqualFold(b.Type, "url") && strings.HasSuffix(strings.ReplaceAll(b.URL, " ", ""), "{{1}}")
}

var (
	templateName     = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLanguage = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
	paramName        = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,99}$`)
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
	switch strings.ToLower(t.ParameterFormat) {
	case "", "positional", "named":
	default:
		errs = append(errs, fmt.Errorf("parameter_format %q: want positional or named", t.ParameterFormat))
	}
	if h := t.Header; h != nil {
		switch strings.ToLower(h.Format) {
		case "text":
			if n := len(placeholder.FindAllString(h.Text, -1)); strings.TrimSpace(h.Text) == "" || n > 1 || utf8.RuneCountInString(h.Text) > 60 {
				errs = append(errs, errors.New("header: a text header has a text of at most 60 characters with at most one placeholder"))
			}
		case "image", "document", "video":
			if h.Text != "" {
				errs = append(errs, fmt.Errorf("header: a %s header has no text", h.Format))
			}
		default:
			errs = append(errs, fmt.Errorf("header format %q: want text, image, document or video", h.Format))
		}
	}
	if len(t.Buttons) > 10 {
		errs = append(errs, fmt.Errorf("%d buttons: WhatsApp takes at most 10", len(t.Buttons)))
	}
	for i, b := range t.Buttons {
		switch strings.ToLower(b.Type) {
		case "quick_reply", "url":
		default:
			errs = append(errs, fmt.Errorf("buttons[%d]: type %q: want quick_reply or url", i, b.Type))
		}
	}
	if t.named() {
		names := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(t.Body, -1) {
			if !paramName.MatchString(m[1]) {
				errs = append(errs, fmt.Errorf("body placeholder %s: want a name of lowercase letters, digits and underscores", m[0]))
			}
			names[m[1]] = true
		}
		if t.Params < 0 || t.Params > 100 || (len(errs) == 0 && len(names) != t.Params) {
			errs = append(errs, fmt.Errorf("params is %d but the body has %d distinct placeholders", t.Params, len(names)))
		}
		return errors.Join(errs...)
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

// TemplateArgs are a reply's parameters for a template.
type TemplateArgs struct {
	Params []string          // body, positional
	Named  map[string]string // body, named
	// Header: text for a text header's placeholder; a media header's
	// file by Link (https) or uploaded media ID, with a document's FileName.
	HeaderText, HeaderLink, HeaderID, HeaderFileName string
	Buttons                                          []string // by button position
}

// Fill returns t's body with positional params in place of its
// placeholders (Render with only those).
func (t Template) Fill(params []string) (string, error) {
	return t.Render(TemplateArgs{Params: params})
}

// checkParam applies WhatsApp's rules on a text parameter: not empty, no
// new line or tab, no more than four spaces in a row, at most max
// characters.
func (t Template) checkParam(what, p string, max int) error {
	switch {
	case strings.TrimSpace(p) == "":
		return fmt.Errorf("%w: %s of template %q is empty", ErrTemplate, what, t.Name)
	case strings.ContainsAny(p, "\n\r\t") || strings.Contains(p, "     "):
		return fmt.Errorf("%w: %s of template %q has a new line, a tab or more than four spaces in a row", ErrTemplate, what, t.Name)
	case utf8.RuneCountInString(p) > max:
		return fmt.Errorf("%w: %s of template %q is longer than %d characters", ErrTemplate, what, t.Name, max)
	}
	return nil
}

// Render checks a reply's arguments against t and returns the text the
// citizen reads (the header's text, if any, then the body), for the
// record; an error wrapping ErrTemplate when they do not fit.
func (t Template) Render(a TemplateArgs) (string, error) {
	if t.named() {
		if len(a.Params) > 0 || len(a.Named) != t.Params {
			return "", fmt.Errorf("%w: template %q takes %d named parameters, got %d named and %d positional", ErrTemplate, t.Name, t.Params, len(a.Named), len(a.Params))
		}
		for _, m := range placeholder.FindAllStringSubmatch(t.Body, -1) {
			v, ok := a.Named[m[1]]
			if !ok {
				return "", fmt.Errorf("%w: template %q needs the parameter %q", ErrTemplate, t.Name, m[1])
			}
			if err := t.checkParam("parameter "+m[1], v, 1024); err != nil {
				return "", err
			}
		}
	} else {
		if len(a.Named) > 0 || len(a.Params) != t.Params {
			return "", fmt.Errorf("%w: template %q takes %d parameters, got %d", ErrTemplate, t.Name, t.Params, len(a.Params)+len(a.Named))
		}
		for i, p := range a.Params {
			if err := t.checkParam(fmt.Sprintf("parameter %d", i+1), p, 1024); err != nil {
				return "", err
			}
		}
	}
	header, err := t.renderHeader(a)
	if err != nil {
		return "", err
	}
	if len(a.Buttons) > len(t.Buttons) {
		return "", fmt.Errorf("%w: template %q has %d buttons, got %d button parameters", ErrTemplate, t.Name, len(t.Buttons), len(a.Buttons))
	}
	for i, b := range t.Buttons {
		v := ""
		if i < len(a.Buttons) {
			v = a.Buttons[i]
		}
		switch {
		case b.dynamic() && v == "":
			return "", fmt.Errorf("%w: button %d of template %q (a URL) needs its suffix", ErrTemplate, i+1, t.Name)
		case strings.EqualFold(b.Type, "url") && !b.dynamic() && v != "":
			return "", fmt.Errorf("%w: button %d of template %q has a fixed URL and takes no parameter", ErrTemplate, i+1, t.Name)
		case v != "":
			if err := t.checkParam(fmt.Sprintf("button %d", i+1), v, 128); err != nil {
				return "", err
			}
		}
	}
	body := placeholder.ReplaceAllStringFunc(t.Body, func(s string) string {
		m := placeholder.FindStringSubmatch(s)[1]
		if t.named() {
			return a.Named[m]
		}
		n, _ := strconv.Atoi(m) // checked by validate
		return a.Params[n-1]
	})
	if header != "" {
		return header + "\n\n" + body, nil
	}
	return body, nil
}

// renderHeader checks the header's argument and returns its text ("" for
// media or no header).
func (t Template) renderHeader(a TemplateArgs) (string, error) {
	media := a.HeaderLink != "" || a.HeaderID != ""
	h := t.Header
	if h == nil {
		if media || a.HeaderText != "" {
			return "", fmt.Errorf("%w: template %q has no header", ErrTemplate, t.Name)
		}
		return "", nil
	}
	if strings.EqualFold(h.Format, "text") {
		if media {
			return "", fmt.Errorf("%w: template %q has a text header, not a file", ErrTemplate, t.Name)
		}
		if !placeholder.MatchString(h.Text) {
			if a.HeaderText != "" {
				return "", fmt.Errorf("%w: the header of template %q takes no parameter", ErrTemplate, t.Name)
			}
			return h.Text, nil
		}
		if err := t.checkParam("the header parameter", a.HeaderText, 60); err != nil {
			return "", err
		}
		return placeholder.ReplaceAllLiteralString(h.Text, a.HeaderText), nil
	}
	switch {
	case a.HeaderText != "":
		return "", fmt.Errorf("%w: template %q has a %s header, not text", ErrTemplate, t.Name, strings.ToLower(h.Format))
	case (a.HeaderLink == "") == (a.HeaderID == ""):
		return "", fmt.Errorf("%w: the %s header of template %q needs its file by link or by media id (one of them)", ErrTemplate, strings.ToLower(h.Format), t.Name)
	case a.HeaderID != "" && !wabaID.MatchString(a.HeaderID):
		return "", fmt.Errorf("%w: media id %.40q is not a WhatsApp media id", ErrTemplate, a.HeaderID)
	case a.HeaderLink != "":
		u, err := url.Parse(a.HeaderLink)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return "", fmt.Errorf("%w: the header's link must be an https URL", ErrTemplate)
		}
	}
	if a.HeaderFileName != "" && !strings.EqualFold(h.Format, "document") {
		return "", fmt.Errorf("%w: only a document header has a file name", ErrTemplate)
	}
	return "", nil
}

// components are the Cloud API's template components for a (checked by
// Render): header, body and button parameters.
func (t Template) components(a TemplateArgs) []map[string]any {
	var out []map[string]any
	if h := t.Header; h != nil {
		switch f := strings.ToLower(h.Format); {
		case f == "text" && a.HeaderText != "":
			p := map[string]any{"type": "text", "text": a.HeaderText}
			if t.named() {
				p["parameter_name"] = placeholder.FindStringSubmatch(h.Text)[1]
			}
			out = append(out, map[string]any{"type": "header", "parameters": []any{p}})
		case f != "text":
			media := map[string]any{}
			if a.HeaderID != "" {
				media["id"] = a.HeaderID
			} else {
				media["link"] = a.HeaderLink
			}
			if f == "document" && a.HeaderFileName != "" {
				media["filename"] = a.HeaderFileName
			}
			out = append(out, map[string]any{"type": "header", "parameters": []any{map[string]any{"type": f, f: media}}})
		}
	}
	var body []any
	if t.named() {
		seen := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(t.Body, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				body = append(body, map[string]any{"type": "text", "parameter_name": m[1], "text": a.Named[m[1]]})
			}
		}
	} else {
		for _, p := range a.Params {
			body = append(body, map[string]any{"type": "text", "text": p})
		}
	}
	if len(body) > 0 {
		out = append(out, map[string]any{"type": "body", "parameters": body})
	}
	for i, b := range t.Buttons {
		if i >= len(a.Buttons) || a.Buttons[i] == "" {
			continue
		}
		p := map[string]any{"type": "payload", "payload": a.Buttons[i]}
		sub := "quick_reply"
		if strings.EqualFold(b.Type, "url") {
			p, sub = map[string]any{"type": "text", "text": a.Buttons[i]}, "url"
		}
		out = append(out, map[string]any{"type": "button", "sub_type": sub, "index": strconv.Itoa(i), "parameters": []any{p}})
	}
	return out
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
