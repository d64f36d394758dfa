package email

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sportello/sportello/services/attachments"
)

// Config is the e-mail channel's section of Sportello's configuration.
type Config struct {
	// Domain is ours: the right side of the Message-IDs of the messages
	// Sportello sends ("comune.example.it").
	Domain string `yaml:"domain"`
	// Listener is the inbound SMTP (or LMTP) server an MTA delivers to.
	Listener ListenerConfig `yaml:"smtp_listener"`
	// SubjectThreading: a message from the same sender with the same
	// normalised subject joins a case of theirs active within this many
	// days ("7d"), when no reference tag or threading header matched. ""
	// means 7d; "0" turns it off.
	SubjectThreading string `yaml:"subject_threading"`
	// Acknowledgement configures the automatic acknowledgement of new
	// cases (each mailbox turns it on or off).
	Acknowledgement Acknowledgement `yaml:"acknowledgement"`
	// Outbound configures the sending of replies.
	Outbound Outbound `yaml:"outbound"`
	// AllowedTypes are the attachment types kept, as detected from the
	// content: the attachments section's list (or its default) when
	// empty, always with forwarded messages (message/rfc822) and calendar
	// invitations (text/calendar) added.
	AllowedTypes []string  `yaml:"allowed_types"`
	Mailboxes    []Mailbox `yaml:"mailboxes"`
}

// ListenerConfig configures the inbound SMTP server.
type ListenerConfig struct {
	// Listen is host:port; "" runs no listener.
	Listen string `yaml:"listen"`
	// MaxSize is the largest message accepted (announced with SIZE); 0
	// means 25 MiB.
	MaxSize Size `yaml:"max_size"`
	// LMTP speaks LMTP (RFC 2033) instead of SMTP, for an MTA's local
	// delivery agent.
	LMTP bool `yaml:"lmtp"`
	// CertFile and KeyFile, when set, offer STARTTLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Acknowledgement configures the acknowledgement of new cases.
type Acknowledgement struct {
	// Templates replace the built-in text per department and language:
	// templates[<department id or "default">][<"it" or "en">] is a Go
	// text/template given .Reference, .Subject, .Name and .Department.
	Templates map[string]map[string]string `yaml:"templates"`
	// At most Limit acknowledgements per citizen within Window ("24h");
	// 0 and "" mean 5 per 24h.
	Limit  int    `yaml:"limit"`
	Window string `yaml:"window"`
}

// Outbound configures the replier.
type Outbound struct {
	// Backoff is the retry schedule of a reply the server deferred
	// (["30s", "2m", ...]); empty for the default, up to 2 hours.
	Backoff []string `yaml:"backoff"`
}

// Mailbox is one address citizens write to: a channel instance whose name
// is the channel id of its cases.
type Mailbox struct {
	Name        string `yaml:"name"`
	Address     string `yaml:"address"`
	DisplayName string `yaml:"display_name"`
	// Aliases are other addresses the listener accepts for this mailbox.
	Aliases []string `yaml:"aliases"`
	// Acknowledgement sends the automatic acknowledgement of new cases;
	// on when unset.
	Acknowledgement *bool       `yaml:"acknowledgement"`
	IMAP            *IMAP       `yaml:"imap"`
	SMTP            *Submission `yaml:"smtp"`
}

// Acknowledges reports whether the mailbox acknowledges new cases.
func (m Mailbox) Acknowledges() bool { return m.Acknowledgement == nil || *m.Acknowledgement }

// IMAP configures the polling of a mailbox.
type IMAP struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"` // 993 with tls, 143 otherwise, when 0
	// TLS is "tls" (the default), "starttls" or "none" (tests and local
	// servers only).
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"`
	// PasswordFile holds the password; TokenFile an OAuth2 access token
	// for XOAUTH2 instead (re-read at every login, so a refresher can
	// rotate it). One of them.
	PasswordFile string `yaml:"password_file"`
	TokenFile    string `yaml:"token_file"`
	// Folder is polled; INBOX when empty.
	Folder string `yaml:"folder"`
	// MoveTo, when set, is the folder stored messages are moved to;
	// otherwise they are flagged \Seen and $Sportello and stay.
	MoveTo string `yaml:"move_to"`
	// PollInterval is the pause between checks when the server has no
	// IDLE ("1m" when empty); with IDLE it is the longest idle.
	PollInterval string `yaml:"poll_interval"`
	// CAFile is a PEM bundle to trust instead of the system's.
	CAFile string `yaml:"ca_file"`
}

