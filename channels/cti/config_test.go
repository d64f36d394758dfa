package cti_test

import (
	"strings"
	"testing"

	"github.com/sportello/sportello/channels/cti"
)

func TestSettingsValidate(t *testing.T) {
	good := cti.ChannelSettings{ID: "centralino", Secret: strings.Repeat("s", 32), CallerID: "+39 06 4673 1",
		Queues: map[string]string{"statistica": "statistics"}}
	tests := []struct {
		name string
		mod  func(c *cti.ChannelSettings)
		want string // "" for valid
	}{
		{"valid", func(*cti.ChannelSettings) {}, ""},
		{"no caller id", func(c *cti.ChannelSettings) { c.CallerID = "" }, ""},
		{"short secret", func(c *cti.ChannelSettings) { c.Secret = "short" }, "at least 32 bytes"},
		{"bad id", func(c *cti.ChannelSettings) { c.ID = "Centralino/1" }, "cti.channels[0].id"},
		{"bad caller id", func(c *cti.ChannelSettings) { c.CallerID = "call me" }, "caller_id"},
		{"anonymous caller id", func(c *cti.ChannelSettings) { c.CallerID = "anonymous" }, "caller_id"},
		{"empty department", func(c *cti.ChannelSettings) { c.Queues = map[string]string{"q": ""} }, "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			err := cti.Settings{Channels: []cti.ChannelSettings{c}}.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
	err := cti.Settings{Channels: []cti.ChannelSettings{good, good}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Fatalf("duplicate ids: %v", err)
	}
	if n := good.Normalised(); n != "+390646731" {
		t.Fatalf("Normalised = %q", n)
	}
}
