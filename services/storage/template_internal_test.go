package storage

import (
	"slices"
	"testing"

	"github.com/sportello/sportello/services/cases"
)

// A template reply's name and parameters survive the messages.kind
// column; other kinds are left alone.
func TestTemplateKind(t *testing.T) {
	in := cases.Template{Name: "aggiornamento_pratica", Params: []string{"Mario \"Rossi\"", "2026-000123"}}
	m := messageRow{Kind: encodeTemplate(in)}.toMessage()
	if m.Kind != "" || m.Template == nil || m.Template.Name != in.Name || !slices.Equal(m.Template.Params, in.Params) {
		t.Fatalf("round trip: kind %q template %+v", m.Kind, m.Template)
	}
	for _, kind := range []string{"", "acknowledgement", "template:", "template:{", `template:{"params":["x"]}`} {
		if m := (messageRow{Kind: kind}).toMessage(); m.Template != nil || m.Kind != kind {
			t.Errorf("kind %q: %q %+v", kind, m.Kind, m.Template)
		}
	}
}
