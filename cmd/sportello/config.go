package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/devidp"
	"github.com/sportello/sportello/auth/session"
	"github.com/sportello/sportello/auth/spid"
	"github.com/sportello/sportello/auth/staffsso"
	"github.com/sportello/sportello/channels/cti"
	"github.com/sportello/sportello/channels/email"
	"github.com/sportello/sportello/services/attachments"
	"github.com/sportello/sportello/services/follow"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/sla"
	"github.com/sportello/sportello/services/surveys"
)

// Config is the whole configuration. Precedence: flags, then SPORTELLO_*
// environment variables, then the YAML file, then defaults.
type Config struct {
	Listen string `yaml:"listen"`
	// PublicURL is the address browsers and identity providers reach
	// this server at ("https://sportello.comune.example"); empty means
	// http://<listen address>, right only for development.
	PublicURL string `yaml:"public_url"`
	DataDir   string `yaml:"data_dir"`
	LogLevel  string `yaml:"log_level"`
	Timezone  string `yaml:"timezone"`
	Demo      *bool  `yaml:"demo"`
	// demoPolicy, when set, replaces the demo departments' assignment
	// policies (tests that need cases to stay unassigned).
	demoPolicy string
	// socialBackoff replaces the social channels' retry schedule (tests).
	socialBackoff []time.Duration
	// healthInterval replaces channelHealthInterval (tests).
	healthInterval time.Duration
	// replyClock replaces the clock of the reply-window check (tests).
	replyClock func() time.Time
	// followClock replaces the clock of follow links and their request
	// limits (tests: the limits count per clock hour).
	followClock func() time.Time
	// smtpListen is --smtp-listen, applied once the email section is known.
	smtpListen  *string
	Database    Database    `yaml:"database"`
	NATS        NATS        `yaml:"nats"`
	Auth        Auth        `yaml:"auth"`
	SLA         SLA         `yaml:"sla"`
	Intake      Intake      `yaml:"intake"`
	Attachments Attachments `yaml:"attachments"`
	// SPID configures citizens' login with SPID and CIE (auth/spid); an
	// empty section leaves it off.
	SPID spid.Config `yaml:"spid"`
	// Email configures the e-mail channel (channels/email); with demo data
	// and no section, the demo mailboxes and a listener on 127.0.0.1:2525.
	Email email.Config `yaml:"email"`
	// Surveys configures the anonymous satisfaction survey
	// (services/surveys).
	Surveys surveys.Config `yaml:"surveys"`
	// Channels are the social channel instances (WhatsApp numbers,
	// Messenger pages, Instagram accounts, Telegram bots): {type, id,
	// config} each; see channels.go.
	Channels []ChannelEntry `yaml:"channels"`
	// CTI configures the call-centre webhook (channels/cti); no channels
	// leaves it off.
	CTI cti.Settings `yaml:"cti"`
	// Web configures the pages (web/).
	Web Web `yaml:"web"`
}

// Web configures the citizen portal's pages.
type Web struct {
	// Organization is the administration's name in the page header
	// ("Comune di Esempio"); "Sportello" when empty.
	Organization string `yaml:"organization"`
	// PrivacyURL and AccessibilityURL are the privacy notice and the
	// accessibility statement every page's footer links to: absolute
	// http(s) URLs or paths on this server. A link left empty is not shown.
	PrivacyURL       string `yaml:"privacy_url"`
	AccessibilityURL string `yaml:"accessibility_url"`
	// ReplyMailbox is the e-mail mailbox (its name) staff replies to
	// web-form and portal requests go out from, to the address the
	// citizen gave; default the first mailbox of the email section.
	ReplyMailbox string `yaml:"reply_mailbox"`
	// Follow configures the links that let a citizen without a login
	// follow one request (/follow, services/follow).
	Follow FollowLinks `yaml:"follow"`
	// Acknowledgement sends an e-mail acknowledgement of each web-form
	// request that gave an address, from the reply mailbox: the
	// reference, when to expect an answer and a follow link. By default
	// on when the reply mailbox has an SMTP submission to send it with
	// (so not in the embedded demo, whose mailboxes cannot send: each
	// acknowledgement would only fail); true or false decides.
	Acknowledgement *bool `yaml:"acknowledgement"`
}

// acknowledgesWebForms reports whether web-form requests are
// acknowledged by e-mail (web.acknowledgement).
func (c Config) acknowledgesWebForms() bool {
	if c.Web.Acknowledgement != nil {
		return *c.Web.Acknowledgement
	}
	name := c.webReplyMailbox()
	for _, mb := range c.Email.Mailboxes {
		if mb.Name == name {
			return c.Email.Enabled() && mb.SMTP != nil
		}
	}
	return false
}

