package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sportello/sportello/channels/email"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, strings.NewReplacer(" ", "", ":", "", "\n", "").Replace(body)[:min(10, len(body))]+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr []string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:8080" || c.DataDir != "./data" || !c.Embedded() || !c.DemoData() {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "the contract flags", args: []string{"--listen", "127.0.0.1:9999", "--data-dir", "/tmp/x"}, check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9999" || c.DataDir != "/tmp/x" {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "env", env: map[string]string{"SPORTELLO_LISTEN": "127.0.0.1:7000", "SPORTELLO_DATA_DIR": "/srv/d"}, check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:7000" || c.DataDir != "/srv/d" {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "flags beat env beat file",
			args: []string{"--listen", "127.0.0.1:1", "--config", file("listen: 127.0.0.1:3\ndata_dir: /from/file\nlog_level: debug\n")},
			env:  map[string]string{"SPORTELLO_LISTEN": "127.0.0.1:2", "SPORTELLO_DATA_DIR": "/from/env"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:1" || c.DataDir != "/from/env" || c.LogLevel != "debug" {
					t.Fatalf("%+v", c)
				}
			}},
		{name: "config from env", env: map[string]string{"SPORTELLO_CONFIG": file("database:\n  dsn: postgres://u@h/db\nnats:\n  url: nats://n:4222\n  replicas: 3\n")},
			check: func(t *testing.T, c Config) {
				if c.Embedded() || c.DemoData() || c.NATS.Replicas != 3 || c.Database.DSN != "postgres://u@h/db" {
					t.Fatalf("%+v", c)
				}
			}},
		{name: "empty file", args: []string{"--config", file("")}, check: func(t *testing.T, c Config) {}},
		{name: "unknown field", args: []string{"--config", file("listn: 127.0.0.1:1\n")}, wantErr: []string{"field listn not found"}},
		{name: "every problem at once", args: []string{"--listen", "nope", "--log-level", "loud", "--timezone", "Mars/Olympus"},
			wantErr: []string{`listen "nope"`, `log_level "loud"`, `timezone "Mars/Olympus"`}},
		{name: "external NATS needs a database", args: []string{"--nats-url", "nats://x:4222"}, wantErr: []string{"database.dsn is not"}},
		{name: "web links", args: []string{"--config", file("web:\n  organization: Comune di Esempio\n  privacy_url: https://www.comune.example/privacy\n  accessibility_url: /accessibilita\n")},
			check: func(t *testing.T, c Config) {
				if c.Web.Organization != "Comune di Esempio" || c.Web.PrivacyURL != "https://www.comune.example/privacy" || c.Web.AccessibilityURL != "/accessibilita" {
					t.Fatalf("%+v", c.Web)
				}
			}},
		{name: "bad web links", args: []string{"--config", file("web:\n  privacy_url: javascript:alert(1)\n  accessibility_url: //evil.example/x\n")},
			wantErr: []string{`web.privacy_url: "javascript:alert(1)"`, `web.accessibility_url: "//evil.example/x"`}},
		{name: "bad demo", env: map[string]string{"SPORTELLO_DEMO": "maybe"}, wantErr: []string{"SPORTELLO_DEMO"}},
		{name: "bad token", args: []string{"--config", file("auth:\n  tokens:\n    - {name: x, sha256: abc, role: operator}\n")}, wantErr: []string{"sha256 must be 64 hex digits"}},
		{name: "stray argument", args: []string{"extra"}, wantErr: []string{"unexpected arguments"}},
		{name: "attachments from the file", args: []string{"--config", file("# ok\nattachments:\n  max_size: 10 MiB\n  allowed_types: [application/pdf, application/zip]\n")},
			check: func(t *testing.T, c Config) {
				if c.Attachments.MaxSize != 10<<20 || len(c.Attachments.AllowedTypes) != 2 || c.attachmentsDir() != filepath.Join("data", "attachments") {
					t.Fatalf("%+v", c.Attachments)
				}
			}},
		{name: "attachments from env and flags", args: []string{"--attachments-max-size", "2000000"},
			env: map[string]string{"SPORTELLO_ATTACHMENTS_MAX_SIZE": "1GiB", "SPORTELLO_ATTACHMENTS_ALLOWED_TYPES": "image/png, text/plain,", "SPORTELLO_ATTACHMENTS_DIR": "/shared/att"},
			check: func(t *testing.T, c Config) {
				if c.Attachments.MaxSize != 2000000 || strings.Join(c.Attachments.AllowedTypes, "|") != "image/png|text/plain" || c.attachmentsDir() != "/shared/att" {
					t.Fatalf("%+v", c.Attachments)
				}
			}},
		{name: "bad attachments", args: []string{"--config", file("# bad\nattachments:\n  max_size: 2GiB\n  allowed_types: [text/html, pdf]\n")},
			wantErr: []string{"attachments.max_size 2 GiB: at most 1 GiB", "text/html can run code", `"pdf" is not a media type`}},
		{name: "bad attachment size", env: map[string]string{"SPORTELLO_ATTACHMENTS_MAX_SIZE": "25 megabytes"}, wantErr: []string{"SPORTELLO_ATTACHMENTS_MAX_SIZE", "want a number of bytes"}},
		{name: "spid section", args: []string{"--config", file("# spid\nspid:\n  client_id: https://sportello.comune.example.it\n  keys: {signing: s.pem, encryption: e.pem, federation: f.pem}\n  providers:\n    - {name: cie, issuer: https://oidc.idserver.servizicie.interno.gov.it, acr: SpidL3}\n")},
			check: func(t *testing.T, c Config) {
				if !c.SPID.Enabled() || c.SPID.Providers[0].Name != "cie" || c.SPID.Keys.Federation != "f.pem" {
					t.Fatalf("%+v", c.SPID)
				}
			}},
		{name: "bad spid section", args: []string{"--config", file("# badspid\nspid:\n  client_id: http://sportello.example.it\n")},
			wantErr: []string{"spid.client_id", "spid.keys", "spid.providers"}},
		{name: "bad attachment size in the file", args: []string{"--config", file("# neg\nattachments:\n  max_size: -5\n")}, wantErr: []string{`size "-5"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c, err := loadConfig(fs, tt.args, func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want %v", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					contains(t, "error", err.Error(), w)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	if code := run(nil, &out, &errOut, func(string) string { return "" }); code != 2 || !strings.Contains(errOut.String(), "usage") {
		t.Fatalf("no command: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"frobnicate"}, &out, &errOut, func(string) string { return "" }); code != 2 || !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"serve", "--listen", "bad"}, &out, &errOut, func(string) string { return "" }); code != 2 || !strings.Contains(errOut.String(), "configuration") {
		t.Fatalf("bad config: %d %q", code, errOut.String())
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut strings.Builder
	if code := run([]string{"migrate", "--data-dir", dir}, &out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut.String())
	}
	contains(t, "log", errOut.String(), "database is up to date")
	if _, err := os.Stat(filepath.Join(dir, "sportello.db")); err != nil {
		t.Fatal(err)
	}
}

// TestStartFailureCleansUp: a start that fails reports why, does not panic,
// and releases what it had started (here the embedded NATS store), so the
// next start on the same data dir works.
func TestStartFailureCleansUp(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen = taken.Addr().String()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := start(context.Background(), cfg, log); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("start on a taken port = %v, want a listen error", err)
	}
	cfg.Listen = "127.0.0.1:0"
	a, err := start(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("restart after a failed start: %v", err)
	}
	a.stop(context.Background())

	bad := defaults()
	bad.DataDir = t.TempDir()
	bad.Database.DSN = "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	if _, err := start(context.Background(), bad, log); err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Fatalf("start with an unreachable database = %v", err)
	}
}

// TestEmailConfig: the demo gets the demo mailboxes and listener, which
// --smtp-listen moves or turns off; a production configuration has none
// unless it says so; problems in the email section are all reported.
func TestEmailConfig(t *testing.T) {
	t.Parallel()
	load := func(args []string, yaml string) (Config, error) {
		t.Helper()
		if yaml != "" {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--config", path)
		}
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return loadConfig(fs, args, func(string) string { return "" })
	}
	c, err := load(nil, "")
	if err != nil || c.Email.Listener.Listen != "127.0.0.1:2525" || len(c.Email.Mailboxes) != 3 || c.Email.Domain != email.DemoDomain {
		t.Fatalf("demo: %+v %v", c.Email, err)
	}
	if c, err = load([]string{"--smtp-listen", "off"}, ""); err != nil || c.Email.Listener.Listen != "" || len(c.Email.Mailboxes) != 3 {
		t.Fatalf("--smtp-listen off: %+v %v", c.Email, err)
	}
	if c, err = load([]string{"--database-dsn", "postgres://x/y", "--nats-url", "nats://n:4222"}, ""); err != nil || c.Email.Enabled() {
		t.Fatalf("production: %+v %v", c.Email, err)
	}
	c, err = load(nil, `email:
  domain: comune.example.it
  smtp_listener: {listen: "0.0.0.0:25", max_size: 10MiB}
  subject_threading: 14d
  mailboxes:
    - name: contatti
      address: contatti@comune.example.it
      acknowledgement: false
      imap: {host: imap.example.it, username: u, password_file: /run/secrets/imap, move_to: Archivio}
      smtp: {host: smtp.example.it, username: u, password_file: /run/secrets/smtp}
`)
	if err != nil || c.Email.MaxMessageSize() != 10<<20 || c.Email.Mailboxes[0].Acknowledges() || c.Email.Mailboxes[0].IMAP.MoveTo != "Archivio" {
		t.Fatalf("file: %+v %v", c.Email, err)
	}
	_, err = load(nil, `email:
  domain: "not a domain"
  subject_threading: forever
  acknowledgement: {templates: {it: {fr: "x"}}}
  mailboxes:
    - {name: Contatti!, address: "nobody"}
    - name: dati
      address: dati@comune.example.it
      imap: {host: h, username: u, tls: ssl}
`)
	for _, want := range []string{"email.domain", "subject_threading", `language "fr"`, "email.mailboxes[0].name", `"nobody" is not an address`,
		"set one of password_file and token_file", "imap.tls"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want it to mention %s", err, want)
		}
	}
}

// TestAcknowledgesWebForms: web-form acknowledgements default to on only
// when the reply mailbox can send (the embedded demo's cannot); an
// explicit web.acknowledgement decides.
func TestAcknowledgesWebForms(t *testing.T) {
	on, off := true, false
	sending := email.Mailbox{Name: "contatti", Address: "contatti@example.org", SMTP: &email.Submission{}}
	silent := email.Mailbox{Name: "demo", Address: "demo@example.org"}
	for _, tc := range []struct {
		name      string
		mailboxes []email.Mailbox
		reply     string
		setting   *bool
		want      bool
	}{
		{"no mailbox", nil, "", nil, false},
		{"first mailbox sends", []email.Mailbox{sending, silent}, "", nil, true},
		{"first mailbox cannot send", []email.Mailbox{silent, sending}, "", nil, false},
		{"reply mailbox named, sends", []email.Mailbox{silent, sending}, "contatti", nil, true},
		{"explicitly off", []email.Mailbox{sending}, "", &off, false},
		{"explicitly on without smtp", []email.Mailbox{silent}, "", &on, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			cfg.Email.Mailboxes = tc.mailboxes
			cfg.Web.ReplyMailbox = tc.reply
			cfg.Web.Acknowledgement = tc.setting
			if got := cfg.acknowledgesWebForms(); got != tc.want {
				t.Fatalf("acknowledgesWebForms() = %v, want %v", got, tc.want)
			}
		})
	}
}