// Submission configures the sending of a mailbox's replies.
type Submission struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"` // 587 with starttls, 465 with tls, 25 with none, when 0
	// TLS is "starttls" (the default), "tls" or "none".
	TLS          string `yaml:"tls"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	CAFile       string `yaml:"ca_file"`
}

// Size is a size in bytes, written as a number or with a unit ("25MiB").
type Size int64

// UnmarshalYAML reads 26214400, "25MiB" or "25 MiB".
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := attachments.ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// DefaultMaxSize is the default largest inbound message.
const DefaultMaxSize = 25 << 20

// maxMessageSize bounds smtp_listener.max_size.
const maxMessageSize = 1 << 30

// MaxMessageSize is the largest message accepted.
func (c Config) MaxMessageSize() int64 {
	if c.Listener.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return int64(c.Listener.MaxSize)
}

// Enabled reports whether the channel has anything to do.
func (c Config) Enabled() bool { return c.Listener.Listen != "" || len(c.Mailboxes) > 0 }

// SubjectDays is the subject-threading window in days; 0 when off.
func (c Config) SubjectDays() (int, error) {
	v := strings.TrimSpace(c.SubjectThreading)
	switch v {
	case "":
		return 7, nil
	case "0":
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
	if err != nil || !strings.HasSuffix(v, "d") || n < 0 || n > 365 {
		return 0, fmt.Errorf("email.subject_threading %q: want whole days from 0 to 365 (\"7d\")", v)
	}
	return n, nil
}

// AckLimit is the acknowledgement rate limit.
func (c Config) AckLimit() (int, time.Duration, error) {
	var w time.Duration
	if c.Acknowledgement.Window != "" {
		d, err := time.ParseDuration(c.Acknowledgement.Window)
		if err != nil || d <= 0 {
			return 0, 0, fmt.Errorf("email.acknowledgement.window %q: want a duration such as \"24h\"", c.Acknowledgement.Window)
		}
		w = d
	}
	if c.Acknowledgement.Limit < 0 {
		return 0, 0, fmt.Errorf("email.acknowledgement.limit %d: must not be negative", c.Acknowledgement.Limit)
	}
	return c.Acknowledgement.Limit, w, nil
}

// SendBackoff is the outbound retry schedule; nil for the default.
func (c Config) SendBackoff() ([]time.Duration, error) {
	var out []time.Duration
	for _, v := range c.Outbound.Backoff {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("email.outbound.backoff %q: want durations such as \"30s\", \"5m\"", v)
		}
		out = append(out, d)
	}
	if len(out) > 20 {
		return nil, errors.New("email.outbound.backoff: at most 20 retries")
	}
	return out, nil
}

// domainRE is a DNS name (with a dot) or "localhost"-like name.
var domainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// mailboxNameRE is a channel id: it goes into NATS subjects.
var mailboxNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !c.Enabled() {
		return nil
	}
	if !domainRE.MatchString(c.Domain) {
		add("email.domain %q: want our mail domain, such as comune.example.it", c.Domain)
	}
	if c.Listener.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listener.Listen); err != nil {
			add("email.smtp_listener.listen %q: want host:port", c.Listener.Listen)
		}
	}
	if c.Listener.MaxSize < 0 || c.Listener.MaxSize > maxMessageSize {
		add("email.smtp_listener.max_size %d: want up to %s", c.Listener.MaxSize, attachments.FormatSize(maxMessageSize))
	}
	if (c.Listener.CertFile == "") != (c.Listener.KeyFile == "") {
		add("email.smtp_listener: cert_file and key_file go together")
	}
	if _, err := c.SubjectDays(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := c.AckLimit(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.SendBackoff(); err != nil {
		errs = append(errs, err)
	}
	for dept, langs := range c.Acknowledgement.Templates {
		for lang, text := range langs {
			if lang != "it" && lang != "en" {
				add("email.acknowledgement.templates.%s: language %q: want it or en", dept, lang)
			}
			if _, err := template.New("ack").Option("missingkey=error").Parse(text); err != nil {
				add("email.acknowledgement.templates.%s.%s: %v", dept, lang, err)
			}
		}
	}
	if err := (attachments.Policy{Allowed: c.AllowedTypes}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("email.allowed_types: %w", err))
	}
	names, addrs := map[string]bool{}, map[string]bool{}
	for i, m := range c.Mailboxes {
		where := fmt.Sprintf("email.mailboxes[%d]", i)
		if !mailboxNameRE.MatchString(m.Name) {
			add("%s.name %q: want 1 to 64 lower-case letters, digits, - or _", where, m.Name)
		}
		if names[m.Name] {
			add("%s.name %q: used twice", where, m.Name)
		}
		names[m.Name] = true
		for _, a := range append([]string{m.Address}, m.Aliases...) {
			p, err := mail.ParseAddress(a)
			if err != nil || p.Address != a || p.Name != "" {
				add("%s: %q is not an address such as contatti@comune.example.it", where, a)
				continue
			}
			if addrs[strings.ToLower(a)] {
				add("%s: address %q is used twice", where, a)
			}
			addrs[strings.ToLower(a)] = true
		}
		if im := m.IMAP; im != nil {
			if im.Host == "" || im.Username == "" {
				add("%s.imap: host and username are required", where)
			}
			if (im.PasswordFile == "") == (im.TokenFile == "") {
				add("%s.imap: set one of password_file and token_file", where)
			}
			if !oneOf(im.TLS, "", "tls", "starttls", "none") {
				add("%s.imap.tls %q: want tls, starttls or none", where, im.TLS)
			}
			if im.PollInterval != "" {
				if d, err := time.ParseDuration(im.PollInterval); err != nil || d < time.Second {
					add("%s.imap.poll_interval %q: want a duration of at least 1s", where, im.PollInterval)
				}
			}
			if im.Port < 0 || im.Port > 65535 {
				add("%s.imap.port %d: out of range", where, im.Port)
			}
		}
		if s := m.SMTP; s != nil {
			if s.Host == "" {
				add("%s.smtp: host is required", where)
			}
			if !oneOf(s.TLS, "", "tls", "starttls", "none") {
				add("%s.smtp.tls %q: want starttls, tls or none", where, s.TLS)
			}
			if s.Username != "" && s.PasswordFile == "" {
				add("%s.smtp: username needs password_file", where)
			}
			if s.Port < 0 || s.Port > 65535 {
				add("%s.smtp.port %d: out of range", where, s.Port)
			}
		}
	}
	return errors.Join(errs...)
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// readSecret reads a password or token file, trimmed.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// tlsConfig trusts caFile's certificates (the system's when "").
func tlsConfig(host, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Demo is the embedded mode's channel: the listener on 127.0.0.1:2525
// and three mailboxes of the demo domain, without IMAP or SMTP submission
// (replies to them fail with a clear error until one is configured).
func Demo() Config {
	return Config{
		Domain:   DemoDomain,
		Listener: ListenerConfig{Listen: "127.0.0.1:2525"},
		Mailboxes: []Mailbox{
			{Name: "contatti", Address: "contatti@" + DemoDomain, DisplayName: "Contact centre"},
			{Name: "dati", Address: "dati@" + DemoDomain, DisplayName: "Dati e statistiche"},
			{Name: "ufficiostampa", Address: "ufficiostampa@" + DemoDomain, DisplayName: "Ufficio stampa"},
		},
	}
}

// DemoDomain is the embedded mode's mail domain.
const DemoDomain = "sportello.localhost"

func tlsClient(conn net.Conn, cfg *tls.Config) net.Conn { return tls.Client(conn, cfg) }

// AllowedTypes is the channel's attachment allow-list: base (the
// attachments section's list; attachments.DefaultAllowed when nil) with
// forwarded messages and calendar invitations, which mail carries and the
// web upload does not.
func AllowedTypes(base []string) []string {
	if base == nil {
		base = attachments.DefaultAllowed
	}
	out := append([]string(nil), base...)
	for _, t := range []string{"message/rfc822", "text/calendar"} {
		if !oneOf(t, out...) {
			out = append(out, t)
		}
	}
	return out
}
