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
	"strings"
	"time"
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
	return errors.Join(errs...)
}
