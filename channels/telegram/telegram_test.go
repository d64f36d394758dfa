package telegram

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/channeltest"
	"github.com/sportello/sportello/channels/telegram/telegramtest"
	"github.com/sportello/sportello/services/attachments"
)

const (
	token  = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
	secret = "s3cret_token-1"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type blobs struct{ *attachments.Blobs }

func (b blobs) Put(ctx context.Context, r io.Reader) (channels.Blob, error) {
	blob, err := b.Blobs.Put(ctx, r)
	return channels.Blob{SHA256: blob.SHA256, Size: blob.Size, ContentType: blob.ContentType}, err
}
func (b blobs) Open(sum string) (io.ReadCloser, error) { return b.Blobs.Open(sum) }

func newBot(t *testing.T, sink channels.Sink, api *telegramtest.BotAPI) *Bot {
	t.Helper()
	bl, err := attachments.NewBlobs(t.TempDir(), attachments.Policy{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Token: token, SecretToken: secret}
	if api != nil {
		cfg.APIURL = api.URL
	}
	b, err := New("test-bot", cfg, channels.Deps{Sink: sink, Blobs: blobs{bl}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(body []byte, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/channels/telegram/test-bot", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if secret != "" {
		r.Header.Set(SecretHeader, secret)
	}
	return r
}

func TestAdapterSuite(t *testing.T) {
	body := fixture(t, "text.json")
	channeltest.Run(t, channeltest.Case{
		Open: func(t *testing.T, sink channels.Sink) channels.WebhookReceiver {
			return newBot(t, sink, nil)
		},
		Valid:  func() *http.Request { return post(body, secret) },
		Forged: func() *http.Request { return post(body, "s3cret_token-2") },
	})
}

func TestWebhook(t *testing.T) {
	api := telegramtest.New(token)
	defer api.Close()
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, make([]byte, 64)...)
	api.Files["AgACAgQAAxkBAAIBY2Large"] = jpeg
	api.Files["BQACAgQAAxkBAAIBZGDocument"] = []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, s *channeltest.Sink)
	}{
		{"text.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if c.GetExternalId() != "1111111:1365" || c.GetSender().GetHandle() != "telegram:1111111" || c.GetSender().GetName() != "Test Lastname" ||
				!strings.HasPrefix(c.GetBodyText(), "Buongiorno") || c.GetLanguage() != "" || c.GetMetadata()["update_id"] != "10000" {
				t.Errorf("contact %v", c)
			}
		}},
		{"photo.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if len(c.GetAttachments()) != 1 || c.GetAttachments()[0].GetContentType() != "image/jpeg" || c.GetBodyText() != "La ricevuta" {
				t.Errorf("contact %v", c)
			}
		}},
		{"document.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if len(c.GetAttachments()) != 1 || c.GetAttachments()[0].GetFileName() != "domanda.pdf" || c.GetThreadKeys()[0] != "msg:1111111:1300" {
				t.Errorf("contact %v", c)
			}
		}},
		{"contact.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if c.GetSender().GetPhone() != "+393331234567" || c.GetSender().GetName() != "Test Lastname" {
				t.Errorf("contact %v (name %q)", c, c.GetSender().GetName())
			}
		}},
		{"edited.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if c.GetExternalId() != "1111111:1365:e1441645600" || len(c.GetNotes()) != 1 {
				t.Errorf("contact %v", c)
			}
		}},
		{"sticker.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if len(c.GetNotes()) != 1 || !strings.Contains(c.GetNotes()[0], "sticker") {
				t.Errorf("contact %v", c)
			}
		}},
		{"callback-query.json", func(t *testing.T, s *channeltest.Sink) {
			if n := len(s.Contacts()); n != 0 {
				t.Errorf("%d contacts for a callback query", n)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sink := &channeltest.Sink{}
			b := newBot(t, sink, api)
			w := httptest.NewRecorder()
			b.Webhook().ServeHTTP(w, post(fixture(t, tc.file), secret))
			if w.Code != 200 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			tc.check(t, sink)
		})
	}
}

func TestWebhookBadInput(t *testing.T) {
	text := fixture(t, "text.json")
	big := bytes.Repeat([]byte(" "), 2<<20)
	for _, tc := range []struct {
		name string
		req  *http.Request
		code int
	}{
		{"no secret", post(text, ""), 401},
		{"wrong secret", post(text, "nope"), 403},
		{"too large", post(big, secret), 413},
		{"malformed JSON", post([]byte(`{"update_id":`), secret), 400},
		{"no update_id", post([]byte(`{"message":{}}`), secret), 400},
		{"GET", httptest.NewRequest(http.MethodGet, "/", nil), 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &channeltest.Sink{}
			b := newBot(t, sink, nil)
			w := httptest.NewRecorder()
			b.Webhook().ServeHTTP(w, tc.req)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d (%s)", w.Code, tc.code, w.Body)
			}
			if n := len(sink.Contacts()); n != 0 {
				t.Errorf("%d contacts delivered", n)
			}
		})
	}
}

