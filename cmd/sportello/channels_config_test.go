package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sportello/sportello/channels/telegram"
)

func TestChannelsConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc string
		errs      []string // all expected in the one error; none means valid
	}{
		{"valid", `
- type: whatsapp
  id: wa-1
  config: {app_secret: s, verify_token: v, access_token: a, phone_number_id: "1"}
- type: whatsapp
  id: wa-2
  config: {app_secret: s, verify_token: v, access_token: a, phone_number_id: "2"}
- type: telegram
  id: bot
  config: {token: "1:x", secret_token: abc}
`, nil},
		{"every problem at once", `
- type: fax
  id: f
- type: telegram
  id: Bad/Id
  config: {token: "1:x", secret_token: abc}
- type: telegram
  id: bot
  config: {token: "1:x", secret_token: "not allowed!", tokn: typo}
- type: messenger
  id: page
  config: {app_secret: s, verify_token: v, access_token: a}
- type: instagram
  id: ig
  config: {app_secret: s, verify_token: v, access_token: a, page_id: "1", graph_url: "ftp://x"}
`, []string{`type "fax"`, `id "Bad/Id"`, "field tokn not found", "page_id is required", `graph_url "ftp://x"`}},
		{"duplicate id", `
- type: telegram
  id: bot
  config: {token: "1:x", secret_token: abc}
- type: telegram
  id: bot
  config: {token: "2:y", secret_token: abc}
`, []string{`id "bot" is used twice`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaults()
			if err := yaml.Unmarshal([]byte(tc.doc), &cfg.Channels); err != nil {
				t.Fatal(err)
			}
			err := cfg.validateChannels()
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// TestChannelSecretFiles: "<key>_file" reads a secret from a file (a
// mounted secret) instead of the configuration.
func TestChannelSecretFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("123:from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, config, err string
	}{
		{"from a file", `{token_file: ` + token + `, secret_token: abc}`, ""},
		{"both given", `{token: "1:x", token_file: ` + token + `, secret_token: abc}`, "token and token_file are both set"},
		{"missing file", `{token_file: ` + filepath.Join(dir, "nope") + `, secret_token: abc}`, "token_file: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaults()
			if err := yaml.Unmarshal([]byte("- {type: telegram, id: bot, config: "+tt.config+"}"), &cfg.Channels); err != nil {
				t.Fatal(err)
			}
			var got telegram.Config
			err := cfg.channelEntries()[0].Decode(&got)
			if tt.err == "" {
				if err != nil || got.Token != "123:from-file" {
					t.Fatalf("token %q, err %v", got.Token, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}
