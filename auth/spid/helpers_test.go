package spid

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeys are the RP's key files, generated once for the package: RSA
// generation is the slow part of setting up an RP.
var testKeys = sync.OnceValues(func() (Keys, error) {
	dir, err := os.MkdirTemp("", "spid-keys-")
	if err != nil {
		return Keys{}, err
	}
	testKeysDir = dir
	return GenerateKeyFiles(dir, 2048)
})

var testKeysDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if testKeysDir != "" {
		_ = os.RemoveAll(testKeysDir)
	}
	os.Exit(code)
}

func rpKeys(t *testing.T) Keys {
	t.Helper()
	k, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// recorder collects what the RP hands to its hooks.
type recorder struct {
	mu       sync.Mutex
	logins   []Identity
	tokens   []Tokens
	errs     []error
	events   []AuditEvent
	logouts  int
	sessions map[string]Tokens // by session cookie value
}

func (rec *recorder) lastErr() error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) == 0 {
		return nil
	}
	return rec.errs[len(rec.errs)-1]
}

func (rec *recorder) eventNames() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, e := range rec.events {
		out = append(out, e.Event)
	}
	return out
}

// deps wires the recorder in as a server would: OnLogin keeps the tokens
// under a session cookie, SessionTokens finds them, OnLogout drops them.
func (rec *recorder) deps() Deps {
	rec.sessions = map[string]Tokens{}
	return Deps{
		OnLogin: func(_ context.Context, w http.ResponseWriter, _ *http.Request, id Identity, tok Tokens) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.logins = append(rec.logins, id)
			rec.tokens = append(rec.tokens, tok)
			sid := randomString(16)
			rec.sessions[sid] = tok
			http.SetCookie(w, &http.Cookie{Name: "test_session", Value: sid, Path: "/"})
			fmt.Fprintf(w, "welcome %s", id.FiscalCode)
			return nil
		},
		SessionTokens: func(r *http.Request) (Tokens, bool) {
			c, err := r.Cookie("test_session")
			if err != nil {
				return Tokens{}, false
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			tok, ok := rec.sessions[c.Value]
			return tok, ok
		},
		OnLogout: func(_ context.Context, w http.ResponseWriter, r *http.Request) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if c, err := r.Cookie("test_session"); err == nil {
				delete(rec.sessions, c.Value)
			}
			rec.logouts++
			http.SetCookie(w, &http.Cookie{Name: "test_session", Path: "/", MaxAge: -1})
			w.WriteHeader(http.StatusNoContent)
			return nil
		},
		OnError: func(w http.ResponseWriter, _ *http.Request, err error) {
			rec.mu.Lock()
			rec.errs = append(rec.errs, err)
			rec.mu.Unlock()
			http.Error(w, "login failed", StatusOf(err))
		},
		Audit: func(_ context.Context, e AuditEvent) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.events = append(rec.events, e)
		},
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}
}

// rpServer is an httptest server for an RP whose configuration needs the
// server's own URL (client_id, redirect_uri).
type rpServer struct {
	srv *httptest.Server
	mux *http.ServeMux
	rp  *RP
}

func newRPServer(t *testing.T) *rpServer {
	t.Helper()
	s := &rpServer{mux: http.NewServeMux()}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *rpServer) start(t *testing.T, cfg Config, deps Deps) *RP {
	t.Helper()
	rp, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	rp.Mount(s.mux)
	s.rp = rp
	return rp
}

// testConfig is an RP configuration for the server at base.
func testConfig(t *testing.T, base string, providers ...Provider) Config {
	return Config{
		ClientID:   base,
		ClientName: "Sportello test",
		Keys:       rpKeys(t),
		Providers:  providers,
		Federation: Federation{
			OrganizationName: "Comune di Prova",
			HomepageURI:      "https://www.comune.example.it",
			Contacts:         []string{"urp@comune.example.it"},
			AuthorityHints:   []string{"https://registry.spid.example.it"},
			TrustMarks:       []TrustMark{{ID: "https://registry.spid.example.it/openid_relying_party/public", TrustMark: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}},
		},
	}
}

// browser is a user agent with cookies that follows redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// noFollow is the same browser that stops at the first redirect.
func noFollow(c *http.Client) *http.Client {
	return &http.Client{Jar: c.Jar, Timeout: c.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var (
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// submitForm posts the page's form with its hidden inputs, overridden by
// set, as a browser would when the button is pressed.
func submitForm(t *testing.T, c *http.Client, page *http.Response, body string, set url.Values) (*http.Response, string) {
	t.Helper()
	m := formAction.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form on %s (status %d): %.300s", page.Request.URL, page.StatusCode, body)
	}
	action, err := page.Request.URL.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for _, in := range hiddenInput.FindAllStringSubmatch(body, -1) {
		form.Set(in[1], in[2])
	}
	for k, v := range set {
		form[k] = v
	}
	resp, err := c.PostForm(action.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// jwtPayload decodes a JWT's payload without verifying it.
func jwtPayload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %.40s", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantErr checks err against a sentinel and a message fragment.
func wantErr(t *testing.T, err, sentinel error, fragment string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v (%q)", sentinel, fragment)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		var ope *OPError
		if !(errors.As(sentinel, &ope) && errors.As(err, &ope)) {
			t.Fatalf("error %v, want %v", err, sentinel)
		}
	}
	if !strings.Contains(err.Error(), fragment) {
		t.Fatalf("error %q does not mention %q", err, fragment)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
