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
	"github.com/sportello/sportello/services/attachments"
)

var update = Template{Name: "aggiornamento_pratica", Language: "it",
	Body: "Gentile {{1}}, ci sono novità sulla sua richiesta {{2}}: la trova nell'area personale.", Params: 2}

func templateAdapter(t *testing.T, kind string, g *metatest.Graph) *Adapter {
	t.Helper()
	b, err := attachments.NewBlobs(t.TempDir(), attachments.Policy{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{AppSecret: secret, VerifyToken: "verify-me", AccessToken: token, PhoneNumberID: phoneID, PageID: "1234567890",
		GraphURL: g.URL}
	if kind == KindWhatsApp {
		cfg.Templates = []Template{update, {Name: "promemoria", Language: "en_US", Body: "Reminder: your appointment.", Params: 0}}
	}
	a, err := New(kind, "test-"+kind, cfg, channels.Deps{Sink: &channeltest.Sink{}, Blobs: blobs{b}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func templateReply(kind, name string, last time.Time, params ...string) *outboundv1.OutboundMessage {
	m := reply(kind, kind+":16505551234", last)
	m.BodyText = "(the filled-in text, for the record)"
	m.Template = &outboundv1.OutboundTemplate{Name: name, Params: params}
	return m
}

func TestSendTemplate(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	g.Templates["aggiornamento_pratica"], g.Templates["promemoria"] = 2, 0
	a := templateAdapter(t, KindWhatsApp, g)
	ctx := context.Background()
	// Three days after the citizen's last message: free text is refused,
	// a template goes.
	rc, err := a.SendReceipt(ctx, templateReply(KindWhatsApp, "aggiornamento_pratica", time.Now().Add(-72*time.Hour), "Mario Rossi", "2026-000123"))
	if err != nil || !strings.HasPrefix(rc.ExternalID, "wamid.") {
		t.Fatalf("SendReceipt: %v %v", rc, err)
	}
	want := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "template",
		"template": map[string]any{"name": "aggiornamento_pratica", "language": map[string]any{"code": "it"},
			"components": []any{map[string]any{"type": "body", "parameters": []any{
				map[string]any{"type": "text", "text": "Mario Rossi"}, map[string]any{"type": "text", "text": "2026-000123"}}}}}}
	sent := g.Sent()
	if len(sent) != 1 || sent[0].Path != "/"+phoneID+"/messages" || !jsonEqual(sent[0].JSON, want) {
		t.Fatalf("sent %s, want %s", mustJSON(sent[0].JSON), mustJSON(want))
	}
	// A template without parameters has no components; never having
	// written is no obstacle either.
	if _, err := a.SendReceipt(ctx, templateReply(KindWhatsApp, "promemoria", time.Time{})); err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "template",
		"template": map[string]any{"name": "promemoria", "language": map[string]any{"code": "en_US"}}}
	if sent := g.Sent(); len(sent) != 2 || !jsonEqual(sent[1].JSON, want) {
		t.Fatalf("sent %s", mustJSON(sent[len(sent)-1].JSON))
	}
}

func TestSendTemplateRefusals(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	g.Templates["aggiornamento_pratica"] = 2
	wa, ms := templateAdapter(t, KindWhatsApp, g), templateAdapter(t, KindMessenger, g)
	withFile := templateReply(KindWhatsApp, "aggiornamento_pratica", time.Now(), "Mario", "1")
	withFile.Attachments = []*outboundv1.OutboundAttachment{{Sha256: "00", FileName: "a.pdf", ContentType: "application/pdf"}}
	for _, tc := range []struct {
		name    string
		a       *Adapter
		msg     *outboundv1.OutboundMessage
		reached bool // the Graph API refused it
	}{
		{"unknown name", wa, templateReply(KindWhatsApp, "benvenuto", time.Now()), false},
		{"too few parameters", wa, templateReply(KindWhatsApp, "aggiornamento_pratica", time.Now(), "Mario"), false},
		{"too many parameters", wa, templateReply(KindWhatsApp, "aggiornamento_pratica", time.Now(), "Mario", "1", "x"), false},
		{"empty parameter", wa, templateReply(KindWhatsApp, "aggiornamento_pratica", time.Now(), "Mario", " "), false},
		{"new line in a parameter", wa, templateReply(KindWhatsApp, "aggiornamento_pratica", time.Now(), "Mario\nRossi", "1"), false},
		{"with a file", wa, withFile, false},
		{"messenger", ms, templateReply(KindMessenger, "aggiornamento_pratica", time.Now(), "Mario", "1"), false},
		// Configured here but withdrawn at Meta: the Cloud API refuses it.
		{"not approved at Meta", wa, templateReply(KindWhatsApp, "promemoria", time.Now()), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not approved at Meta" {
				tc.a.cfg.Templates = append(tc.a.cfg.Templates, Template{Name: "promemoria", Language: "it", Body: "Promemoria.", Params: 0})
			}
			before := len(g.Sent())
			_, err := tc.a.SendReceipt(context.Background(), tc.msg)
			if err == nil || !channels.IsPermanent(err) {
				t.Fatalf("err %v, want a permanent error", err)
			}
			if !tc.reached && !errors.Is(err, ErrTemplate) {
				t.Errorf("err %v, want ErrTemplate", err)
			}
			if reached := len(g.Sent()) != before; reached != tc.reached {
				t.Fatalf("reached the Graph API: %v", reached)
			}
		})
	}
}

func TestTemplateConfig(t *testing.T) {
	base := Config{AppSecret: "s", VerifyToken: "v", AccessToken: "a", PhoneNumberID: "1"}
	for _, tc := range []struct {
		name      string
		kind      string
		templates []Template
		want      string // "" valid, else a substring of the error
	}{
		{"valid", KindWhatsApp, []Template{update, {Name: "promemoria", Language: "en_US", Body: "Hi", Params: 0}}, ""},
		{"spaced placeholder", KindWhatsApp, []Template{{Name: "a", Language: "it", Body: "Ciao {{ 1 }}", Params: 1}}, ""},
		{"repeated placeholder", KindWhatsApp, []Template{{Name: "a", Language: "it", Body: "{{1}} e {{1}}", Params: 1}}, ""},
		{"uppercase name", KindWhatsApp, []Template{{Name: "Aggiornamento", Language: "it", Body: "x", Params: 0}}, "name \"Aggiornamento\""},
		{"no language", KindWhatsApp, []Template{{Name: "a", Body: "x", Params: 0}}, "language \"\""},
		{"bad language", KindWhatsApp, []Template{{Name: "a", Language: "italiano", Body: "x", Params: 0}}, "language \"italiano\""},
		{"no body", KindWhatsApp, []Template{{Name: "a", Language: "it", Params: 0}}, "body is required"},
		{"fewer params than placeholders", KindWhatsApp, []Template{{Name: "a", Language: "it", Body: "{{1}} {{2}}", Params: 1}}, "placeholder {{2}}"},
		{"more params than placeholders", KindWhatsApp, []Template{{Name: "a", Language: "it", Body: "{{1}}", Params: 2}}, "params is 2 but the body has 1"},
		{"named placeholder", KindWhatsApp, []Template{{Name: "a", Language: "it", Body: "{{nome}}", Params: 1}}, "placeholder {{nome}}"},
		{"negative params", KindWhatsApp, []Template{{Name: "a", Language: "it", Body: "x", Params: -1}}, "params -1"},
		{"twice", KindWhatsApp, []Template{update, update}, "listed twice"},
		{"messenger", KindMessenger, []Template{update}, "only WhatsApp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			if tc.kind == KindMessenger {
				c.PageID = "2"
			}
			c.Templates = tc.templates
			err := c.Validate(tc.kind)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFill(t *testing.T) {
	got, err := update.Fill([]string{"Mario Rossi", "2026-000123"})
	if want := "Gentile Mario Rossi, ci sono novità sulla sua richiesta 2026-000123: la trova nell'area personale."; err != nil || got != want {
		t.Fatalf("Fill: %q %v", got, err)
	}
	// A parameter that looks like a placeholder is not expanded again.
	got, err = Template{Name: "a", Language: "it", Body: "{{2}} {{1}} {{ 2 }}", Params: 2}.Fill([]string{"{{2}}", "b"})
	if err != nil || got != "b {{2}} b" {
		t.Fatalf("Fill: %q %v", got, err)
	}
	if _, err := update.Fill([]string{"x"}); !errors.Is(err, ErrTemplate) {
		t.Fatalf("Fill with one parameter: %v", err)
	}
}

func FuzzFill(f *testing.F) {
	f.Add("Gentile {{1}}, pratica {{2}}", 2, "Mario", "{{1}}")
	f.Add("{{ 1 }}{{1}}", 1, "x", "")
	f.Fuzz(func(t *testing.T, body string, n int, p1, p2 string) {
		tpl := Template{Name: "t", Language: "it", Body: body, Params: n}
		if tpl.validate() != nil {
			return
		}
		params := []string{p1, p2}[:min(max(n, 0), 2)]
		out, err := tpl.Fill(params)
		if err != nil {
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("Fill: %v is not ErrTemplate", err)
			}
			return
		}
		if n > 0 && !strings.Contains(out, params[0]) && strings.Contains(body, "{{1}}") {
			t.Fatalf("Fill(%q, %q) = %q lacks the first parameter", body, params, out)
		}
	})
}
