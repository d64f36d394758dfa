package devidp

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/sportello/sportello/auth/spid"
)

// rpRecorder is the server side of auth/spid's hooks, as a server would
// wire them: a session cookie mapping to the OP's tokens.
type rpRecorder struct {
	mu       sync.Mutex
	logins   []spid.Identity
	tokens   []spid.Tokens
	errs     []error
	events   []string
	sessions map[string]spid.Tokens
}

func (rec *rpRecorder) deps() spid.Deps {
	rec.sessions = map[string]spid.Tokens{}
	return spid.Deps{
		OnLogin: func(_ context.Context, w http.ResponseWriter, _ *http.Request, id spid.Identity, tok spid.Tokens) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.logins = append(rec.logins, id)
			rec.tokens = append(rec.tokens, tok)
			sid := randomToken()
			rec.sessions[sid] = tok
			http.SetCookie(w, &http.Cookie{Name: "test_session", Value: sid, Path: "/"})
			fmt.Fprintf(w, "welcome %s", id.FiscalCode)
			return nil
		},
		SessionTokens: func(r *http.Request) (spid.Tokens, bool) {
			c, err := r.Cookie("test_session")
			if err != nil {
				return spid.Tokens{}, false
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			tok, ok := rec.sessions[c.Value]
			return tok, ok
		},
		OnLogout: func(_ context.Context, w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusNoContent)
			return nil
		},
		OnError: func(w http.ResponseWriter, _ *http.Request, err error) {
			rec.mu.Lock()
			rec.errs = append(rec.errs, err)
			rec.mu.Unlock()
			http.Error(w, "login failed", spid.StatusOf(err))
		},
		Audit: func(_ context.Context, e spid.AuditEvent) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.events = append(rec.events, e.Event)
		},
	}
}

