package cti

import (
	"errors"
	"fmt"
	"regexp"
)

// Settings is the "cti" section of the configuration file.
type Settings struct {
	Channels []ChannelSettings `yaml:"channels"`
}

// ChannelSettings configures one PBX.
type ChannelSettings struct {
	// ID names the channel in the webhook's URL
	// (/v1/channels/cti/<id>) and in cases' origin.
	ID string `yaml:"id"`
	// Secret is the HMAC key shared with the PBX, at least 32 bytes.
	Secret string `yaml:"secret"`
	// CallerID is the number answered to an outbound newCall, to present
	// to the called party.
	CallerID string `yaml:"caller_id"`
	// Queues maps the PBX's queue names to department ids; a queue not
	// listed routes by the routing rules (IVR choice), else to triage.
	Queues map[string]string `yaml:"queues"`
	// ReplyMailbox names the e-mail mailbox (email.mailboxes[].name)
	// replies on this channel's cases are sent from, to citizens with an
	// e-mail address; empty refuses replies (a callback case instead).
	ReplyMailbox string `yaml:"reply_mailbox"`
}

var channelID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate reports every problem of the section.
func (s Settings) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, c := range s.Channels {
		where := fmt.Sprintf("cti.channels[%d]", i)
		if !channelID.MatchString(c.ID) {
			errs = append(errs, fmt.Errorf("%s.id %q: want 1 to 64 lower-case letters, digits, - and _", where, c.ID))
		}
		if seen[c.ID] {
			errs = append(errs, fmt.Errorf("%s.id %q: used twice", where, c.ID))
		}
		seen[c.ID] = true
		if len(c.Secret) < MinSecretBytes {
			errs = append(errs, fmt.Errorf("%s.secret: at least %d bytes (openssl rand -hex 32)", where, MinSecretBytes))
		}
		if c.CallerID != "" {
			if _, err := number("caller_id", c.CallerID, true); err != nil || c.CallerID == Anonymous {
				errs = append(errs, fmt.Errorf("%s.caller_id %q: want a telephone number", where, c.CallerID))
			}
		}
		for q, d := range c.Queues {
			if q == "" || d == "" {
				errs = append(errs, fmt.Errorf("%s.queues: %q → %q: queue and department must not be empty", where, q, d))
			}
		}
	}
	return errors.Join(errs...)
}

// Normalised returns the caller id as answered: "+" and digits.
func (c ChannelSettings) Normalised() string {
	n, _ := number("caller_id", c.CallerID, false)
	return n
}