// FollowLinks configures the follow links; zero values take the defaults.
type FollowLinks struct {
	// LinkTTL is how long a link is valid ("168h", the default); at most
	// 30 days.
	LinkTTL string `yaml:"link_ttl"`
	// PerAddress and PerClient bound the link requests per hour for one
	// e-mail address (default 3) and one client IP address (default 20).
	PerAddress int `yaml:"per_address"`
	PerClient  int `yaml:"per_client"`
}

// ttl is the links' validity; DefaultTTL when unset.
func (f FollowLinks) ttl() (time.Duration, error) {
	if f.LinkTTL == "" {
		return follow.DefaultTTL, nil
	}
	d, err := time.ParseDuration(f.LinkTTL)
	if err != nil || d < time.Hour || d > 30*24*time.Hour {
		return 0, fmt.Errorf("web.follow.link_ttl: %q is not a duration between 1h and 720h", f.LinkTTL)
	}
	return d, nil
}

// validate reports the problems of the section.
func (w Web) validate() []error {
	var errs []error
	if _, err := w.Follow.ttl(); err != nil {
		errs = append(errs, err)
	}
	if w.Follow.PerAddress < 0 || w.Follow.PerClient < 0 {
		errs = append(errs, fmt.Errorf("web.follow: per_address and per_client must not be negative"))
	}
	for key, v := range map[string]string{"web.privacy_url": w.PrivacyURL, "web.accessibility_url": w.AccessibilityURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http" && !(u.Scheme == "" && u.Host == "" && strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//"))) {
			errs = append(errs, fmt.Errorf("%s: %q is neither an http(s) URL nor a path starting with /", key, v))
		}
	}
	return errs
}

// Intake configures how inbound contacts become cases.
type Intake struct {
	// ReopenWindow: a citizen's reply this long after a case was resolved
	// or closed reopens it; a later one opens a new case linked to it.
	// Days ("14d") or a Go duration ("36h"); "" means 14d, "0" never
	// reopens.
	ReopenWindow string `yaml:"reopen_window"`

	now func() time.Time // tests only; time.Now when nil
}