// TestSPIDRelyingPartyEndToEnd runs auth/spid's real RP against the
// development OP, configured the way the server does it: the RP's key
// files give the OP its client keys, and SPIDProvider gives the RP the
// OP's metadata.
func TestSPIDRelyingPartyEndToEnd(t *testing.T) {
	keys, err := spid.GenerateKeyFiles(t.TempDir(), 2048)
	if err != nil {
		t.Fatal(err)
	}
	rpMux := http.NewServeMux()
	rpSrv := httptest.NewServer(rpMux)
	t.Cleanup(rpSrv.Close)
	jwks, err := SPIDClientJWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	s := startOP(t, func(cfg *Config) {
		cfg.Clients = []Client{{ID: rpSrv.URL, Profile: ProfileSPID, RedirectURIs: []string{rpSrv.URL + "/spid/callback"}, JWKS: jwks}}
	})
	rec := &rpRecorder{}
	rp, err := spid.New(spid.Config{ClientID: rpSrv.URL, ClientName: "Sportello", Keys: keys, Providers: []spid.Provider{s.op.SPIDProvider("dev")}}, rec.deps())
	if err != nil {
		t.Fatal(err)
	}
	rp.Mount(rpMux)

	t.Run("SPIDClientJWKS has the kids of the RP's entity configuration", func(t *testing.T) {
		ec, err := rp.EntityConfiguration()
		if err != nil {
			t.Fatal(err)
		}
		var stmt struct {
			Metadata struct {
				RP struct {
					JWKS jose.JSONWebKeySet `json:"jwks"`
				} `json:"openid_relying_party"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(jwtPayload(t, ec), &stmt); err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, k := range jwks.Keys {
			got = append(got, k.KeyID+"/"+k.Use)
		}
		for _, k := range stmt.Metadata.RP.JWKS.Keys {
			want = append(want, k.KeyID+"/"+k.Use)
		}
		if !slices.Equal(got, want) {
			t.Errorf("kids %v, entity configuration has %v", got, want)
		}
	})

	c := browser(t)
	loginAs := func(t *testing.T, identity string) (*http.Response, string) {
		t.Helper()
		resp, _ := get(t, c, rpSrv.URL+rp.LoginURL("dev"))
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), s.issuer+"/authorize?") {
			t.Fatalf("RP login start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		page, body := get(t, c, resp.Header.Get("Location"))
		pf := parsePicker(t, page, body)
		if want := []string{"citizen-mario", "citizen-giuseppe"}; !slices.Equal(pf.identities, want) {
			t.Errorf("picker offers %v to the SPID client, want %v", pf.identities, want)
		}
		if !strings.Contains(body, "https://www.spid.gov.it/SpidL2") {
			t.Errorf("picker does not show the requested level")
		}
		resp, body = postForm(t, c, pf.action, pf.values(identity), nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), rpSrv.URL+"/spid/callback?") {
			t.Fatalf("pick: %d %s %.200s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		return get(t, c, resp.Header.Get("Location"))
	}

	resp, body := loginAs(t, "citizen-mario")
	if resp.StatusCode != http.StatusOK || body != "welcome RSSMRA80A01H501U" {
		t.Fatalf("callback %d %q; RP errors %v", resp.StatusCode, body, rec.errs)
	}
	id, tok := rec.logins[0], rec.tokens[0]
	want := spid.Identity{
		FiscalCode: "RSSMRA80A01H501U", GivenName: "Mario", FamilyName: "Rossi",
		Email: "mario.rossi@example.org", PhoneNumber: "+393331234567",
		Issuer: s.issuer, Subject: id.Subject, ACR: spid.SpidL2.String(), Provider: "dev",
	}
	if id != want || len(id.Subject) != 64 || id.Subject == "citizen-mario" {
		t.Errorf("identity\n got %+v\nwant %+v (pairwise sub)", id, want)
	}

	userinfo := func(accessToken string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+accessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Content-Type")
	}
	if st, ct := userinfo(tok.AccessToken); st != http.StatusOK || ct != "application/jwt" {
		t.Fatalf("userinfo before logout: %d %s", st, ct)
	}

	t.Run("pairwise subject is stable per citizen", func(t *testing.T) {
		if resp, _ := loginAs(t, "citizen-giuseppe"); resp.StatusCode != http.StatusOK {
			t.Fatalf("login: %d %v", resp.StatusCode, rec.errs)
		}
		if resp, _ := loginAs(t, "citizen-mario"); resp.StatusCode != http.StatusOK {
			t.Fatalf("login: %d %v", resp.StatusCode, rec.errs)
		}
		if g, m := rec.logins[1], rec.logins[2]; g.FiscalCode != "VRDGPP75E15F205W" || g.Subject == id.Subject || m.Subject != id.Subject {
			t.Errorf("subjects: mario %s, giuseppe %s, mario again %s", id.Subject, g.Subject, m.Subject)
		}
	})

	t.Run("logout revokes the access token", func(t *testing.T) {
		last := rec.tokens[len(rec.tokens)-1]
		resp, _ := postForm(t, c, rpSrv.URL+"/spid/logout", url.Values{}, nil)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout %d", resp.StatusCode)
		}
		if !slices.Contains(rec.events, spid.EventRevocation) {
			t.Errorf("no revocation in the RP's audit: %v (errors %v)", rec.events, rec.errs)
		}
		if st, _ := userinfo(last.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("userinfo with the revoked token: %d, want 401", st)
		}
		if st, _ := userinfo(tok.AccessToken); st != http.StatusOK {
			t.Errorf("userinfo with another session's token: %d, want 200", st)
		}
	})
}

// spidRequest is a request object as auth/spid signs it.
func (c *spidClient) requestClaims(issuer string, a attempt) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": c.id, "sub": c.id, "client_id": c.id, "aud": issuer,
		"iat": now.Unix(), "exp": now.Add(3 * time.Minute).Unix(), "jti": randomToken(),
		"response_type": "code", "redirect_uri": c.redirect, "scope": "openid",
		"nonce": a.nonce, "state": a.state, "prompt": "consent login",
		"acr_values":     spid.SpidL2.String(),
		"code_challenge": oauth2.S256ChallengeFromVerifier(a.verifier), "code_challenge_method": "S256",
	}
}

func (c *spidClient) authURL(issuer, request string, a attempt) string {
	return issuer + "/authorize?" + url.Values{
		"client_id": {c.id}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(a.verifier)}, "code_challenge_method": {"S256"},
		"request": {request},
	}.Encode()
}

func (c *spidClient) assertion(t *testing.T, aud string) string {
	now := time.Now()
	return signWith(t, c.sig, "rp-sig", map[string]any{"iss": c.id, "sub": c.id, "aud": aud, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": randomToken()})
}

func (c *spidClient) authForm(assertion string) url.Values {
	return url.Values{"client_id": {c.id}, "client_assertion_type": {clientAssertionType}, "client_assertion": {assertion}}
}

// TestSPIDProfile drives the SPID profile by hand and checks what the OP
// sends: the acr asked for, the userinfo JWE's algorithms and kid.
func TestSPIDProfile(t *testing.T) {
	rc := newSPIDClient(t)
	s := startOP(t, func(cfg *Config) { cfg.Clients = []Client{rc.client()} })
	a := newAttempt()
	claims := rc.requestClaims(s.issuer, a)
	claims["acr_values"] = spid.SpidL1.String() + " " + spid.SpidL3.String()
	loc := login(t, browser(t), rc.authURL(s.issuer, signWith(t, rc.sig, "rp-sig", claims), a), "citizen-giuseppe")
	if !strings.HasPrefix(loc.String(), rc.redirect+"?") || loc.Query().Get("state") != a.state {
		t.Fatalf("redirect %s", loc)
	}
	form := rc.authForm(rc.assertion(t, s.issuer+"/token"))
	form.Set("grant_type", "authorization_code")
	form.Set("code", loc.Query().Get("code"))
	form.Set("redirect_uri", rc.redirect)
	form.Set("code_verifier", a.verifier)
	resp, body := postForm(t, s.srv.Client(), s.issuer+"/token", form, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tr tokenResponse
	_ = json.Unmarshal([]byte(body), &tr)

	ctx := oidc.ClientContext(context.Background(), s.srv.Client())
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: rc.id}).Verify(ctx, tr.IDToken)
	if err != nil {
		t.Fatal(err)
	}
	var idc struct{ ACR, Nonce string }
	_ = idt.Claims(&idc)
	if idc.ACR != spid.SpidL3.String() || idc.Nonce != a.nonce || idt.VerifyAccessToken(tr.AccessToken) != nil {
		t.Errorf("ID token acr %q nonce %q (want the highest level asked for)", idc.ACR, idc.Nonce)
	}

	req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	resp, body = do(t, s.srv.Client(), req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("userinfo %d %s", resp.StatusCode, body)
	}
	jwe, err := jose.ParseEncryptedCompact(body, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256CBC_HS512})
	if err != nil {
		t.Fatalf("userinfo JWE: %v", err)
	}
	if jwe.Header.KeyID != "rp-enc" {
		t.Errorf("JWE kid %q", jwe.Header.KeyID)
	}
	inner, err := jwe.Decrypt(rc.enc)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := (&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&s.op.key.priv.PublicKey}}).VerifySignature(ctx, string(inner))
	if err != nil {
		t.Fatalf("inner JWS: %v", err)
	}
	var ui map[string]any
	_ = json.Unmarshal(payload, &ui)
	if ui[spid.FiscalNumberClaim] != "TINIT-VRDGPP75E15F205W" || ui["aud"] != rc.id || ui["iss"] != s.issuer || ui["sub"] != idt.Subject || ui["given_name"] != "Giuseppe" {
		t.Errorf("userinfo claims %v", ui)
	}

	// The access token carries the fiscal number for the server.
	at, err := provider.Verifier(&oidc.Config{ClientID: DefaultAudience}).Verify(ctx, tr.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var atc map[string]any
	_ = at.Claims(&atc)
	if atc[spid.FiscalNumberClaim] != "TINIT-VRDGPP75E15F205W" || atc["client_id"] != rc.id || atc["groups"] != nil {
		t.Errorf("access token claims %v", atc)
	}

	// Revocation with private_key_jwt, aud the revocation endpoint.
	rev := rc.authForm(rc.assertion(t, s.issuer+"/revoke"))
	rev.Set("token", tr.AccessToken)
	if resp, body := postForm(t, s.srv.Client(), s.issuer+"/revoke", rev, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, s.srv.Client(), req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo after revocation %d", resp.StatusCode)
	}
}

// TestSPIDAuthorizeRefusals: the request object is the only source of
// the parameters, and an unverifiable one never leads to a redirect.
func TestSPIDAuthorizeRefusals(t *testing.T) {
	rc := newSPIDClient(t)
	s := startOP(t, func(cfg *Config) { cfg.Clients = []Client{rc.client()} })
	past := time.Now().Add(-10 * time.Minute).Unix()
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	cases := []struct {
		name     string
		claims   func(map[string]any)
		sign     func(t *testing.T, c map[string]any) string // nil: signed by the RP's key
		query    func(q url.Values)
		redirect string // error code at the redirect_uri; "" means an error page
		why      string // in the error page
	}{
		{name: "no request object", why: `must send a signed request object`, query: func(q url.Values) { q.Del("request") }},
		{name: "unsigned request object", why: `unexpected signature algorithm "none"`, sign: func(_ *testing.T, c map[string]any) string { return unsignedJWT(c) }},
		{name: "signed by another key under the RP's kid", why: `signature does not verify`, sign: func(t *testing.T, c map[string]any) string { return signWith(t, rc.other, "rp-sig", c) }},
		{name: "signed with an unknown kid", why: `kid "rp-sig-2" is not one of`, sign: func(t *testing.T, c map[string]any) string { return signWith(t, rc.other, "rp-sig-2", c) }},
		{name: "signed with the encryption key", why: `kid "rp-enc" is not one of`, sign: func(t *testing.T, c map[string]any) string { return signWith(t, rc.enc, "rp-enc", c) }},
		{name: "HMAC", why: `unexpected signature algorithm "HS256"`, sign: func(t *testing.T, c map[string]any) string { return hmacJWT(t, c) }},
		{name: "wrong audience", why: `invalid audience`, claims: set("aud", "https://idp.example.it")},
		{name: "wrong issuer", why: `invalid issuer`, claims: set("iss", "https://other-rp.example.it")},
		{name: "client_id differs", why: `client_id "https://other-rp.example.it" is not`, claims: set("client_id", "https://other-rp.example.it")},
		{name: "expired", why: `token is expired`, claims: func(c map[string]any) { c["iat"], c["exp"] = past, past+60 }},
		{name: "no exp", why: `no exp`, claims: del("exp")},
		{name: "exp far away", why: `exp is more than`, claims: set("exp", time.Now().Add(24*time.Hour).Unix())},
		{name: "iat in the future", why: `issued in the future`, claims: set("iat", time.Now().Add(time.Hour).Unix())},
		{name: "unregistered redirect_uri", why: `redirect_uri "https://evil.example.org/cb" is not registered`, claims: set("redirect_uri", "https://evil.example.org/cb")},
		{name: "query client_id of another client", why: `unknown client_id`, query: func(q url.Values) { q.Set("client_id", "staff") }},
		{name: "no nonce", claims: del("nonce"), redirect: "invalid_request"},
		{name: "no state", claims: del("state"), redirect: "invalid_request"},
		{name: "no PKCE", claims: func(c map[string]any) { delete(c, "code_challenge"); delete(c, "code_challenge_method") }, query: func(q url.Values) {
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}, redirect: "invalid_request"},
		{name: "query challenge differs from the object's", query: func(q url.Values) {
			q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
		}, redirect: "invalid_request"},
		{name: "unknown acr", claims: set("acr_values", "urn:example:loa:high"), redirect: "invalid_request"},
		{name: "no openid scope", claims: set("scope", "profile"), query: func(q url.Values) { q.Del("scope") }, redirect: "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAttempt()
			c := rc.requestClaims(s.issuer, a)
			if tc.claims != nil {
				tc.claims(c)
			}
			var ro string
			if tc.sign != nil {
				ro = tc.sign(t, c)
			} else {
				ro = signWith(t, rc.sig, "rp-sig", c)
			}
			u, _ := url.Parse(rc.authURL(s.issuer, ro, a))
			if tc.query != nil {
				q := u.Query()
				tc.query(q)
				u.RawQuery = q.Encode()
			}
			resp, body := get(t, browser(t), u.String())
			if tc.redirect == "" {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || strings.Contains(body, "form_token") {
					t.Fatalf("status %d Location %q %.300s: want an error page", resp.StatusCode, resp.Header.Get("Location"), body)
				}
				if got := errorText(body); !strings.Contains(got, tc.why) {
					t.Errorf("refused for %q, want %q", got, tc.why)
				}
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), rc.redirect+"?") || loc.Query().Get("error") != tc.redirect || loc.Query().Has("code") {
				t.Fatalf("status %d Location %q, want error %s at the redirect_uri", resp.StatusCode, loc, tc.redirect)
			}
		})
	}

	t.Run("staff identity for a SPID client", func(t *testing.T) {
		a := newAttempt()
		c := browser(t)
		page, body := get(t, c, rc.authURL(s.issuer, signWith(t, rc.sig, "rp-sig", rc.requestClaims(s.issuer, a)), a))
		pf := parsePicker(t, page, body)
		resp, _ := postForm(t, c, pf.action, pf.values("admin"), nil)
		if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" {
			t.Errorf("status %d Location %s", resp.StatusCode, loc)
		}
	})
}

// TestSPIDTokenRefusals: private_key_jwt only, with the RP's key, for
// this endpoint, once.
func TestSPIDTokenRefusals(t *testing.T) {
	rc := newSPIDClient(t)
	s := startOP(t, func(cfg *Config) {
		cfg.Clients = []Client{rc.client(), {ID: "staff", Profile: ProfileStaff, RedirectURIs: []string{staffRedirect}, Secret: "s"}}
	})
	tokenURL := s.issuer + "/token"
	now := time.Now()
	assertion := func(edit func(c map[string]any)) string {
		c := map[string]any{"iss": rc.id, "sub": rc.id, "aud": tokenURL, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": randomToken()}
		if edit != nil {
			edit(c)
		}
		return signWith(t, rc.sig, "rp-sig", c)
	}
	replayed := assertion(nil)
	cases := []struct {
		name   string
		auth   func(f url.Values, h http.Header)
		before func(t *testing.T)
		status int
		err    string
	}{
		{name: "correct assertion", status: 200},
		{name: "aud is the issuer", auth: func(f url.Values, _ http.Header) {
			f.Set("client_assertion", assertion(func(c map[string]any) { c["aud"] = s.issuer }))
		}, status: 200},
		{name: "no client_id, iss names the client", auth: func(f url.Values, _ http.Header) { f.Del("client_id") }, status: 200},
		{name: "assertion signed by another key", auth: func(f url.Values, _ http.Header) {
			f.Set("client_assertion", signWith(t, rc.other, "rp-sig", map[string]any{"iss": rc.id, "sub": rc.id, "aud": tokenURL, "exp": now.Add(time.Minute).Unix(), "jti": randomToken()}))
		}, status: 401, err: "invalid_client"},
		{name: "unsigned assertion", auth: func(f url.Values, _ http.Header) {
			f.Set("client_assertion", unsignedJWT(map[string]any{"iss": rc.id, "sub": rc.id, "aud": tokenURL, "exp": now.Add(time.Minute).Unix(), "jti": randomToken()}))
		}, status: 401, err: "invalid_client"},
		{name: "assertion for another endpoint", auth: func(f url.Values, _ http.Header) {
			f.Set("client_assertion", assertion(func(c map[string]any) { c["aud"] = s.issuer + "/userinfo" }))
		}, status: 401, err: "invalid_client"},
		{name: "assertion expired", auth: func(f url.Values, _ http.Header) {
			f.Set("client_assertion", assertion(func(c map[string]any) {
				c["iat"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-50*time.Minute).Unix()
			}))
		}, status: 401, err: "invalid_client"},
		{name: "assertion without jti", auth: func(f url.Values, _ http.Header) {
			f.Set("client_assertion", assertion(func(c map[string]any) { delete(c, "jti") }))
		}, status: 401, err: "invalid_client"},
		{name: "assertion sub differs", auth: func(f url.Values, _ http.Header) {
			f.Set("client_assertion", assertion(func(c map[string]any) { c["sub"] = "x" }))
		}, status: 401, err: "invalid_client"},
		{name: "assertion jti replayed", before: func(t *testing.T) {
			f := rc.authForm(replayed)
			f.Set("grant_type", "authorization_code")
			f.Set("code", "nope")
			if resp, body := postForm(t, s.srv.Client(), tokenURL, f, nil); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("first use: %d %s", resp.StatusCode, body)
			}
		}, auth: func(f url.Values, _ http.Header) { f.Set("client_assertion", replayed) }, status: 401, err: "invalid_client"},
		{name: "wrong assertion type", auth: func(f url.Values, _ http.Header) { f.Set("client_assertion_type", "urn:x") }, status: 401, err: "invalid_client"},
		{name: "client secret instead", auth: func(f url.Values, _ http.Header) {
			f.Del("client_assertion")
			f.Del("client_assertion_type")
			f.Set("client_secret", "guess")
		}, status: 401, err: "invalid_client"},
		{name: "no authentication", auth: func(f url.Values, _ http.Header) { f.Del("client_assertion"); f.Del("client_assertion_type") }, status: 401, err: "invalid_client"},
		{name: "assertion and Basic", auth: func(_ url.Values, h http.Header) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.SetBasicAuth(url.QueryEscape(rc.id), "x")
			h.Set("Authorization", r.Header.Get("Authorization"))
		}, status: 400, err: "invalid_request"},
		{name: "assertion for a staff client", auth: func(f url.Values, _ http.Header) {
			f.Set("client_id", "staff")
		}, status: 401, err: "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAttempt()
			loc := login(t, browser(t), rc.authURL(s.issuer, signWith(t, rc.sig, "rp-sig", rc.requestClaims(s.issuer, a)), a), "citizen-mario")
			if tc.before != nil {
				tc.before(t)
			}
			form := rc.authForm(assertion(nil))
			form.Set("grant_type", "authorization_code")
			form.Set("code", loc.Query().Get("code"))
			form.Set("redirect_uri", rc.redirect)
			form.Set("code_verifier", a.verifier)
			h := http.Header{}
			if tc.auth != nil {
				tc.auth(form, h)
			}
			resp, body := postForm(t, s.srv.Client(), tokenURL, form, h)
			if resp.StatusCode != tc.status || (tc.err != "" && !strings.Contains(body, `"error":"`+tc.err+`"`)) {
				t.Fatalf("status %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.err)
			}
			t.Logf("%d %s", resp.StatusCode, strings.TrimSpace(body)[:min(len(strings.TrimSpace(body)), 160)])
		})
	}
}

func errorText(body string) string {
	i := strings.Index(body, "<code>")
	if i < 0 {
		return ""
	}
	return html.UnescapeString(strings.Join(strings.Fields(stripTags(body[i:])), " "))
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}
