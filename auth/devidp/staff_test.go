package devidp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	staffRedirect  = "http://127.0.0.1:1/staff/callback"
	publicRedirect = "http://127.0.0.1:1/cli/callback"
)

func staffClients(cfg *Config) {
	cfg.Clients = append(cfg.Clients,
		Client{ID: "staff-web", Profile: ProfileStaff, RedirectURIs: []string{staffRedirect}, Secret: "s3cret"},
		Client{ID: "staff-cli", Profile: ProfileStaff, RedirectURIs: []string{publicRedirect}},
	)
}

// staffRP is a staff client as the server would write it: go-oidc for
// discovery and verification, x/oauth2 for the code flow.
type staffRP struct {
	ctx      context.Context
	provider *oidc.Provider
	oauth    oauth2.Config
}

func newStaffRP(t *testing.T, s *opServer, clientID, secret, redirect string, style oauth2.AuthStyle) *staffRP {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), s.srv.Client())
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	return &staffRP{ctx: ctx, provider: provider, oauth: oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}}
}

// attempt is one login's client-side secrets.
type attempt struct {
	state, nonce, verifier string
}

func newAttempt() attempt {
	return attempt{state: randomToken(), nonce: randomToken(), verifier: oauth2.GenerateVerifier()}
}

func (rp *staffRP) authURL(a attempt) string {
	return rp.oauth.AuthCodeURL(a.state, oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce))
}

// loginCode logs in as identity and returns the code after checking the
// redirect (registered URI, state, RFC 9207 iss).
func (rp *staffRP) loginCode(t *testing.T, s *opServer, a attempt, identity string) string {
	t.Helper()
	loc := login(t, browser(t), rp.authURL(a), identity)
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), rp.oauth.RedirectURL+"?") || q.Get("state") != a.state || q.Get("iss") != s.issuer || q.Get("code") == "" {
		t.Fatalf("redirect %s", loc)
	}
	return q.Get("code")
}