// reopenWindow parses ReopenWindow.
func (i Intake) reopenWindow() (time.Duration, error) {
	v := strings.TrimSpace(i.ReopenWindow)
	switch {
	case v == "":
		return intake.DefaultReopenWindow, nil
	case v == "0":
		return 0, nil
	case strings.HasSuffix(v, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("intake.reopen_window %q: want whole days from 0 to 3650 (\"14d\") or a duration (\"36h\")", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("intake.reopen_window %q: want whole days (\"14d\") or a duration (\"36h\")", v)
	}
	return d, nil
}

// Attachments configures the files of case messages.
type Attachments struct {
	// Dir holds the content-addressed files; empty means
	// <data_dir>/attachments. Replicas must share it (a ReadWriteMany
	// volume): any of them may serve a download.
	Dir string `yaml:"dir"`
	// MaxSize is the limit per file, in bytes or with a unit ("25MiB",
	// "512KiB", "10MB"); 0 means 25 MiB.
	MaxSize ByteSize `yaml:"max_size"`
	// AllowedTypes replaces the default list of media types accepted, as
	// detected from the content (see services/attachments.DefaultAllowed).
	AllowedTypes []string `yaml:"allowed_types"`
}

// maxAttachmentSize bounds attachments.max_size: a gRPC upload is one
// message held in memory.
const maxAttachmentSize = 1 << 30

// policy is the blob store's policy.
func (a Attachments) policy() attachments.Policy {
	return attachments.Policy{MaxSize: int64(a.MaxSize), Allowed: a.AllowedTypes}
}

// dir is where the blobs live.
func (c Config) attachmentsDir() string {
	if c.Attachments.Dir != "" {
		return c.Attachments.Dir
	}
	return filepath.Join(c.DataDir, "attachments")
}

// ByteSize is a size in bytes, written as a number or with a unit.
type ByteSize int64

// UnmarshalYAML reads 26214400, "25MiB" or "25 MiB".
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

func parseByteSize(s string) (ByteSize, error) {
	n, err := attachments.ParseSize(s)
	return ByteSize(n), err
}

// SLA configures the business calendar and warnings. Working hours are
// Monday to Friday 09:00–13:00 and 14:00–17:00 on Italian public holidays'
// calendar.
type SLA struct {
	// WarnAt is the share of a target after which a warning is sent; 0
	// means 0.8.
	WarnAt float64 `yaml:"warn_at"`
	// LocalHolidays recur every year, as "MM-DD" ("12-07" Sant'Ambrogio).
	LocalHolidays []string `yaml:"local_holidays"`

	interval time.Duration    // tests only; the workers' defaults when zero
	now      func() time.Time // tests only; time.Now when nil
}

// localHolidays parses LocalHolidays.
func (s SLA) localHolidays() ([]sla.MonthDay, error) {
	var out []sla.MonthDay
	var errs []error
	for _, h := range s.LocalHolidays {
		t, err := time.Parse("01-02", h)
		if err != nil {
			errs = append(errs, fmt.Errorf("sla.local_holidays: %q is not MM-DD", h))
			continue
		}
		out = append(out, sla.MonthDay{Month: t.Month(), Day: t.Day()})
	}
	return out, errors.Join(errs...)
}

// Database configures storage; an empty DSN means SQLite in the data dir.
type Database struct {
	DSN string `yaml:"dsn"`
	// MaxOpenConns caps this replica's connection pool (PostgreSQL); 0
	// means 32. Replicas × this must stay below the server's max_connections.
	MaxOpenConns int `yaml:"max_open_conns"`
}

// NATS configures messaging; an empty URL means the embedded server.
type NATS struct {
	URL      string `yaml:"url"`
	Listen   string `yaml:"listen"`   // embedded server only: expose it on host:port
	Replicas int    `yaml:"replicas"` // stream replicas on a cluster
	// PublishBatch caps contacts per JetStream message (group commit);
	// 0 means 512, 1 turns group commit off.
	PublishBatch int `yaml:"publish_batch"`
}

// Auth configures API access.
type Auth struct {
	Tokens []auth.StaticToken `yaml:"tokens"`
	// StaffSSO is the administration's OpenID Provider for operators,
	// supervisors and administrators (console login and API bearer
	// tokens); empty issuer leaves it off.
	StaffSSO staffsso.Config `yaml:"staff_sso"`
	// DevIdP runs the built-in development identity provider (test
	// citizens and staff); unset means on in the embedded mode when no
	// staff_sso issuer and no spid section are configured. It refuses to
	// run with PostgreSQL or beside a real issuer.
	DevIdP *bool `yaml:"dev_idp"`
	// Sessions are the browsers' sessions.
	Sessions Sessions `yaml:"sessions"`
}

// Sessions configures web sessions (auth/session).
type Sessions struct {
	// IdleTimeout ends a session unused this long (default 30m);
	// AbsoluteTimeout ends any session this long after sign-in (12h).
	IdleTimeout     string `yaml:"idle_timeout"`
	AbsoluteTimeout string `yaml:"absolute_timeout"`
}

func (s Sessions) timeouts() (idle, absolute time.Duration, err error) {
	parse := func(name, v string, def time.Duration) (time.Duration, error) {
		if v == "" {
			return def, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 30*24*time.Hour {
			return 0, fmt.Errorf("auth.sessions.%s %q: want a duration from 1m to 720h (\"30m\")", name, v)
		}
		return d, nil
	}
	if idle, err = parse("idle_timeout", s.IdleTimeout, session.DefaultIdleTimeout); err != nil {
		return
	}
	if absolute, err = parse("absolute_timeout", s.AbsoluteTimeout, session.DefaultAbsoluteTimeout); err != nil {
		return
	}
	if idle > absolute {
		err = fmt.Errorf("auth.sessions: idle_timeout %s is longer than absolute_timeout %s", idle, absolute)
	}
	return
}

// Embedded reports whether this is the embedded default (no external
// database or NATS): the mode with demo data and the development token.
func (c Config) Embedded() bool { return c.Database.DSN == "" && c.NATS.URL == "" }

// DemoData reports whether demo departments and categories are seeded.
func (c Config) DemoData() bool {
	if c.Demo != nil {
		return *c.Demo
	}
	return c.Embedded()
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want host:port", c.Listen))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must not be empty"))
	}
	errs = append(errs, c.Web.validate()...)
	if mb := c.Web.ReplyMailbox; mb != "" && !slices.ContainsFunc(c.Email.Mailboxes, func(m email.Mailbox) bool { return m.Name == mb }) {
		errs = append(errs, fmt.Errorf("web.reply_mailbox %q: no e-mail mailbox has that name", mb))
	}
	if c.NATS.Listen != "" {
		if c.NATS.URL != "" {
			errs = append(errs, errors.New("nats.listen applies to the embedded server only; unset it or nats.url"))
		} else if _, _, err := net.SplitHostPort(c.NATS.Listen); err != nil {
			errs = append(errs, fmt.Errorf("nats.listen %q: want host:port", c.NATS.Listen))
		}
	}
	if c.NATS.URL != "" && c.Database.DSN == "" {
		// Stateless replicas on a NATS cluster must share one database; a
		// silent SQLite fallback would give each its own, and lose it.
		errs = append(errs, errors.New("nats.url is set but database.dsn is not: set database.dsn (PostgreSQL, or an SQLite path on purpose) or unset nats.url for the embedded mode"))
	}
	if c.Database.MaxOpenConns < 0 {
		errs = append(errs, fmt.Errorf("database.max_open_conns %d: must not be negative", c.Database.MaxOpenConns))
	}
	if c.NATS.PublishBatch < 0 || c.NATS.PublishBatch > 512 {
		errs = append(errs, fmt.Errorf("nats.publish_batch %d: want 1 to 512 (0 for the default)", c.NATS.PublishBatch))
	}
	if c.NATS.Replicas < 0 || c.NATS.Replicas > 5 {
		errs = append(errs, fmt.Errorf("nats.replicas %d: want 1 to 5", c.NATS.Replicas))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("timezone %q: %v", c.Timezone, err))
	}
	if c.SLA.WarnAt < 0 || c.SLA.WarnAt > 1 {
		errs = append(errs, fmt.Errorf("sla.warn_at %v: want a fraction between 0 and 1", c.SLA.WarnAt))
	}
	if _, err := c.SLA.localHolidays(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Intake.reopenWindow(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := c.Auth.Sessions.timeouts(); err != nil {
		errs = append(errs, err)
	}
	if c.devIdPOn() {
		if err := devidp.CheckEmbedded(c.Database.DSN, c.configuredIssuers()...); err != nil {
			errs = append(errs, fmt.Errorf("auth.dev_idp: %w", err))
		}
	}
	if _, err := auth.NewStaticTokens(c.Auth.Tokens); err != nil {
		errs = append(errs, err)
	}
	if c.Attachments.MaxSize > maxAttachmentSize {
		errs = append(errs, fmt.Errorf("attachments.max_size %s: at most %s", attachments.FormatSize(int64(c.Attachments.MaxSize)), attachments.FormatSize(maxAttachmentSize)))
	}
	if err := c.Attachments.policy().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.SPID.Enabled() {
		if err := c.SPID.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Email.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Surveys.Validate(); err != nil {
		errs = append(errs, err)
	}
	if ch := c.Surveys.EmailChannel; ch != "" && !slices.ContainsFunc(c.Email.Mailboxes, func(m email.Mailbox) bool { return m.Name == ch }) {
		errs = append(errs, fmt.Errorf("surveys.email_channel %q: no e-mail mailbox has that name", ch))
	}
	if err := c.validateChannels(); err != nil {
		errs = append(errs, err)
	}
	if err := c.CTI.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, ch := range c.CTI.Channels {
		if ch.ReplyMailbox != "" && !slices.ContainsFunc(c.Email.Mailboxes, func(m email.Mailbox) bool { return m.Name == ch.ReplyMailbox }) {
			errs = append(errs, fmt.Errorf("cti.channels %q: reply_mailbox %q is not a mailbox of the email section", ch.ID, ch.ReplyMailbox))
		}
	}
	return errors.Join(errs...)
}

// publicURL is PublicURL, or the listening address over http.
func (c Config) publicURL(addr string) string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + addr
}

func defaults() Config {
	return Config{Listen: "127.0.0.1:8080", DataDir: "./data", LogLevel: "info", Timezone: "Europe/Rome"}
}

// setting is one option that a flag and an environment variable can set.
type setting struct {
	flag, env, usage string
	set              func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

var settings = []setting{
	{"listen", "SPORTELLO_LISTEN", "address for gRPC, REST and web (host:port)", str(func(c *Config) *string { return &c.Listen })},
	{"data-dir", "SPORTELLO_DATA_DIR", "directory for the SQLite file, the embedded JetStream store and attachments", str(func(c *Config) *string { return &c.DataDir })},
	{"database-dsn", "SPORTELLO_DATABASE_DSN", "PostgreSQL DSN (postgres://...); empty uses SQLite in the data dir", str(func(c *Config) *string { return &c.Database.DSN })},
	{"nats-url", "SPORTELLO_NATS_URL", "NATS cluster URLs (nats://a:4222,nats://b:4222); empty runs NATS embedded", str(func(c *Config) *string { return &c.NATS.URL })},
	{"nats-listen", "SPORTELLO_NATS_LISTEN", "embedded NATS only: also listen on host:port (default: in-process only)", str(func(c *Config) *string { return &c.NATS.Listen })},
	{"log-level", "SPORTELLO_LOG_LEVEL", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel })},
	{"timezone", "SPORTELLO_TIMEZONE", "time zone of the administration (case reference years, business hours)", str(func(c *Config) *string { return &c.Timezone })},
	{"reopen-window", "SPORTELLO_REOPEN_WINDOW", "how long after a case is resolved or closed a citizen's reply reopens it (\"14d\", \"36h\"; \"0\" never)", str(func(c *Config) *string { return &c.Intake.ReopenWindow })},
	{"attachments-dir", "SPORTELLO_ATTACHMENTS_DIR", "directory of attachment files, shared by all replicas (default: <data-dir>/attachments)", str(func(c *Config) *string { return &c.Attachments.Dir })},
	{"attachments-max-size", "SPORTELLO_ATTACHMENTS_MAX_SIZE", "largest attachment accepted, in bytes or with a unit such as 25MiB (default 25MiB)", func(c *Config, v string) error {
		n, err := parseByteSize(v)
		c.Attachments.MaxSize = n
		return err
	}},
	{"attachments-allowed-types", "SPORTELLO_ATTACHMENTS_ALLOWED_TYPES", "comma-separated media types accepted as attachments, detected from the content (default: PDF, PNG, JPEG, GIF, WebP, plain text, CSV, DOCX, XLSX, ODT, ODS)", func(c *Config, v string) error {
		c.Attachments.AllowedTypes = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Attachments.AllowedTypes = append(c.Attachments.AllowedTypes, t)
			}
		}
		return nil
	}},
	{"smtp-listen", "SPORTELLO_SMTP_LISTEN", "address of the inbound SMTP listener of the e-mail channel (host:port; \"off\" for none; default 127.0.0.1:2525 with demo data)", func(c *Config, v string) error {
		c.smtpListen = &v
		return nil
	}},
	{"demo", "SPORTELLO_DEMO", "seed demo departments and categories (default: only in the embedded mode)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		c.Demo = &b
		return nil
	}},
}

