package session_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/session"
)

// clock is the managers' settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memStore is a session.Store in memory, counting its writes.
type memStore struct {
	mu      sync.Mutex
	rows    map[string]session.Record
	touches int
	fail    error // every call fails with it when set
}

func newMemStore() *memStore { return &memStore{rows: map[string]session.Record{}} }

var _ session.Store = (*memStore)(nil)

func (s *memStore) CreateSession(_ context.Context, r session.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.rows[r.IDHash]; ok {
		return fmt.Errorf("duplicate session %s", r.IDHash)
	}
	s.rows[r.IDHash] = r
	return nil
}

func (s *memStore) GetSession(_ context.Context, id string, now time.Time) (session.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return session.Record{}, s.fail
	}
	r, ok := s.rows[id]
	if !ok || !r.RevokedAt.IsZero() || !now.Before(r.ExpiresAt) {
		return session.Record{}, session.ErrNotFound
	}
	return r, nil
}

func (s *memStore) TouchSession(_ context.Context, id string, seen time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if r, ok := s.rows[id]; ok && r.LastSeenAt.Before(seen) && r.RevokedAt.IsZero() {
		r.LastSeenAt = seen
		s.rows[id] = r
		s.touches++
	}
	return nil
}

func (s *memStore) RevokeSession(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	r, ok := s.rows[id]
	if !ok || !r.RevokedAt.IsZero() {
		return session.ErrNotFound
	}
	r.RevokedAt = at
	s.rows[id] = r
	return nil
}

func (s *memStore) RevokeSubjectSessions(_ context.Context, subject string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, r := range s.rows {
		if r.Subject == subject && r.RevokedAt.IsZero() && at.Before(r.ExpiresAt) {
			r.RevokedAt = at
			s.rows[id] = r
			n++
		}
	}
	return n, nil
}

func (s *memStore) DeleteExpiredSessions(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, r := range s.rows {
		if !now.Before(r.ExpiresAt) {
			delete(s.rows, id)
			n++
		}
	}
	return n, nil
}

func (s *memStore) get(id string) session.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[id]
}

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// env is a site behind the session middleware over https, and a browser
// (a client with a cookie jar) that visits it.
type env struct {
	t      *testing.T
	m      *session.Manager
	clock  *clock
	srv    *httptest.Server
	client *http.Client
}

// newEnv serves, behind m.Middleware(m.RequireCSRF(...)):
//
//	GET  /login?sub=&at=  starts a session (as the SPID callback would) and answers its ID
//	GET  /me              "<subject> <csrf token>", or "anonymous"
//	GET  /secret?key=     the session's secret
//	POST /action          "done"
//	POST /logout          ends the session
func newEnv(t *testing.T, cfg session.Config) *env {
	t.Helper()
	c := &clock{t: t0}
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var secrets map[string]string
		if at := q.Get("at"); at != "" {
			secrets = map[string]string{"access_token": at, "id_token": "header.payload.signature"}
		}
		s, err := m.Start(w, r, session.Login{
			Principal: auth.Principal{Subject: q.Get("sub"), Role: auth.RoleCitizen},
			Provider:  "spid:test", DisplayName: "Maria Rossi", FiscalNumber: q.Get("sub"), Secrets: secrets})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, s.ID())
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFrom(r.Context())
		s, sok := session.FromContext(r.Context())
		if !ok || !sok {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprintf(w, "%s %s", p.Subject, s.CSRFToken())
	})
	mux.HandleFunc("GET /secret", func(w http.ResponseWriter, r *http.Request) {
		s, ok := m.Current(r)
		if !ok {
			http.Error(w, "anonymous", http.StatusUnauthorized)
			return
		}
		v, _ := s.Secret(r.URL.Query().Get("key"))
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("POST /action", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "done") })
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.End(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "bye")
	})
	srv := httptest.NewTLSServer(m.Middleware(m.RequireCSRF(mux)))
	t.Cleanup(srv.Close)
	e := &env{t: t, m: m, clock: c, srv: srv}
	e.client = e.browser()
	return e
}

// browser returns a new client with an empty cookie jar.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

type reply struct {
	status int
	body   string
	header http.Header
}

// do sends a request from client; form, when not nil, is the POST body.
func (e *env) do(client *http.Client, method, path string, form url.Values, header ...string) reply {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: strings.TrimSpace(string(b)), header: resp.Header}
}

// login starts a session for sub in client's jar and returns its ID.
func (e *env) login(client *http.Client, sub string) string {
	e.t.Helper()
	r := e.do(client, "GET", "/login?sub="+url.QueryEscape(sub), nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("login: %d %s", r.status, r.body)
	}
	return r.body
}

// me returns who the site thinks client is, and the CSRF token.
func (e *env) me(client *http.Client) (subject, csrf string) {
	e.t.Helper()
	r := e.do(client, "GET", "/me", nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("/me: %d %s", r.status, r.body)
	}
	subject, csrf, _ = strings.Cut(r.body, " ")
	return subject, csrf
}

// cookie returns the session cookie's value in client's jar.
func (e *env) cookie(client *http.Client) string {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range client.Jar.Cookies(u) {
		if c.Name == e.m.CookieName() {
			return c.Value
		}
	}
	return ""
}

// withCookie returns a client without a jar that always sends the
// session cookie value v, as an attacker replaying a stolen cookie would.
func (e *env) withCookie(v string) *http.Client {
	c := *e.srv.Client()
	c.Transport = cookieTransport{base: e.srv.Client().Transport, name: e.m.CookieName(), value: v}
	return &c
}

type cookieTransport struct {
	base        http.RoundTripper
	name, value string
}

func (t cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(&http.Cookie{Name: t.name, Value: t.value})
	return t.base.RoundTrip(r)
}

// httptestRecorder starts a session on m without a server and returns the
// Set-Cookie header.
func httptestRecorder(t *testing.T, m *session.Manager) string {
	t.Helper()
	w := httptest.NewRecorder()
	_, err := m.Start(w, httptest.NewRequest("GET", "http://127.0.0.1/login", nil),
		session.Login{Principal: auth.Principal{Subject: "dev:maria", Role: auth.RoleCitizen}, Provider: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	return w.Header().Get("Set-Cookie")
}

func newRequest(method, path string, form url.Values) *http.Request {
	r := httptest.NewRequest(method, "https://127.0.0.1"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
