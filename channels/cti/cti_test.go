package cti_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sportello/sportello/channels/cti"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test")

// memReplays is a ReplayGuard in memory.
type memReplays struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (m *memReplays) Claim(_ context.Context, key string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[key] {
		return false, nil
	}
	m.keys[key] = true
	return true, nil
}

func (m *memReplays) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, key)
	return nil
}

// recorder is a Backend that records the events and answers by call id.
type recorder struct {
	mu     sync.Mutex
	events []cti.Event
	seen   map[string]bool
	fail   error
}

func (b *recorder) handle(channelID string, e cti.Event) (cti.Answer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return cti.Answer{}, b.fail
	}
	if e.Type != cti.TypeNewCall && !b.seen[e.CallID] {
		return cti.Answer{}, cti.ErrUnknownCall
	}
	dup := b.seen[e.Type+e.CallID]
	b.seen[e.CallID], b.seen[e.Type+e.CallID] = true, true
	if !dup {
		b.events = append(b.events, e)
	}
	return cti.Answer{CallID: e.CallID, Action: cti.ActionAccept, Department: channelID, Duplicate: dup}, nil
}

func (b *recorder) NewCall(_ context.Context, ch string, _ time.Time, e cti.Event) (cti.Answer, error) {
	return b.handle(ch, e)
}
func (b *recorder) Answered(_ context.Context, ch string, _ time.Time, e cti.Event) (cti.Answer, error) {
	return b.handle(ch, e)
}
func (b *recorder) HungUp(_ context.Context, ch string, _ time.Time, e cti.Event) (cti.Answer, error) {
	return b.handle(ch, e)
}

