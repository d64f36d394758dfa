package meta

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
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/channeltest"
	"github.com/sportello/sportello/channels/meta/metatest"
	"github.com/sportello/sportello/services/attachments"
)

const (
	secret  = "app-secret"
	token   = "access-token"
	phoneID = "106540352242922"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// blobs is the attachments blob store under a test directory.
type blobs struct{ *attachments.Blobs }

func (b blobs) Put(ctx context.Context, r io.Reader) (channels.Blob, error) {
	blob, err := b.Blobs.Put(ctx, r)
	return channels.Blob{SHA256: blob.SHA256, Size: blob.Size, ContentType: blob.ContentType}, err
}
func (b blobs) Open(sum string) (io.ReadCloser, error) { return b.Blobs.Open(sum) }

type statuses struct {
	mu   sync.Mutex
	got  []channels.Status
	know map[string]bool
}

func (s *statuses) RecordStatus(_ context.Context, st channels.Status) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.know[st.ExternalID] {
		return channels.ErrUnknownMessage
	}
	s.got = append(s.got, st)
	return nil
}

func newAdapter(t *testing.T, kind string, sink channels.Sink, g *metatest.Graph, st channels.StatusSink) *Adapter {
	t.Helper()
	b, err := attachments.NewBlobs(t.TempDir(), attachments.Policy{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{AppSecret: secret, VerifyToken: "verify-me", AccessToken: token, PhoneNumberID: phoneID, PageID: "1234567890"}
	if g != nil {
		cfg.GraphURL = g.URL
	}
	a, err := New(kind, "test-"+kind, cfg, channels.Deps{Sink: sink, Statuses: st, Blobs: blobs{b}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func post(body []byte, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/channels/meta/x", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if sig != "" {
		r.Header.Set("X-Hub-Signature-256", sig)
	}
	return r
}

func TestAdapterSuite(t *testing.T) {
	for _, tc := range []struct{ kind, file string }{
		{KindWhatsApp, "whatsapp-text.json"},
		{KindMessenger, "messenger-text.json"},
		{KindInstagram, "instagram-text.json"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			body := fixture(t, tc.file)
			channeltest.Run(t, channeltest.Case{
				Open: func(t *testing.T, sink channels.Sink) channels.WebhookReceiver {
					return newAdapter(t, tc.kind, sink, metatest.NewGraph(token), nil)
				},
				Valid:  func() *http.Request { return post(body, Sign(secret, body)) },
				Forged: func() *http.Request { return post(body, Sign("not-the-secret", body)) },
			})
		})
	}
}

func TestVerify(t *testing.T) {
	a := newAdapter(t, KindWhatsApp, &channeltest.Sink{}, nil, nil)
	for _, tc := range []struct {
		query string
		code  int
		body  string
	}{
		{"hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", 200, "1158201444"},
		{"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444", 403, ""},
		{"hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1", 403, ""},
		{"", 403, ""},
	} {
		w := httptest.NewRecorder()
		a.Webhook().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/channels/meta/x?"+tc.query, nil))
		if w.Code != tc.code || (tc.body != "" && w.Body.String() != tc.body) {
			t.Errorf("%q: %d %q, want %d %q", tc.query, w.Code, w.Body, tc.code, tc.body)
		}
	}
}

func TestWebhookBadInput(t *testing.T) {
	text := fixture(t, "whatsapp-text.json")
	big := bytes.Repeat([]byte(" "), 2<<20)
	for _, tc := range []struct {
		name string
		req  *http.Request
		code int
	}{
		{"no signature", post(text, ""), 401},
		{"forged", post(text, Sign("x", text)), 403},
		{"signature not hex", post(text, "sha256=zz"), 403},
		{"signature of another body", post(text, Sign(secret, []byte("{}"))), 403},
		{"too large", post(big, Sign(secret, big)), 413},
		{"malformed JSON", post([]byte(`{"object":`), Sign(secret, []byte(`{"object":`))), 400},
		{"another object", post(fixture(t, "messenger-text.json"), Sign(secret, fixture(t, "messenger-text.json"))), 400},
		{"PUT", httptest.NewRequest(http.MethodPut, "/", nil), 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &channeltest.Sink{}
			a := newAdapter(t, KindWhatsApp, sink, nil, nil)
			w := httptest.NewRecorder()
			a.Webhook().ServeHTTP(w, tc.req)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d (%s)", w.Code, tc.code, w.Body)
			}
			if n := len(sink.Contacts()); n != 0 {
				t.Errorf("%d contacts delivered", n)
			}
		})
	}
}

func TestWebhookMessages(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 64)...)
	g.Media["1003383421387256"] = png
	for _, tc := range []struct {
		kind, file string
		check      func(t *testing.T, sink *channeltest.Sink)
	}{
		{KindWhatsApp, "whatsapp-text.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if c.GetBodyText() != "Does it come in another color?" || c.GetSender().GetPhone() != "+16505551234" ||
				c.GetSender().GetHandle() != "whatsapp:16505551234" || c.GetSender().GetName() != "Sheena Nelson" ||
				c.GetExternalId() != "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=" {
				t.Errorf("contact %v", c)
			}
		}},
		{KindWhatsApp, "whatsapp-image.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if len(c.GetAttachments()) != 1 || c.GetAttachments()[0].GetContentType() != "image/png" || c.GetBodyText() != "Black Nike Air Force 1" {
				t.Errorf("contact %v", c)
			}
		}},
		{KindWhatsApp, "whatsapp-location.json", func(t *testing.T, s *channeltest.Sink) {
			if b := s.Contacts()[0].GetBodyText(); !strings.Contains(b, "37.483303, -122.148073") || !strings.Contains(b, "Main Street Beach") {
				t.Errorf("body %q", b)
			}
		}},
		{KindWhatsApp, "whatsapp-interactive.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if c.GetBodyText() != "Cancel" || len(c.GetThreadKeys()) != 2 || c.GetThreadKeys()[0] != "msg:wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NTJBQ0Y4RjVFMDQxMjU5NzcA" {
				t.Errorf("contact %v", c)
			}
		}},
		{KindWhatsApp, "whatsapp-unsupported.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if len(c.GetNotes()) != 1 || !strings.Contains(c.GetNotes()[0], "unsupported") || c.GetSender().GetName() != "Sheena Nelson" {
				t.Errorf("contact %v (name %q)", c, c.GetSender().GetName())
			}
		}},
		{KindMessenger, "messenger-text.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			if c.GetBodyText() != "hello, world!" || c.GetSender().GetHandle() != "messenger:6543210987654321" || c.GetSender().GetPhone() != "" {
				t.Errorf("contact %v", c)
			}
		}},
		{KindInstagram, "instagram-text.json", func(t *testing.T, s *channeltest.Sink) {
			c := s.Contacts()[0]
			// The fixture's URL is a placeholder: the file is noted, not kept.
			if c.GetSender().GetHandle() != "instagram:1254459154682919" || len(c.GetAttachments()) != 0 || len(c.GetNotes()) != 1 {
				t.Errorf("contact %v", c)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sink := &channeltest.Sink{}
			a := newAdapter(t, tc.kind, sink, g, nil)
			body := fixture(t, tc.file)
			w := httptest.NewRecorder()
			a.Webhook().ServeHTTP(w, post(body, Sign(secret, body)))
			if w.Code != 200 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			if n := len(sink.Contacts()); n != 1 {
				t.Fatalf("%d contacts", n)
			}
			tc.check(t, sink)
		})
	}
}

