package session_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/session"
)

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t, session.Config{Store: newMemStore()})
	r := e.do(e.client, "GET", "/login?sub=RSSMRA80A01H501U", nil)
	sc := r.header.Values("Set-Cookie")
	if len(sc) != 1 {
		t.Fatalf("Set-Cookie = %q, want one", sc)
	}
	c, err := http.ParseSetCookie(sc[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "__Host-sportello_session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode ||
		c.Path != "/" || c.Domain != "" || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("Set-Cookie: %s\nwant __Host-sportello_session; Path=/; HttpOnly; Secure; SameSite=Lax; no Domain, no expiry", sc[0])
	}
	if len(c.Value) != 43 {
		t.Errorf("token %q: want 43 base64url characters (32 bytes)", c.Value)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	// The session ID is the hash of the cookie, not the cookie.
	if r.body != auth.HashToken(c.Value) || strings.Contains(r.body, c.Value) {
		t.Errorf("session ID %q is not the SHA-256 of the cookie", r.body)
	}

	// Development over plain http: no Secure, so no __Host- prefix.
	dev, err := session.New(session.Config{Store: newMemStore(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if dev.CookieName() != "sportello_session" {
		t.Errorf("insecure cookie name = %q", dev.CookieName())
	}
	rec := httptestRecorder(t, dev)
	c, _ = http.ParseSetCookie(rec)
	if c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("insecure Set-Cookie: %s", rec)
	}
}

func TestConfigRefused(t *testing.T) {
	for name, cfg := range map[string]session.Config{
		"no store":           {},
		"__Host- insecure":   {Store: newMemStore(), Insecure: true, CookieName: "__Host-x"},
		"__Secure- insecure": {Store: newMemStore(), Insecure: true, CookieName: "__Secure-x"},
		"bad name":           {Store: newMemStore(), CookieName: "a b"},
		"idle > absolute":    {Store: newMemStore(), IdleTimeout: 2 * time.Hour, AbsoluteTimeout: time.Hour},
		"touch >= idle":      {Store: newMemStore(), IdleTimeout: time.Minute, TouchInterval: time.Minute},
		"bad origin":         {Store: newMemStore(), TrustedOrigins: []string{"not a url"}},
	} {
		if _, err := session.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestLoginRotatesID: a login always issues a new token and revokes the
// one the browser had, so a planted or earlier token is worth nothing.
func TestLoginRotatesID(t *testing.T) {
	store := newMemStore()
	e := newEnv(t, session.Config{Store: store})

	// An attacker plants a token of their own choosing (session fixation).
	planted := strings.Repeat("A", 43)
	u, _ := url.Parse(e.srv.URL)
	e.client.Jar.SetCookies(u, []*http.Cookie{{Name: e.m.CookieName(), Value: planted, Path: "/"}})
	if sub, _ := e.me(e.client); sub != "anonymous" {
		t.Fatalf("planted token: %s", sub)
	}
	e.login(e.client, "RSSMRA80A01H501U")
	first := e.cookie(e.client)
	if first == "" || first == planted {
		t.Fatalf("cookie after login = %q", first)
	}
	if sub, _ := e.me(e.client); sub != "RSSMRA80A01H501U" {
		t.Fatalf("after login: %s", sub)
	}

	id2 := e.login(e.client, "VRDLGU75B02F205X")
	second := e.cookie(e.client)
	if second == first {
		t.Fatal("a second login kept the session token")
	}
	if sub, _ := e.me(e.client); sub != "VRDLGU75B02F205X" {
		t.Errorf("after the second login: %s", sub)
	}
	if sub, _ := e.me(e.withCookie(first)); sub != "anonymous" {
		t.Errorf("the token from before the second login still works: %s", sub)
	}
	if store.get(auth.HashToken(first)).RevokedAt.IsZero() {
		t.Error("the earlier session was not revoked in the store")
	}
	if store.get(id2).Subject != "VRDLGU75B02F205X" {
		t.Error("the new session is not in the store under its ID")
	}
}

func TestIdleTimeout(t *testing.T) {
	store := newMemStore()
	e := newEnv(t, session.Config{Store: store, IdleTimeout: 30 * time.Minute})
	id := e.login(e.client, "RSSMRA80A01H501U")

	// Requests within the touch interval do not write.
	for range 5 {
		e.clock.Add(10 * time.Second)
		e.me(e.client)
	}
	if store.touches != 0 {
		t.Errorf("%d writes of last-seen within a minute, want 0", store.touches)
	}
	// Activity slides the idle timeout: 29 minutes, twice.
	for range 2 {
		e.clock.Add(29 * time.Minute)
		if sub, _ := e.me(e.client); sub != "RSSMRA80A01H501U" {
			t.Fatalf("after 29 idle minutes: %s", sub)
		}
	}
	if store.touches != 2 {
		t.Errorf("%d writes of last-seen, want 2", store.touches)
	}
	e.clock.Add(30 * time.Minute)
	r := e.do(e.client, "GET", "/me", nil)
	if r.body != "anonymous" {
		t.Fatalf("after 30 idle minutes: %s", r.body)
	}
	if !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("the dead session's cookie was not cleared: %q", r.header.Get("Set-Cookie"))
	}
	if store.get(id).RevokedAt.IsZero() {
		t.Error("the idle session was not revoked in the store")
	}
}

func TestAbsoluteTimeout(t *testing.T) {
	store := newMemStore()
	e := newEnv(t, session.Config{Store: store, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour})
	e.login(e.client, "RSSMRA80A01H501U")
	cookie := e.cookie(e.client)
	// Busy all day: a request every 20 minutes.
	for elapsed := 20 * time.Minute; elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
		e.clock.Add(20 * time.Minute)
		if sub, _ := e.me(e.client); sub != "RSSMRA80A01H501U" {
			t.Fatalf("after %s: %s", elapsed, sub)
		}
	}
	e.clock.Add(20 * time.Minute)
	if sub, _ := e.me(e.client); sub != "anonymous" {
		t.Fatalf("after 12 hours: %s", sub)
	}
	if sub, _ := e.me(e.withCookie(cookie)); sub != "anonymous" {
		t.Errorf("the cookie replayed after 12 hours: %s", sub)
	}
	if n, err := e.m.DeleteExpired(t.Context()); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
	}
}

func TestLogout(t *testing.T) {
	store := newMemStore()
	e := newEnv(t, session.Config{Store: store})
	id := e.login(e.client, "RSSMRA80A01H501U")
	cookie := e.cookie(e.client)
	_, csrf := e.me(e.client)

	r := e.do(e.client, "POST", "/logout", url.Values{session.FormField: {csrf}})
	if r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if e.cookie(e.client) != "" {
		t.Error("the cookie survived the logout")
	}
	if store.get(id).RevokedAt.IsZero() {
		t.Error("the session was not revoked in the store")
	}
	if sub, _ := e.me(e.withCookie(cookie)); sub != "anonymous" {
		t.Errorf("the old cookie replayed after logout: %s", sub)
	}
	// A logout without a session just clears the cookie.
	if r := e.do(e.browser(), "POST", "/logout", url.Values{}); r.status != http.StatusOK {
		t.Errorf("anonymous logout: %d %s", r.status, r.body)
	}
}

func TestRevokeSubject(t *testing.T) {
	e := newEnv(t, session.Config{Store: newMemStore()})
	phone, laptop, other := e.browser(), e.browser(), e.browser()
	e.login(phone, "staff:marco")
	e.login(laptop, "staff:marco")
	e.login(other, "staff:lucia")
	n, err := e.m.RevokeSubject(t.Context(), "staff:marco")
	if err != nil || n != 2 {
		t.Fatalf("RevokeSubject = %d, %v; want 2", n, err)
	}
	for _, c := range []*http.Client{phone, laptop} {
		if sub, _ := e.me(c); sub != "anonymous" {
			t.Errorf("a revoked subject's browser: %s", sub)
		}
	}
	if sub, _ := e.me(other); sub != "staff:lucia" {
		t.Errorf("another subject's browser: %s", sub)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, session.Config{Store: newMemStore()})
	e.login(e.client, "RSSMRA80A01H501U")
	_, csrf := e.me(e.client)
	if len(csrf) != 43 {
		t.Fatalf("CSRF token %q", csrf)
	}
	other := e.browser()
	e.login(other, "VRDLGU75B02F205X")
	_, otherCSRF := e.me(other)

	const bad, cross = "missing or invalid CSRF token", "cross-origin request refused"
	for _, tc := range []struct {
		name   string
		method string
		form   url.Values
		header []string
		status int
		body   string
	}{
		{"no token", "POST", url.Values{}, nil, 403, bad},
		{"empty token", "POST", url.Values{"csrf_token": {""}}, nil, 403, bad},
		{"wrong token", "POST", url.Values{"csrf_token": {otherChar(csrf[:1]) + csrf[1:]}}, nil, 403, bad},
		{"another session's token", "POST", url.Values{"csrf_token": {otherCSRF}}, nil, 403, bad},
		{"token in form", "POST", url.Values{"csrf_token": {csrf}}, nil, 200, "done"},
		{"token in header", "POST", url.Values{}, []string{"X-CSRF-Token", csrf}, 200, "done"},
		{"PUT without token", "PUT", url.Values{}, nil, 403, bad},
		{"DELETE with header", "DELETE", nil, []string{"X-CSRF-Token", csrf}, 405, ""},
		{"same-origin fetch", "POST", url.Values{"csrf_token": {csrf}}, []string{"Sec-Fetch-Site", "same-origin"}, 200, "done"},
		{"cross-site fetch with token", "POST", url.Values{"csrf_token": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}, 403, cross},
		{"same-site fetch with token", "POST", url.Values{"csrf_token": {csrf}}, []string{"Sec-Fetch-Site", "same-site"}, 403, cross},
		{"foreign Origin with token", "POST", url.Values{"csrf_token": {csrf}}, []string{"Origin", "https://evil.example"}, 403, cross},
		{"own Origin", "POST", url.Values{"csrf_token": {csrf}}, []string{"Origin", e.srv.URL}, 200, "done"},
		{"GET passes", "GET", nil, []string{"Sec-Fetch-Site", "cross-site"}, 200, ""},
	} {
		path := "/action"
		if tc.method == "GET" {
			path = "/me"
		}
		r := e.do(e.client, tc.method, path, tc.form, tc.header...)
		if r.status != tc.status || (tc.body != "" && r.body != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, r.status, r.body, tc.status, tc.body)
		}
	}

	// Anonymous forms (login, contact): no token to check, but a
	// cross-origin POST is still refused.
	anon := e.browser()
	if r := e.do(anon, "POST", "/action", url.Values{"message": {"ciao"}}); r.status != 200 {
		t.Errorf("anonymous same-origin POST: %d %s", r.status, r.body)
	}
	if r := e.do(anon, "POST", "/action", url.Values{}, "Sec-Fetch-Site", "cross-site"); r.status != 403 || r.body != cross {
		t.Errorf("anonymous cross-site POST: %d %s", r.status, r.body)
	}
	if r := e.do(anon, "POST", "/action", url.Values{}, "Origin", "https://evil.example"); r.status != 403 || r.body != cross {
		t.Errorf("anonymous POST from a foreign Origin: %d %s", r.status, r.body)
	}
}

func TestTrustedOrigin(t *testing.T) {
	e := newEnv(t, session.Config{Store: newMemStore(), TrustedOrigins: []string{"https://www.comune.example.it"}})
	e.login(e.client, "RSSMRA80A01H501U")
	_, csrf := e.me(e.client)
	if r := e.do(e.client, "POST", "/action", url.Values{"csrf_token": {csrf}}, "Origin", "https://www.comune.example.it", "Sec-Fetch-Site", "cross-site"); r.status != 200 {
		t.Errorf("trusted origin: %d %s", r.status, r.body)
	}
	// A trusted origin still needs the token.
	if r := e.do(e.client, "POST", "/action", url.Values{}, "Origin", "https://www.comune.example.it", "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Errorf("trusted origin without token: %d %s", r.status, r.body)
	}
}

// TestStoreDown: without the store the middleware neither serves the
// request as the user nor as anonymous, and RequireCSRF cannot be
// bypassed.
func TestStoreDown(t *testing.T) {
	store := newMemStore()
	e := newEnv(t, session.Config{Store: store})
	e.login(e.client, "RSSMRA80A01H501U")
	store.setFail(errors.New("connection refused"))
	if r := e.do(e.client, "GET", "/me", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET with the store down: %d %s", r.status, r.body)
	}
	if r := e.do(e.client, "POST", "/action", url.Values{}); r.status != http.StatusServiceUnavailable {
		t.Errorf("POST with the store down: %d %s", r.status, r.body)
	}
	// Anonymous requests do not need the store.
	if sub, _ := e.me(e.browser()); sub != "anonymous" {
		t.Errorf("anonymous with the store down: %s", sub)
	}
}

// TestRequireCSRFAlone: mounted without Middleware, RequireCSRF still
// finds the session and wants its token.
func TestRequireCSRFAlone(t *testing.T) {
	e := newEnv(t, session.Config{Store: newMemStore()})
	e.login(e.client, "RSSMRA80A01H501U")
	_, csrf := e.me(e.client)
	h := e.m.RequireCSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		token  string
		status int
	}{{"", 403}, {csrf, 200}} {
		req := newRequest("POST", "/action", url.Values{"csrf_token": {tc.token}})
		req.AddCookie(&http.Cookie{Name: e.m.CookieName(), Value: e.cookie(e.client)})
		w := newRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.status {
			t.Errorf("token %q: %d, want %d", tc.token, w.Code, tc.status)
		}
	}
}

// otherChar is a character other than c, to forge a token that differs
// from a real one in exactly one place: its first, which carries six bits
// (the last of a base64 text may carry fewer, so another letter there
// can decode to the same bytes).
func otherChar(c string) string {
	if c == "x" {
		return "y"
	}
	return "x"
}
