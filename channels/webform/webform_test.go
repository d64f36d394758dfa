package webform

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
)

type memSink struct {
	mu  sync.Mutex
	got []*inboundv1.InboundContact
	err error
}

func (m *memSink) Deliver(_ context.Context, c *inboundv1.InboundContact) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.got = append(m.got, c)
	return nil
}

func newHandler(sink *memSink) *Handler {
	return New(Config{Sink: sink, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		KnownCategory: func(_ context.Context, code string) (bool, error) {
			return code == "microdata" || code == "portal-account" || code == "press-desk", nil
		}})
}

func post(h http.Handler, ctype, body string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", Path, strings.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func ctypeOf(name string) string {
	if strings.HasSuffix(name, ".form") {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// TestCorpus: every file in testdata/submissions is accepted when its name
// starts with "valid" and refused with 400 otherwise.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/submissions/*")
	if len(files) < 8 {
		t.Fatalf("corpus has %d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, _ := os.ReadFile(f)
			sink := &memSink{}
			w := post(newHandler(sink), ctypeOf(f), string(body), nil)
			valid := strings.HasPrefix(filepath.Base(f), "valid")
			if valid && w.Code != http.StatusAccepted || !valid && w.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if valid != (len(sink.got) == 1) {
				t.Fatalf("%d contacts delivered", len(sink.got))
			}
			if valid {
				c := sink.got[0]
				if c.ChannelKind != Kind || c.ExternalId == "" || c.Id != c.ExternalId || c.Sender.Email == "" {
					t.Fatalf("contact = %v", c)
				}
				if strings.Contains(c.Sender.Name, "  ") || strings.Contains(c.BodyText, "\r") {
					t.Fatalf("fields not normalised: %q %q", c.Sender.Name, c.BodyText)
				}
			}
		})
	}
}

func TestIdempotencyKeyBindsThePayload(t *testing.T) {
	sink := &memSink{}
	h := newHandler(sink)
	body, _ := os.ReadFile("testdata/submissions/valid-microdata.json")
	key := map[string]string{"Idempotency-Key": "k-1"}
	post(h, "application/json", string(body), key)
	post(h, "application/json", string(body), key)
	post(h, "application/json", strings.Replace(string(body), "2021", "2011", 1), key)
	post(h, "application/json", string(body), nil)
	post(h, "application/json", string(body), nil)
	ids := []string{}
	for _, c := range sink.got {
		ids = append(ids, c.ExternalId)
	}
	if len(ids) != 5 || ids[0] != ids[1] || ids[2] == ids[0] || ids[3] == ids[4] || ids[3] == ids[0] {
		t.Fatalf("external ids = %v", ids)
	}
}

func TestSinkFailureIs503(t *testing.T) {
	body, _ := os.ReadFile("testdata/submissions/valid-microdata.json")
	w := post(newHandler(&memSink{err: errors.New("jetstream down")}), "application/json", string(body), nil)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if strings.Contains(w.Body.String(), "jetstream") {
		t.Fatalf("internal error leaked: %s", w.Body)
	}
}

// FuzzSubmission feeds arbitrary bodies: the handler never panics, always
// answers JSON, and delivers only clean contacts.
func FuzzSubmission(f *testing.F) {
	files, _ := filepath.Glob("testdata/submissions/*")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(strings.HasSuffix(p, ".form"), string(b))
	}
	f.Fuzz(func(t *testing.T, form bool, body string) {
		sink := &memSink{}
		ctype := "application/json"
		if form {
			ctype = "application/x-www-form-urlencoded"
		}
		w := post(newHandler(sink), ctype, body, nil)
		var resp map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d with a non-JSON body: %q", w.Code, w.Body)
		}
		switch w.Code {
		case http.StatusAccepted:
			if len(sink.got) != 1 {
				t.Fatalf("202 with %d contacts", len(sink.got))
			}
			c := sink.got[0]
			for _, s := range []string{c.Sender.Name, c.Sender.Email, c.Subject, c.BodyText} {
				if s == "" || !utf8.ValidString(s) || strings.ContainsFunc(s, forbidden) {
					t.Fatalf("unclean field %q", s)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(sink.got) != 0 {
				t.Fatal("refused submission was delivered")
			}
		default:
			t.Fatalf("unexpected status %d", w.Code)
		}
	})
}

// TestLanguage: the request's language is the submission's "language"
// ("it" or "en", any case), else Config.Language's answer for the request
// (the page's language for a browser), else none (Italian); another value
// is refused.
func TestLanguage(t *testing.T) {
	const base = `{"name":"Anna Gallo","email":"anna@example.org","subject":"Dati","message":"Vorrei i dati."`
	for _, tc := range []struct {
		name, field, page string
		status            int
		want              string
	}{
		{name: "none", status: 202},
		{name: "field", field: "en", status: 202, want: "en"},
		{name: "field in capitals", field: " EN ", status: 202, want: "en"},
		{name: "page", page: "en", status: 202, want: "en"},
		{name: "field over page", field: "it", page: "en", status: 202, want: "it"},
		{name: "unknown page language ignored", page: "de", status: 202},
		{name: "unknown field refused", field: "de", status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			h := newHandler(sink)
			h.cfg.Language = func(*http.Request) string { return tc.page }
			body := base
			if tc.field != "" {
				body += `,"language":"` + tc.field + `"`
			}
			w := post(h, "application/json", body+"}", nil)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status != 202 {
				if !strings.Contains(w.Body.String(), "INVALID_LANGUAGE") || len(sink.got) != 0 {
					t.Fatalf("refusal %s, %d delivered", w.Body, len(sink.got))
				}
				return
			}
			if len(sink.got) != 1 || sink.got[0].GetLanguage() != tc.want {
				t.Fatalf("delivered %v, want language %q", sink.got, tc.want)
			}
		})
	}
}