func TestSend(t *testing.T) {
	api := telegramtest.New(token)
	defer api.Close()
	b := newBot(t, &channeltest.Sink{}, api)
	ctx := context.Background()
	m := &outboundv1.OutboundMessage{Id: "1", ChannelKind: Kind, ChannelId: "test-bot", To: &outboundv1.Recipient{Handle: "telegram:1111111"},
		BodyText: "Gentile cittadino, la pratica è chiusa."}
	rc, err := b.SendReceipt(ctx, m)
	if err != nil || !strings.HasPrefix(rc.ExternalID, "1111111:") {
		t.Fatalf("SendReceipt: %v %v", rc, err)
	}
	calls := api.Calls("sendMessage")
	if len(calls) != 1 || calls[0].Params["chat_id"] != float64(1111111) || calls[0].Params["text"] != m.BodyText {
		t.Fatalf("calls %+v", calls)
	}

	// Flood control with a short retry_after is waited out once.
	api.FailNext(telegramtest.Failure{Status: 429, Body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`})
	if _, err := b.SendReceipt(ctx, m); err != nil {
		t.Fatalf("after a 429: %v", err)
	}
	// A long one defers the reply (temporary error).
	api.FailNext(telegramtest.Failure{Status: 429, Body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 60","parameters":{"retry_after":60}}`})
	if _, err := b.SendReceipt(ctx, m); err == nil || channels.IsPermanent(err) {
		t.Fatalf("long flood wait: %v", err)
	}
	// A blocked bot: permanent.
	api.FailNext(telegramtest.Failure{Status: 403, Body: `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`})
	if _, err := b.SendReceipt(ctx, m); !channels.IsPermanent(err) {
		t.Fatalf("blocked: %v", err)
	}
	// No chat to answer.
	if _, err := b.SendReceipt(ctx, &outboundv1.OutboundMessage{BodyText: "x", To: &outboundv1.Recipient{Handle: "whatsapp:1"}}); !channels.IsPermanent(err) {
		t.Fatalf("no chat: %v", err)
	}
	// A token never shows in errors.
	bad, _ := New("bad", Config{Token: "999:wrong", SecretToken: secret, APIURL: "http://127.0.0.1:1"}, channels.Deps{})
	_, err = bad.SendReceipt(ctx, m)
	if err == nil || strings.Contains(err.Error(), "999:wrong") {
		t.Fatalf("unreachable API: %v", err)
	}
	var ae *APIError
	if errors.As(err, &ae) {
		t.Fatalf("network error reported as API error: %v", err)
	}
}

func TestSendDocument(t *testing.T) {
	api := telegramtest.New(token)
	defer api.Close()
	b := newBot(t, &channeltest.Sink{}, api)
	pdf := []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	blob, err := b.deps.Blobs.Put(context.Background(), bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	m := &outboundv1.OutboundMessage{Id: "1", To: &outboundv1.Recipient{Handle: "telegram:42"},
		Attachments: []*outboundv1.OutboundAttachment{{Sha256: blob.SHA256, FileName: "dati.pdf", ContentType: "application/pdf"}}}
	if _, err := b.SendReceipt(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	calls := api.Calls("sendDocument")
	if len(calls) != 1 || !bytes.Equal(calls[0].File, pdf) || calls[0].Params["chat_id"] != "42" || calls[0].Params["document"] != "dati.pdf" {
		t.Fatalf("calls %+v", calls)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		data, _ := os.ReadFile(name)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := Decode(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if u.UpdateID <= 0 {
			t.Fatalf("accepted update_id %d", u.UpdateID)
		}
		if m := u.Message; m != nil {
			if m.MessageID <= 0 || m.Chat.ID == 0 {
				t.Fatalf("accepted message %+v", m)
			}
			_ = MessageID(m.Chat.ID, m.MessageID, u.Edited)
			_ = m.text()
		}
	})
}

// A text longer than sendMessage takes (4096 UTF-16 code units; the fake
// answers "message is too long" as the Bot API does) goes in parts, in
// order, never cutting an emoji.
func TestSendLong(t *testing.T) {
	api := telegramtest.New(token)
	defer api.Close()
	b := newBot(t, &channeltest.Sink{}, api)
	text := strings.Repeat("Gentile cittadino, la pratica è chiusa 😀. ", 300) // 12,900 units
	m := &outboundv1.OutboundMessage{Id: "1", ChannelKind: Kind, ChannelId: "test-bot", To: &outboundv1.Recipient{Handle: "telegram:1111111"}, BodyText: text}
	n, err := b.Parts(m)
	if err != nil || n != 4 {
		t.Fatalf("Parts = %d, %v; want 4", n, err)
	}
	if _, err := b.SendReceipt(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range api.Calls("sendMessage") {
		s, _ := c.Params["text"].(string)
		if !utf8.ValidString(s) || len(utf16.Encode([]rune(s))) > 4096 {
			t.Errorf("a part of %d units", len(utf16.Encode([]rune(s))))
		}
		got = append(got, s)
	}
	if len(got) != 4 || strings.Join(got, " ") != strings.TrimSpace(text) {
		t.Fatalf("%d parts; text changed", len(got))
	}
	// Unsplit, the fake refuses it as the Bot API does.
	err = b.call(context.Background(), "sendMessage", map[string]any{"chat_id": 1, "text": text}, nil)
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("unsplit: %v", err)
	}
}
