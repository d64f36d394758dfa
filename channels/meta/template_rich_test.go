package meta

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/channeltest"
	"github.com/sportello/sportello/channels/meta/metatest"
)

var richTemplates = []Template{
	{Name: "esito_pratica", Language: "it", Body: "Gentile {{1}}, la pratica {{2}} è conclusa.", Params: 2,
		Header:  &TemplateHeader{Format: "text", Text: "Pratica {{1}}"},
		Buttons: []TemplateButton{{Type: "quick_reply", Text: "Grazie"}, {Type: "url", Text: "Apri", URL: "https://comune.example.it/pratiche/{{1}}"}}},
	{Name: "documento_pronto", Language: "it", Body: "Il documento richiesto è pronto.", Params: 0, Header: &TemplateHeader{Format: "document"}},
	{Name: "video_guida", Language: "it", Body: "Guarda la guida.", Params: 0, Header: &TemplateHeader{Format: "video"},
		Buttons: []TemplateButton{{Type: "url", Text: "Sito", URL: "https://comune.example.it/"}}},
	{Name: "prenotazione", Language: "it", ParameterFormat: "named", Body: "Gentile {{nome}}, l'appuntamento è il {{data}}. A presto, {{nome}}!", Params: 2,
		Header: &TemplateHeader{Format: "image"}},
}