// loadConfig reads file, environment and flags (args without the command).
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	configPath := fs.String("config", getenv("SPORTELLO_CONFIG"), "YAML configuration file (env SPORTELLO_CONFIG)")
	flagVals := make(map[string]*string, len(settings))
	for _, s := range settings {
		flagVals[s.flag] = fs.String(s.flag, "", s.usage+" (env "+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	cfg := defaults()
	if *configPath != "" {
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config file %s: %w", *configPath, err)
		}
	}
	var errs []error
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := s.set(&cfg, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.env, err))
			}
		}
	}
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.flag == f.Name {
				if err := s.set(&cfg, *flagVals[s.flag]); err != nil {
					errs = append(errs, fmt.Errorf("--%s: %w", s.flag, err))
				}
			}
		}
	})
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	cfg.applyEmailDefaults()
	return cfg, cfg.Validate()
}

// applyEmailDefaults gives the demo its mailboxes when the configuration
// has no email section, and applies --smtp-listen.
func (c *Config) applyEmailDefaults() {
	if c.DemoData() && !c.Email.Enabled() && len(c.Email.Mailboxes) == 0 && c.Email.Domain == "" {
		c.Email = email.Demo()
	}
	if c.smtpListen != nil {
		c.Email.Listener.Listen = *c.smtpListen
		if *c.smtpListen == "off" {
			c.Email.Listener.Listen = ""
		}
	}
}

// workerInterval is how often the SLA timer and the auto-assigner run
// (their defaults when zero), or what a test sets.
func (c Config) workerInterval() time.Duration { return c.SLA.interval }

// intakeNow is intake's clock: the real one, or a test's.
func (c Config) intakeNow() func() time.Time {
	if c.Intake.now == nil {
		return time.Now
	}
	return c.Intake.now
}

// slaNow is the SLA timer's clock: the real one, or a test's.
func (c Config) slaNow() func() time.Time { return c.SLA.now }

// replyNow is the clock of the reply-window check.
func (c Config) replyNow() func() time.Time {
	if c.replyClock != nil {
		return c.replyClock
	}
	return time.Now
}
