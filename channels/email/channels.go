package email

import (
	"github.com/sportello/sportello/channels"
)

// Health keeps each mailbox's channels.Monitor: the Receiver and the
// Replier report into it, and Mailboxes lists them as channel instances.
type Health struct {
	cfg      Config
	monitors map[string]*channels.Monitor
}

// NewHealth returns the health of cfg's mailboxes.
func NewHealth(cfg Config) *Health {
	h := &Health{cfg: cfg, monitors: map[string]*channels.Monitor{}}
	for _, mb := range cfg.Mailboxes {
		h.monitors[mb.Name] = &channels.Monitor{}
	}
	return h
}

// monitor returns the mailbox's monitor, or one nobody lists (a nil
// Health, an unknown mailbox).
func (h *Health) monitor(mailbox string) *channels.Monitor {
	if h != nil {
		if m := h.monitors[mailbox]; m != nil {
			return m
		}
	}
	return &channels.Monitor{}
}

// Mailboxes lists the mailboxes as channel instances.
func (h *Health) Mailboxes() []channels.Adapter {
	var out []channels.Adapter
	for _, mb := range h.cfg.Mailboxes {
		var caps []string
		if h.cfg.Listener.Listen != "" {
			caps = append(caps, "listener")
		}
		if mb.IMAP != nil {
			caps = append(caps, "poller")
		}
		if mb.SMTP != nil {
			caps = append(caps, "replier")
		}
		out = append(out, &mailboxChannel{Monitor: h.monitors[mb.Name], name: mb.Name, caps: caps})
	}
	return out
}

// mailboxChannel is a mailbox as a listed channel instance: its polling,
// listening and sending run in the Receiver, Listener and Replier.
type mailboxChannel struct {
	*channels.Monitor
	name string
	caps []string
}

func (m *mailboxChannel) Kind() string           { return Kind }
func (m *mailboxChannel) ID() string             { return m.name }
func (m *mailboxChannel) Capabilities() []string { return m.caps }

// Close does nothing: the e-mail listener and poller are stopped by the
// server's shutdown.
func (m *mailboxChannel) Close() error { return nil }