func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(raw, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestStaffLoginWithGoOIDC(t *testing.T) {
	s := startOP(t, staffClients)
	rp := newStaffRP(t, s, "staff-web", "s3cret", staffRedirect, oauth2.AuthStyleInHeader)
	a := newAttempt()
	code := rp.loginCode(t, s, a, "operator-statistics")

	tok, err := rp.oauth.Exchange(rp.ctx, code, oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := rp.provider.Verifier(&oidc.Config{ClientID: "staff-web"}).Verify(rp.ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var idc struct {
		Nonce             string   `json:"nonce"`
		Groups            []string `json:"groups"`
		PreferredUsername string   `json:"preferred_username"`
		Email             string   `json:"email"`
		ATHash            string   `json:"at_hash"`
	}
	if err := idt.Claims(&idc); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "operator-statistics" || idc.Nonce != a.nonce || idc.PreferredUsername != "operator-statistics" ||
		!slices.Equal(idc.Groups, []string{GroupOperator, GroupDeptPrefix + "statistics"}) || idc.Email != "operator-statistics@example.org" {
		t.Errorf("ID token sub %q claims %+v", idt.Subject, idc)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil || idc.ATHash == "" {
		t.Errorf("at_hash %q: %v", idc.ATHash, err)
	}

	// The access token, as the server verifies a bearer token.
	at, err := rp.provider.Verifier(&oidc.Config{ClientID: DefaultAudience}).Verify(rp.ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	if h := jwtHeader(t, tok.AccessToken); h["typ"] != "at+jwt" || h["alg"] != "RS256" {
		t.Errorf("access token header %v", h)
	}
	var atc map[string]any
	if err := at.Claims(&atc); err != nil {
		t.Fatal(err)
	}
	if atc["client_id"] != "staff-web" || atc["jti"] == "" || atc["preferred_username"] != "operator-statistics" || atc["sub"] != "operator-statistics" {
		t.Errorf("access token claims %v", atc)
	}
	if _, err := rp.provider.Verifier(&oidc.Config{ClientID: "staff-web"}).Verify(rp.ctx, tok.AccessToken); err == nil {
		t.Error("the access token verified for the client's audience: its aud must be the API's only")
	}

	ui, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uic struct {
		Groups []string `json:"groups"`
	}
	if err := ui.Claims(&uic); err != nil || ui.Subject != "operator-statistics" || len(uic.Groups) != 2 {
		t.Errorf("userinfo %+v %+v %v", ui, uic, err)
	}

	t.Run("code reuse is refused and revokes the first token", func(t *testing.T) {
		_, err := rp.oauth.Exchange(rp.ctx, code, oauth2.VerifierOption(a.verifier))
		var re *oauth2.RetrieveError
		if err == nil || !asRetrieveError(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("second exchange: %v, want invalid_grant", err)
		}
		if _, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("userinfo after the replay: %v, want 401", err)
		}
	})

	t.Run("supervisor groups name every department", func(t *testing.T) {
		a := newAttempt()
		tok, err := rp.oauth.Exchange(rp.ctx, rp.loginCode(t, s, a, "supervisor"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := rp.provider.Verifier(&oidc.Config{ClientID: "staff-web"}).Verify(rp.ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Groups []string }
		_ = idt.Claims(&c)
		want := []string{GroupSupervisor, GroupDeptPrefix + "statistics", GroupDeptPrefix + "communication", GroupDeptPrefix + "it"}
		if !slices.Equal(c.Groups, want) {
			t.Errorf("groups %v, want %v", c.Groups, want)
		}
	})
}

func asRetrieveError(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	*re = r
	return ok
}

// TestStaffClientAuthMethods: client_secret_post and a public client
// with PKCE alone work too; a custom groups claim name is honoured.
func TestStaffClientAuthMethods(t *testing.T) {
	s := startOP(t, func(cfg *Config) { staffClients(cfg); cfg.GroupsClaim = "roles" })
	for _, tc := range []struct {
		name, client, secret, redirect string
		style                          oauth2.AuthStyle
	}{
		{"client_secret_post", "staff-web", "s3cret", staffRedirect, oauth2.AuthStyleInParams},
		{"public client, PKCE only", "staff-cli", "", publicRedirect, oauth2.AuthStyleInParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newStaffRP(t, s, tc.client, tc.secret, tc.redirect, tc.style)
			a := newAttempt()
			tok, err := rp.oauth.Exchange(rp.ctx, rp.loginCode(t, s, a, "admin"), oauth2.VerifierOption(a.verifier))
			if err != nil {
				t.Fatal(err)
			}
			idt, err := rp.provider.Verifier(&oidc.Config{ClientID: tc.client}).Verify(rp.ctx, tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			var c map[string]any
			_ = idt.Claims(&c)
			if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != GroupAdmin || c["groups"] != nil {
				t.Errorf("claims %v: want the groups under roles", c)
			}
		})
	}
}

// TestStaffTokenRefusals: each case logs in afresh and breaks one thing
// in the token request.
func TestStaffTokenRefusals(t *testing.T) {
	s := startOP(t, staffClients)
	rp := newStaffRP(t, s, "staff-web", "s3cret", staffRedirect, oauth2.AuthStyleInHeader)
	basic := func(id, secret string) http.Header {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return r.Header
	}
	cases := []struct {
		name   string
		mutate func(form url.Values, h *http.Header)
		before func()
		status int
		err    string
	}{
		{name: "correct request", status: 200},
		{name: "wrong PKCE verifier", mutate: func(f url.Values, _ *http.Header) { f.Set("code_verifier", oauth2.GenerateVerifier()) }, status: 400, err: "invalid_grant"},
		{name: "no PKCE verifier", mutate: func(f url.Values, _ *http.Header) { f.Del("code_verifier") }, status: 400, err: "invalid_grant"},
		{name: "wrong redirect_uri", mutate: func(f url.Values, _ *http.Header) { f.Set("redirect_uri", staffRedirect+"/x") }, status: 400, err: "invalid_grant"},
		{name: "wrong client secret", mutate: func(_ url.Values, h *http.Header) { *h = basic("staff-web", "guess") }, status: 401, err: "invalid_client"},
		{name: "no client secret", mutate: func(f url.Values, h *http.Header) { *h = nil; f.Set("client_id", "staff-web") }, status: 401, err: "invalid_client"},
		{name: "secret in header and body", mutate: func(f url.Values, _ *http.Header) { f.Set("client_secret", "s3cret") }, status: 400, err: "invalid_request"},
		{name: "another client's code", mutate: func(f url.Values, h *http.Header) { *h = nil; f.Set("client_id", "staff-cli") }, status: 400, err: "invalid_grant"},
		{name: "unknown client", mutate: func(_ url.Values, h *http.Header) { *h = basic("nobody", "x") }, status: 401, err: "invalid_client"},
		{name: "unknown code", mutate: func(f url.Values, _ *http.Header) { f.Set("code", randomToken()) }, status: 400, err: "invalid_grant"},
		{name: "other grant type", mutate: func(f url.Values, _ *http.Header) { f.Set("grant_type", "password") }, status: 400, err: "unsupported_grant_type"},
		{name: "expired code", before: func() { s.clock.advance(CodeTTL + time.Second) }, status: 400, err: "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAttempt()
			code := rp.loginCode(t, s, a, "admin")
			if tc.before != nil {
				tc.before()
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {staffRedirect}, "code_verifier": {a.verifier}}
			h := basic("staff-web", "s3cret")
			if tc.mutate != nil {
				tc.mutate(form, &h)
			}
			resp, body := postForm(t, s.srv.Client(), s.issuer+"/token", form, h)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatalf("not JSON: %q", body)
			}
			if tc.err == "" {
				if out["access_token"] == nil || out["id_token"] == nil || out["token_type"] != "Bearer" {
					t.Errorf("response %v", out)
				}
				return
			}
			if out["error"] != tc.err || out["access_token"] != nil {
				t.Errorf("response %v, want error %s", out, tc.err)
			}
		})
	}
}

// TestAuthorizeRefusals: a request whose client or redirect_uri is not
// verified gets an error page and is sent nowhere; any other error goes
// back to the registered redirect_uri.
func TestAuthorizeRefusals(t *testing.T) {
	s := startOP(t, staffClients)
	good := url.Values{
		"client_id": {"staff-web"}, "redirect_uri": {staffRedirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st4te"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
	cases := []struct {
		name     string
		mutate   func(q url.Values)
		redirect string // error code expected at the redirect_uri; "" means an error page
	}{
		{name: "unknown client", mutate: func(q url.Values) { q.Set("client_id", "evil") }},
		{name: "unregistered redirect_uri", mutate: func(q url.Values) { q.Set("redirect_uri", "https://evil.example.org/cb") }},
		{name: "redirect_uri with extra path", mutate: func(q url.Values) { q.Set("redirect_uri", staffRedirect+"/../../evil") }},
		{name: "redirect_uri with extra query", mutate: func(q url.Values) { q.Set("redirect_uri", staffRedirect+"?next=https://evil.example.org") }},
		{name: "another client's redirect_uri", mutate: func(q url.Values) { q.Set("redirect_uri", publicRedirect) }},
		{name: "no redirect_uri", mutate: func(q url.Values) { q.Del("redirect_uri") }},
		{name: "request_uri", mutate: func(q url.Values) { q.Set("request_uri", "https://evil.example.org/ro") }},
		{name: "no PKCE", mutate: func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, redirect: "invalid_request"},
		{name: "PKCE plain", mutate: func(q url.Values) { q.Set("code_challenge_method", "plain") }, redirect: "invalid_request"},
		{name: "malformed challenge", mutate: func(q url.Values) { q.Set("code_challenge", "short") }, redirect: "invalid_request"},
		{name: "implicit flow", mutate: func(q url.Values) { q.Set("response_type", "token") }, redirect: "unsupported_response_type"},
		{name: "no openid scope", mutate: func(q url.Values) { q.Set("scope", "profile") }, redirect: "invalid_scope"},
		{name: "request object for a staff client", mutate: func(q url.Values) { q.Set("request", "a.b.c") }, redirect: "request_not_supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = slices.Clone(v)
			}
			tc.mutate(q)
			resp, body := get(t, browser(t), s.issuer+"/authorize?"+q.Encode())
			if tc.redirect == "" {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || strings.Contains(body, `name="form_token"`) {
					t.Fatalf("status %d Location %q: want an error page and no redirect", resp.StatusCode, resp.Header.Get("Location"))
				}
				if strings.Contains(body, "<a ") || !strings.Contains(body, "Richiesta non valida") {
					t.Errorf("error page %.300s", body)
				}
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), staffRedirect+"?") {
				t.Fatalf("status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if lq := loc.Query(); lq.Get("error") != tc.redirect || lq.Get("state") != "st4te" || lq.Get("iss") != s.issuer || lq.Has("code") {
				t.Errorf("redirect %s, want error %s", loc, tc.redirect)
			}
		})
	}
}

// TestPickRefusals: the pick must come from the browser that got the
// page, with the page's form token, once.
func TestPickRefusals(t *testing.T) {
	s := startOP(t, staffClients)
	rp := newStaffRP(t, s, "staff-web", "s3cret", staffRedirect, oauth2.AuthStyleInHeader)
	page := func(t *testing.T) (*http.Client, pickerForm, *http.Response) {
		c := browser(t)
		resp, body := get(t, c, rp.authURL(newAttempt()))
		return c, parsePicker(t, resp, body), resp
	}

	t.Run("page offers staff only, safely", func(t *testing.T) {
		_, pf, resp := page(t)
		want := []string{"operator-statistics", "operator-communication", "operator-it", "operator-statistics-2", "supervisor", "admin"}
		if !slices.Equal(pf.identities, want) {
			t.Errorf("identities %v, want %v", pf.identities, want)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "form-action 'self' http://127.0.0.1:1") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", resp.Header)
		}
		// A browser sends Origin: null on a POST from a no-referrer page.
		if rp := resp.Header.Get("Referrer-Policy"); rp != "same-origin" {
			t.Errorf("Referrer-Policy %q", rp)
		}
	})
	t.Run("same-origin pick is accepted", func(t *testing.T) {
		c, pf, _ := page(t)
		resp, body := postForm(t, c, pf.action, pf.values("admin"), http.Header{"Origin": {s.srv.URL}})
		if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" {
			t.Errorf("status %d Location %s %.200s", resp.StatusCode, loc, body)
		}
	})
	cases := []struct {
		name   string
		post   func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string)
		status int
		errLoc string // error code at the redirect_uri
	}{
		{name: "wrong form token", status: http.StatusForbidden, post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			v := pf.values("admin")
			v.Set("form_token", randomToken())
			return postForm(t, c, pf.action, v, nil)
		}},
		{name: "no form token", status: http.StatusForbidden, post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			v := pf.values("admin")
			v.Del("form_token")
			return postForm(t, c, pf.action, v, nil)
		}},
		{name: "another browser with the right token", status: http.StatusForbidden, post: func(t *testing.T, _ *http.Client, pf pickerForm) (*http.Response, string) {
			return postForm(t, browser(t), pf.action, pf.values("admin"), nil)
		}},
		{name: "cross-site origin", status: http.StatusForbidden, post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			return postForm(t, c, pf.action, pf.values("admin"), http.Header{"Origin": {"https://evil.example.org"}})
		}},
		{name: "unknown request", status: http.StatusBadRequest, post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			v := pf.values("admin")
			v.Set("request_id", randomToken())
			return postForm(t, c, pf.action, v, nil)
		}},
		{name: "request used twice", status: http.StatusBadRequest, post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			if resp, _ := postForm(t, c, pf.action, pf.values("admin"), nil); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("first pick %d", resp.StatusCode)
			}
			return postForm(t, c, pf.action, pf.values("admin"), nil)
		}},
		{name: "request expired", status: http.StatusBadRequest, post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			s.clock.advance(requestTTL + time.Second)
			return postForm(t, c, pf.action, pf.values("admin"), nil)
		}},
		{name: "citizen for a staff client", status: http.StatusSeeOther, errLoc: "access_denied", post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			return postForm(t, c, pf.action, pf.values("citizen-mario"), nil)
		}},
		{name: "unknown identity", status: http.StatusSeeOther, errLoc: "access_denied", post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			return postForm(t, c, pf.action, pf.values("root"), nil)
		}},
		{name: "cancel", status: http.StatusSeeOther, errLoc: "access_denied", post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			v := pf.values("")
			v.Set("cancel", "1")
			return postForm(t, c, pf.action, v, nil)
		}},
		{name: "PUT is not allowed", status: http.StatusMethodNotAllowed, post: func(t *testing.T, c *http.Client, pf pickerForm) (*http.Response, string) {
			req, _ := http.NewRequest(http.MethodPut, pf.action, nil)
			return do(t, c, req)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, pf, _ := page(t)
			resp, body := tc.post(t, c, pf)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %.300s, want %d", resp.StatusCode, body, tc.status)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if tc.errLoc == "" {
				if resp.Header.Get("Location") != "" {
					t.Errorf("redirected to %s", loc)
				}
				return
			}
			if !strings.HasPrefix(loc.String(), staffRedirect+"?") || loc.Query().Get("error") != tc.errLoc || loc.Query().Has("code") {
				t.Errorf("redirect %s, want error %s", loc, tc.errLoc)
			}
		})
	}
}

// TestOversizedBody: bodies are capped; the answer is an OAuth error.
func TestOversizedBody(t *testing.T) {
	s := startOP(t, staffClients)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {strings.Repeat("x", maxBody)}}
	resp, body := postForm(t, s.srv.Client(), s.issuer+"/token", form, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"invalid_request"`) {
		t.Errorf("status %d %s", resp.StatusCode, body)
	}
}