func newServer(t *testing.T, now time.Time) (*httptest.Server, *recorder) {
	t.Helper()
	b := &recorder{seen: map[string]bool{}}
	h := cti.New(cti.Config{Channels: map[string]cti.Channel{"centralino": {Secret: secret}}, Backend: b,
		Replays: &memReplays{keys: map[string]bool{}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	mux.Handle(cti.Pattern, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, b
}

type reply struct {
	status int
	body   map[string]any
}

func post(t *testing.T, url string, ts int64, sig string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if ts != 0 {
		req.Header.Set(cti.TimestampHeader, strconv.FormatInt(ts, 10))
	}
	if sig != "" {
		req.Header.Set(cti.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("status %d: undecodable body: %v", resp.StatusCode, err)
	}
	return reply{resp.StatusCode, out}
}

func signed(t *testing.T, url string, ts int64, body []byte) reply {
	return post(t, url, ts, cti.Sign(secret, ts, body), body)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

func TestWebhookFlow(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 5, 0, 0, time.UTC)
	srv, b := newServer(t, now)
	url := srv.URL + "/v1/channels/cti/centralino"
	ts := now.Unix()
	for _, f := range []string{"newcall.json", "answer.json", "hangup.json"} {
		r := signed(t, url, ts, fixture(t, f))
		if r.status != http.StatusOK || r.body["callId"] != "1732291200.42" || r.body["duplicate"] == true {
			t.Fatalf("%s: %d %v", f, r.status, r.body)
		}
	}
	// The PBX retries the hangup, signed anew: idempotent 200.
	r := signed(t, url, ts+1, fixture(t, "hangup.json"))
	if r.status != http.StatusOK || r.body["duplicate"] != true {
		t.Fatalf("retried hangup: %d %v", r.status, r.body)
	}
	if len(b.events) != 3 {
		t.Fatalf("backend got %d events, want 3", len(b.events))
	}
	if got := b.events[0].From; got != "+390646731234" {
		t.Errorf("from normalised to %q", got)
	}
	if b.events[2].Duration == nil || *b.events[2].Duration != 271 || b.events[2].RecordingURL == "" {
		t.Errorf("hangup decoded as %+v", b.events[2])
	}
}

func TestWebhookRefusals(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 5, 0, 0, time.UTC)
	srv, b := newServer(t, now)
	url := srv.URL + "/v1/channels/cti/centralino"
	ts := now.Unix()
	good := fixture(t, "newcall.json")
	big := append([]byte(`{"event":"newCall","callId":"x","from":"+3906","queue":"`), bytes.Repeat([]byte("a"), cti.MaxBodyBytes)...)
	big = append(big, `"}`...)
	tests := []struct {
		name    string
		url     string
		ts      int64
		sig     string
		body    []byte
		status  int
		message string
	}{
		{"no signature", url, 0, "", good, 401, "missing"},
		{"forged signature", url, ts, cti.Sign([]byte("another secret of thirty-two bytes!!"), ts, good), good, 401, "signature does not match"},
		{"body changed after signing", url, ts, cti.Sign(secret, ts, good), append(bytes.Clone(good[:len(good)-1]), []byte(`,"to":"1234"}`)...), 401, "signature does not match"},
		{"timestamp changed after signing", url, ts + 1, cti.Sign(secret, ts, good), good, 401, "signature does not match"},
		{"stale timestamp", url, ts - 301, "", good, 401, "stale timestamp"},
		{"timestamp from the future", url, ts + 301, "", good, 401, "stale timestamp"},
		{"timestamp not a number", url, -1, "", good, 401, "stale timestamp"},
		{"oversized body", url, ts, "", big, 413, "larger than"},
		{"unknown event type", url, ts, "", fixture(t, "bad/unknown_type.json"), 400, "unknown event type"},
		{"malformed JSON", url, ts, "", fixture(t, "bad/truncated.json"), 400, "not a valid JSON event"},
		{"unknown field", url, ts, "", fixture(t, "bad/unknown_field.json"), 400, "unknown field"},
		{"bad cause", url, ts, "", fixture(t, "bad/bad_cause.json"), 400, "cause"},
		{"bad number", url, ts, "", fixture(t, "bad/bad_number.json"), 400, "telephone number"},
		{"answer without operator", url, ts, "", fixture(t, "bad/no_operator.json"), 400, "operator"},
		{"unknown channel", srv.URL + "/v1/channels/cti/nope", ts, "", good, 404, "no CTI channel"},
		{"answer before newCall", url, ts, "", []byte(`{"event":"answer","callId":"never-seen","operator":"op-1"}`), 409, "newCall not received"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := tt.sig
			if sig == "" && tt.ts != 0 {
				sig = cti.Sign(secret, tt.ts, tt.body)
			}
			r := post(t, tt.url, tt.ts, sig, tt.body)
			if r.status != tt.status || !strings.Contains(fmt.Sprint(r.body["message"]), tt.message) {
				t.Fatalf("got %d %v, want %d with %q", r.status, r.body, tt.status, tt.message)
			}
		})
	}
	if len(b.events) != 0 {
		t.Fatalf("refused requests reached the backend: %+v", b.events)
	}
}

func TestWebhookReplay(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 5, 0, 0, time.UTC)
	srv, b := newServer(t, now)
	url := srv.URL + "/v1/channels/cti/centralino"
	body := fixture(t, "newcall.json")
	sig := cti.Sign(secret, now.Unix(), body)
	if r := post(t, url, now.Unix(), sig, body); r.status != 200 {
		t.Fatalf("first: %d %v", r.status, r.body)
	}
	r := post(t, url, now.Unix(), sig, body)
	if r.status != 401 || !strings.Contains(fmt.Sprint(r.body["message"]), "replayed") {
		t.Fatalf("replay: %d %v", r.status, r.body)
	}
	// A failure releases the signature: the same bytes may be retried.
	b.mu.Lock()
	b.fail = errors.New("database down")
	b.mu.Unlock()
	body2 := fixture(t, "newcall_outbound.json")
	sig2 := cti.Sign(secret, now.Unix(), body2)
	if r := post(t, url, now.Unix(), sig2, body2); r.status != 503 {
		t.Fatalf("backend failure: %d %v", r.status, r.body)
	}
	b.mu.Lock()
	b.fail = nil
	b.mu.Unlock()
	if r := post(t, url, now.Unix(), sig2, body2); r.status != 200 {
		t.Fatalf("retry after failure: %d %v", r.status, r.body)
	}
}

func TestDecodeCorpus(t *testing.T) {
	good, _ := filepath.Glob("testdata/*.json")
	bad, _ := filepath.Glob("testdata/bad/*.json")
	if len(good) < 5 || len(bad) < 5 {
		t.Fatalf("corpus missing: %d good, %d bad", len(good), len(bad))
	}
	for _, f := range good {
		b, _ := os.ReadFile(f)
		if _, err := cti.Decode(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range bad {
		b, _ := os.ReadFile(f)
		if _, err := cti.Decode(b); err == nil {
			t.Errorf("%s decoded", f)
		}
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	more, _ := filepath.Glob("testdata/bad/*.json")
	for _, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := cti.Decode(body)
		if err != nil {
			return
		}
		// A valid event re-encodes to one that decodes the same.
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := cti.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded event refused: %v\n%s", err, again)
		}
		if e2.Type != e.Type || e2.CallID != e.CallID || e2.From != e.From || e2.Cause != e.Cause {
			t.Fatalf("round trip changed %+v into %+v", e, e2)
		}
		if e.Type == "" || e.CallID == "" {
			t.Fatalf("accepted without type or call id: %q", body)
		}
	})
}