func TestTemplateConfigRich(t *testing.T) {
	cfg := Config{AppSecret: "s", VerifyToken: "v", AccessToken: "t", PhoneNumberID: "1", Templates: richTemplates}
	if err := cfg.Validate(KindWhatsApp); err != nil {
		t.Fatalf("valid templates refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		tpl  Template
		want string
	}{
		{"header format", Template{Name: "a", Language: "it", Body: "x", Header: &TemplateHeader{Format: "audio"}}, "header format"},
		{"two header placeholders", Template{Name: "a", Language: "it", Body: "x", Header: &TemplateHeader{Format: "text", Text: "{{1}} {{2}}"}}, "at most one placeholder"},
		{"button type", Template{Name: "a", Language: "it", Body: "x", Buttons: []TemplateButton{{Type: "call"}}}, "quick_reply or url"},
		{"named with numbers", Template{Name: "a", Language: "it", ParameterFormat: "named", Body: "{{1}}", Params: 1}, "want a name"},
		{"named count", Template{Name: "a", Language: "it", ParameterFormat: "named", Body: "{{x}} {{y}}", Params: 1}, "distinct placeholders"},
		{"format", Template{Name: "a", Language: "it", ParameterFormat: "mixed", Body: "x"}, "parameter_format"},
	} {
		cfg := Config{AppSecret: "s", VerifyToken: "v", AccessToken: "t", PhoneNumberID: "1", Templates: []Template{tc.tpl}}
		if err := cfg.Validate(KindWhatsApp); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Header (text with a parameter; document, video and image by link or
// media id), button (quick_reply payload, url suffix) and named
// parameters go out as the Cloud API documents them; arguments that do
// not fit the template are refused before anything is sent.
func TestSendRichTemplates(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	for _, tpl := range richTemplates {
		g.Templates[tpl.Name] = tpl.Params
	}
	cfg := Config{AppSecret: secret, VerifyToken: "v", AccessToken: token, PhoneNumberID: phoneID, GraphURL: g.URL, Templates: richTemplates}
	a, err := New(KindWhatsApp, "wa", cfg, channels.Deps{Sink: &channeltest.Sink{}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	old := time.Now().Add(-48 * time.Hour)
	for _, tc := range []struct {
		name  string
		tpl   *outboundv1.OutboundTemplate
		comps string // JSON of the components sent; "" when refused
		err   string
	}{
		{"text header and buttons", &outboundv1.OutboundTemplate{Name: "esito_pratica", Params: []string{"Mario", "2026-000123"},
			Header: &outboundv1.OutboundTemplateHeader{Text: "2026-000123"}, ButtonParams: []string{"grazie-123", "2026-000123"}},
			`[{"parameters":[{"text":"2026-000123","type":"text"}],"type":"header"},{"parameters":[{"text":"Mario","type":"text"},{"text":"2026-000123","type":"text"}],"type":"body"},{"index":"0","parameters":[{"payload":"grazie-123","type":"payload"}],"sub_type":"quick_reply","type":"button"},{"index":"1","parameters":[{"text":"2026-000123","type":"text"}],"sub_type":"url","type":"button"}]`, ""},
		{"quick reply payload optional", &outboundv1.OutboundTemplate{Name: "esito_pratica", Params: []string{"Mario", "X"},
			Header: &outboundv1.OutboundTemplateHeader{Text: "X"}, ButtonParams: []string{"", "X"}},
			`[{"parameters":[{"text":"X","type":"text"}],"type":"header"},{"parameters":[{"text":"Mario","type":"text"},{"text":"X","type":"text"}],"type":"body"},{"index":"1","parameters":[{"text":"X","type":"text"}],"sub_type":"url","type":"button"}]`, ""},
		{"document by link", &outboundv1.OutboundTemplate{Name: "documento_pronto",
			Header: &outboundv1.OutboundTemplateHeader{MediaLink: "https://comune.example.it/doc.pdf", FileName: "certificato.pdf"}},
			`[{"parameters":[{"document":{"filename":"certificato.pdf","link":"https://comune.example.it/doc.pdf"},"type":"document"}],"type":"header"}]`, ""},
		{"video by media id", &outboundv1.OutboundTemplate{Name: "video_guida", Header: &outboundv1.OutboundTemplateHeader{MediaId: "1166846181421424"}},
			`[{"parameters":[{"type":"video","video":{"id":"1166846181421424"}}],"type":"header"}]`, ""},
		{"named parameters and image", &outboundv1.OutboundTemplate{Name: "prenotazione", NamedParams: map[string]string{"nome": "Anna", "data": "3 dicembre"},
			Header: &outboundv1.OutboundTemplateHeader{MediaLink: "https://comune.example.it/logo.png"}},
			`[{"parameters":[{"image":{"link":"https://comune.example.it/logo.png"},"type":"image"}],"type":"header"},{"parameters":[{"parameter_name":"nome","text":"Anna","type":"text"},{"parameter_name":"data","text":"3 dicembre","type":"text"}],"type":"body"}]`, ""},
		{"missing url suffix", &outboundv1.OutboundTemplate{Name: "esito_pratica", Params: []string{"Mario", "X"}, Header: &outboundv1.OutboundTemplateHeader{Text: "X"}}, "", "needs its suffix"},
		{"missing header text", &outboundv1.OutboundTemplate{Name: "esito_pratica", Params: []string{"Mario", "X"}, ButtonParams: []string{"", "X"}}, "", "header parameter"},
		{"media header without file", &outboundv1.OutboundTemplate{Name: "documento_pronto"}, "", "by link or by media id"},
		{"both link and id", &outboundv1.OutboundTemplate{Name: "video_guida", Header: &outboundv1.OutboundTemplateHeader{MediaId: "1", MediaLink: "https://x.example/v.mp4"}}, "", "one of them"},
		{"http link", &outboundv1.OutboundTemplate{Name: "video_guida", Header: &outboundv1.OutboundTemplateHeader{MediaLink: "http://x.example/v.mp4"}}, "", "https"},
		{"fixed url takes nothing", &outboundv1.OutboundTemplate{Name: "video_guida", Header: &outboundv1.OutboundTemplateHeader{MediaId: "1"}, ButtonParams: []string{"x"}}, "", "fixed URL"},
		{"named given positional", &outboundv1.OutboundTemplate{Name: "prenotazione", Params: []string{"Anna", "3 dicembre"},
			Header: &outboundv1.OutboundTemplateHeader{MediaId: "1"}}, "", "named parameters"},
		{"named missing one", &outboundv1.OutboundTemplate{Name: "prenotazione", NamedParams: map[string]string{"nome": "Anna", "ora": "10"},
			Header: &outboundv1.OutboundTemplateHeader{MediaId: "1"}}, "", `"data"`},
		{"header on a template without", &outboundv1.OutboundTemplate{Name: "video_guida", Header: &outboundv1.OutboundTemplateHeader{Text: "x"}}, "", "not text"},
		{"new line in a button", &outboundv1.OutboundTemplate{Name: "esito_pratica", Params: []string{"Mario", "X"}, Header: &outboundv1.OutboundTemplateHeader{Text: "X"},
			ButtonParams: []string{"a\nb", "X"}}, "", "new line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := reply(KindWhatsApp, "whatsapp:393331234567", old)
			m.Template = tc.tpl
			before := len(g.Sent())
			_, err := a.SendReceipt(context.Background(), m)
			if tc.err != "" {
				if err == nil || !channels.IsPermanent(err) || !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if len(g.Sent()) != before {
					t.Fatal("a refused template reached the Graph API")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sent := g.Sent()[len(g.Sent())-1]
			tpl := sent.JSON["template"].(map[string]any)
			if got := mustJSON(tpl["components"]); strings.TrimSpace(got) != tc.comps {
				t.Fatalf("components\n got %s\nwant %s", got, tc.comps)
			}
		})
	}
}

func TestRenderRich(t *testing.T) {
	got, err := richTemplates[0].Render(TemplateArgs{Params: []string{"Mario", "2026-1"}, HeaderText: "2026-1", Buttons: []string{"", "2026-1"}})
	if err != nil || got != "Pratica 2026-1\n\nGentile Mario, la pratica 2026-1 è conclusa." {
		t.Fatalf("%q %v", got, err)
	}
	got, err = richTemplates[3].Render(TemplateArgs{Named: map[string]string{"nome": "Anna", "data": "3/12"}, HeaderID: "12"})
	if err != nil || got != "Gentile Anna, l'appuntamento è il 3/12. A presto, Anna!" {
		t.Fatalf("%q %v", got, err)
	}
}
