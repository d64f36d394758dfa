package main

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestChannelsConfig(t *testing.T) {
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