func TestWebhookStatuses(t *testing.T) {
	st := &statuses{know: map[string]bool{"wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA": true}}
	a := newAdapter(t, KindWhatsApp, &channeltest.Sink{}, nil, st)
	serve := func(file string) int {
		body := fixture(t, file)
		w := httptest.NewRecorder()
		a.Webhook().ServeHTTP(w, post(body, Sign(secret, body)))
		return w.Code
	}
	if code := serve("whatsapp-status-failed.json"); code != 200 {
		t.Fatalf("failed status: %d", code)
	}
	if len(st.got) != 1 || st.got[0].Status != "failed" || !strings.Contains(st.got[0].Error, "131050") {
		t.Fatalf("recorded %+v", st.got)
	}
	// A report on a message we do not know, long ago: dropped with 200.
	if code := serve("whatsapp-status-delivered.json"); code != 200 {
		t.Fatalf("old unknown status: %d", code)
	}
	// A fresh one on a message not recorded yet: retried by Meta.
	fresh := strings.Replace(string(fixture(t, "whatsapp-status-delivered.json")), "1750263773", strconvNow(), 1)
	w := httptest.NewRecorder()
	a.Webhook().ServeHTTP(w, post([]byte(fresh), Sign(secret, []byte(fresh))))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("fresh unknown status: %d", w.Code)
	}
}

func strconvNow() string { return itoa(time.Now().Unix()) }

func itoa(n int64) string {
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func reply(kind, handle string, last time.Time) *outboundv1.OutboundMessage {
	m := &outboundv1.OutboundMessage{Id: "0190", ChannelKind: kind, ChannelId: "test-" + kind,
		To: &outboundv1.Recipient{Handle: handle}, BodyText: "Buongiorno, ecco i dati richiesti."}
	if !last.IsZero() {
		m.LastInboundTime = timestamppb.New(last)
	}
	return m
}

func TestSend(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	wa := newAdapter(t, KindWhatsApp, &channeltest.Sink{}, g, nil)
	rc, err := wa.SendReceipt(context.Background(), reply(KindWhatsApp, "whatsapp:16505551234", time.Now().Add(-time.Hour)))
	if err != nil || !strings.HasPrefix(rc.ExternalID, "wamid.") {
		t.Fatalf("SendReceipt: %v %v", rc, err)
	}
	sent := g.Sent()
	want := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "text",
		"text": map[string]any{"preview_url": false, "body": "Buongiorno, ecco i dati richiesti."}}
	if len(sent) != 1 || sent[0].Path != "/"+phoneID+"/messages" || !jsonEqual(sent[0].JSON, want) {
		t.Fatalf("sent %+v", sent)
	}

	ms := newAdapter(t, KindMessenger, &channeltest.Sink{}, g, nil)
	rc, err = ms.SendReceipt(context.Background(), reply(KindMessenger, "messenger:6543210987654321", time.Now().Add(-time.Minute)))
	if err != nil || !strings.HasPrefix(rc.ExternalID, "m_") {
		t.Fatalf("messenger SendReceipt: %v %v", rc, err)
	}
	last := g.Sent()[1]
	if last.Path != "/1234567890/messages" || last.JSON["messaging_type"] != "RESPONSE" {
		t.Fatalf("messenger sent %+v", last)
	}
}

