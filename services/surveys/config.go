package surveys

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the "surveys" section of the server configuration.
type Config struct {
	// Disabled stops new invitations (the pages and results stay).
	Disabled bool `yaml:"disabled"`
	// Administration identifies this administration in results and
	// exports, so that several can be put side by side ("istat",
	// "comune-milano"); "sportello" when empty.
	Administration string `yaml:"administration"`
	// MinGroupSize is k: result groups with fewer responses are
	// suppressed. 10 when zero.
	MinGroupSize int `yaml:"min_group_size"`
	// LinkTTL is how long a survey link works: whole days ("30d") or a Go
	// duration; 30 days when empty.
	LinkTTL string `yaml:"link_ttl"`
	// EmailChannel is the e-mail mailbox (its name) that invites the
	// citizens of call-centre cases whose address is known; empty: they
	// are not invited.
	EmailChannel string `yaml:"email_channel"`
}

var administrationRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// AdministrationID is Administration or its default.
func (c Config) AdministrationID() string {
	if c.Administration == "" {
		return "sportello"
	}
	return c.Administration
}

// K is MinGroupSize or its default.
func (c Config) K() int {
	if c.MinGroupSize == 0 {
		return DefaultMinGroupSize
	}
	return c.MinGroupSize
}

// TTL parses LinkTTL.
func (c Config) TTL() (time.Duration, error) {
	v := strings.TrimSpace(c.LinkTTL)
	if v == "" {
		return DefaultLinkTTL, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 1 || d > 365 {
			return 0, fmt.Errorf("surveys.link_ttl %q: want whole days from 1 to 365 (\"30d\") or a duration (\"72h\")", v)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("surveys.link_ttl %q: want whole days (\"30d\") or a duration of at least 1h", v)
	}
	return d, nil
}

// Validate reports every problem of the section.
func (c Config) Validate() error {
	var errs []error
	if c.Administration != "" && !administrationRE.MatchString(c.Administration) {
		errs = append(errs, fmt.Errorf("surveys.administration %q: want lower-case letters, digits, '.', '_' or '-' (at most 64)", c.Administration))
	}
	if c.MinGroupSize < 0 || c.MinGroupSize > 1000 {
		errs = append(errs, fmt.Errorf("surveys.min_group_size %d: want 1 to 1000 (0 for the default 10)", c.MinGroupSize))
	}
	if _, err := c.TTL(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