func jsonEqual(a, b map[string]any) bool {
	return strings.TrimSpace(mustJSON(a)) == strings.TrimSpace(mustJSON(b))
}

func TestSendRefusals(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	a := newAdapter(t, KindWhatsApp, &channeltest.Sink{}, g, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		msg       *outboundv1.OutboundMessage
		fail      *metatest.Failure
		permanent bool
		window    bool
	}{
		{"outside the 24-hour window", reply(KindWhatsApp, "whatsapp:1", time.Now().Add(-25*time.Hour)), nil, true, true},
		{"never wrote", reply(KindWhatsApp, "whatsapp:1", time.Time{}), nil, true, true},
		{"no handle", reply(KindWhatsApp, "", time.Now()), nil, true, false},
		{"re-engagement error", reply(KindWhatsApp, "whatsapp:1", time.Now()), &metatest.Failure{Status: 400,
			Body: `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"A"}}`}, true, true},
		{"rate limited 130429", reply(KindWhatsApp, "whatsapp:1", time.Now()), &metatest.Failure{Status: 400,
			Body: `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"fbtrace_id":"A"}}`}, false, false},
		{"rate limited 80007", reply(KindWhatsApp, "whatsapp:1", time.Now()), &metatest.Failure{Status: 400,
			Body: `{"error":{"message":"(#80007) Rate limit issues","type":"OAuthException","code":80007,"fbtrace_id":"A"}}`}, false, false},
		{"app rate limit 4", reply(KindWhatsApp, "whatsapp:1", time.Now()), &metatest.Failure{Status: 400,
			Body: `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4,"fbtrace_id":"A"}}`}, false, false},
		{"server error", reply(KindWhatsApp, "whatsapp:1", time.Now()), &metatest.Failure{Status: 503, Body: `oops`}, false, false},
		{"invalid parameter", reply(KindWhatsApp, "whatsapp:1", time.Now()), &metatest.Failure{Status: 400,
			Body: `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"fbtrace_id":"A"}}`}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(g.Sent())
			if tc.fail != nil {
				g.FailNext(*tc.fail)
			}
			_, err := a.SendReceipt(ctx, tc.msg)
			if err == nil {
				t.Fatal("sent")
			}
			if channels.IsPermanent(err) != tc.permanent || errors.Is(err, ErrOutsideWindow) != tc.window {
				t.Fatalf("err %v: permanent %v window %v", err, channels.IsPermanent(err), errors.Is(err, ErrOutsideWindow))
			}
			if tc.fail == nil && len(g.Sent()) != before {
				t.Fatalf("a refused reply reached the Graph API")
			}
		})
	}
	if h := a.Health(); h.ErrorsCounted == 0 || h.Backlog != 0 {
		t.Errorf("health %+v", h)
	}
}

func TestSendFile(t *testing.T) {
	g := metatest.NewGraph(token)
	defer g.Close()
	a := newAdapter(t, KindWhatsApp, &channeltest.Sink{}, g, nil)
	pdf := []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	blob, err := a.deps.Blobs.Put(context.Background(), bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	m := reply(KindWhatsApp, "whatsapp:16505551234", time.Now())
	m.Attachments = []*outboundv1.OutboundAttachment{{Sha256: blob.SHA256, FileName: "dati.pdf", ContentType: "application/pdf", Size: blob.Size}}
	if _, err := a.SendReceipt(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	reqs := g.Requests()
	var upload *metatest.Request
	for i := range reqs {
		if strings.HasSuffix(reqs[i].Path, "/media") {
			upload = &reqs[i]
		}
	}
	if upload == nil || !bytes.Equal(upload.Files["file"], pdf) || upload.Form["messaging_product"] != "whatsapp" {
		t.Fatalf("upload %+v", upload)
	}
	sent := g.Sent()
	doc, _ := sent[len(sent)-1].JSON["document"].(map[string]any)
	if sent[len(sent)-1].JSON["type"] != "document" || doc["filename"] != "dati.pdf" || doc["id"] == "" {
		t.Fatalf("document message %+v", sent[len(sent)-1].JSON)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		data, _ := os.ReadFile(name)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []string{KindWhatsApp, KindMessenger, KindInstagram} {
			b, err := Decode(kind, "", body)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v is not ErrMalformed", err)
				}
				continue
			}
			for _, m := range b.Messages {
				if m.ExternalID == "" || m.UserID == "" {
					t.Fatalf("message without ids: %+v", m)
				}
			}
		}
	})
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := jsonEncoder(&b)
	_ = enc.Encode(v)
	return b.String()
}
