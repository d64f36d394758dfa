package spid

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestIntegrationOIDCProvider runs whole logins, as a browser does them,
// against panva's oidc-provider configured for the SPID/CIE profile
// (testdata/op): signed request object required, PKCE S256, private_key_jwt
// only, pairwise subjects, userinfo signed then encrypted with RSA-OAEP,
// SPID acr values, revocation.
func TestIntegrationOIDCProvider(t *testing.T) {
	s := newRPServer(t)
	keys := rpKeys(t)
	sig, err := loadKey(keys.Signing, useSig)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := loadKey(keys.Encryption, useEnc)
	if err != nil {
		t.Fatal(err)
	}
	op := startNodeOP(t, s.srv.URL, s.srv.URL+"/spid/callback", jose.JSONWebKeySet{Keys: []jose.JSONWebKey{sig.public(), enc.public()}})

	rec := &recorder{}
	deps := rec.deps()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	recordAudit := deps.Audit
	deps.Audit = nil
	deps.Logger = logger
	// Both the caller's hook and the default slog audit see every event,
	// so the test can check what each of them would store.
	deps.Audit = func(ctx context.Context, e AuditEvent) { recordAudit(ctx, e); slogAudit(logger)(ctx, e) }
	// The OP's endpoints come from its discovery document here; the
	// hostile OP test uses explicit endpoints.
	s.start(t, testConfig(t, s.srv.URL, Provider{Name: "test-op", Issuer: op.issuer}), deps)

	c := browser(t)
	login := func(t *testing.T, acr string) (*http.Response, string) {
		t.Helper()
		page, body := get(t, c, s.srv.URL+s.rp.LoginURL("test-op"))
		if !strings.HasPrefix(page.Request.URL.String(), op.issuer+"/interaction/") {
			t.Fatalf("login did not reach the OP's login page but %s (%d): %.300s", page.Request.URL, page.StatusCode, body)
		}
		set := url.Values{}
		if acr != "" {
			set.Set("acr", acr)
		}
		return submitForm(t, c, page, body, set)
	}

	var callbackURL string
	t.Run("login", func(t *testing.T) {
		resp, body := login(t, "")
		if resp.StatusCode != http.StatusOK || body != "welcome RSSMRA80A01H501U" {
			t.Fatalf("callback: %d %q, error %v", resp.StatusCode, body, rec.lastErr())
		}
		callbackURL = resp.Request.URL.String()
		id := rec.logins[len(rec.logins)-1]
		tok := rec.tokens[len(rec.tokens)-1]
		if len(id.Subject) != 64 || id.Subject == "citizen-1" {
			t.Errorf("subject %q, want the OP's pairwise identifier", id.Subject)
		}
		want := Identity{
			FiscalCode: "RSSMRA80A01H501U", GivenName: "Mario", FamilyName: "Rossi",
			Email: "mario.rossi@example.org", PhoneNumber: "+393331234567",
			Issuer: op.issuer, Subject: id.Subject, ACR: "https://www.spid.gov.it/SpidL2", Provider: "test-op",
		}
		if id != want {
			t.Errorf("identity\n got %+v\nwant %+v", id, want)
		}
		if tok.Provider != "test-op" || tok.AccessToken == "" || tok.IDToken == "" || tok.Expiry.IsZero() {
			t.Errorf("tokens %+v", tok)
		}
		wantEvents := []string{EventRequestSent, EventCallbackReceived, EventTokenResponse, EventUserinfo, EventLogin}
		if got := rec.eventNames(); !slices.Equal(got, wantEvents) {
			t.Errorf("audit events %v, want %v", got, wantEvents)
		}
		// Identifiers in the audit, secrets nowhere: neither in the events
		// the hook got nor in the default slog lines.
		events, _ := json.Marshal(rec.events)
		code := resp.Request.URL.Query().Get("code")
		idt := jwtPayload(t, tok.IDToken)
		for name, secret := range map[string]string{"access token": tok.AccessToken, "ID token": tok.IDToken, "code": code, "nonce": idt["nonce"].(string)} {
			if secret == "" {
				t.Fatalf("no %s to look for", name)
			}
			if bytes.Contains(events, []byte(secret)) || strings.Contains(logs.String(), secret) {
				t.Errorf("the %s appears in the audit trail", name)
			}
		}
		tr := rec.events[2]
		if tr.AccessTokenHash != tokenHash(tok.AccessToken) || tr.IDTokenHash != tokenHash(tok.IDToken) || tr.JTI == "" || tr.Subject != id.Subject {
			t.Errorf("token_response event %+v lacks the token identifiers", tr)
		}
		if !strings.Contains(logs.String(), `"access_token_hash":"`+tokenHash(tok.AccessToken)+`"`) {
			t.Errorf("slog audit lacks the access token hash:\n%s", logs.String())
		}
	})

	t.Run("replayed callback", func(t *testing.T) {
		resp, _ := get(t, c, callbackURL)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		wantErr(t, rec.lastErr(), ErrUnknownState, "unknown, used or expired state")
	})

	t.Run("acr below requested", func(t *testing.T) {
		n := len(rec.logins)
		resp, _ := login(t, "https://www.spid.gov.it/SpidL1")
		if resp.StatusCode != http.StatusBadGateway || len(rec.logins) != n {
			t.Errorf("status %d, logins %d: an L1 login was accepted for an L2 request", resp.StatusCode, len(rec.logins)-n)
		}
		wantErr(t, rec.lastErr(), ErrIDToken, "acr https://www.spid.gov.it/SpidL1 is below the requested https://www.spid.gov.it/SpidL2")
	})

	t.Run("acr above requested", func(t *testing.T) {
		resp, body := login(t, "https://www.spid.gov.it/SpidL3")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %q, error %v", resp.StatusCode, body, rec.lastErr())
		}
		if got := rec.logins[len(rec.logins)-1].ACR; got != "https://www.spid.gov.it/SpidL3" {
			t.Errorf("acr %q", got)
		}
	})

	t.Run("logout revokes the access token", func(t *testing.T) {
		tok := rec.tokens[len(rec.tokens)-1]
		userinfoStatus := func() int {
			req, _ := http.NewRequest(http.MethodGet, op.issuer+"/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if st := userinfoStatus(); st != http.StatusOK {
			t.Fatalf("before logout the access token gets userinfo %d", st)
		}
		resp, err := c.Post(s.srv.URL+"/spid/logout", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || rec.logouts != 1 {
			t.Fatalf("logout: %d, OnLogout calls %d", resp.StatusCode, rec.logouts)
		}
		if st := userinfoStatus(); st != http.StatusUnauthorized {
			t.Errorf("after logout the access token gets userinfo %d, want 401 (revoked)", st)
		}
		names := rec.eventNames()
		if got := names[len(names)-2:]; !slices.Equal(got, []string{EventRevocation, EventLogout}) {
			t.Errorf("last audit events %v", got)
		}
		if resp, err := c.Get(s.srv.URL + "/spid/logout"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET logout: %v %v, want 405", resp.StatusCode, err)
		}
	})

	t.Run("key rotation at the OP", func(t *testing.T) {
		before := op.jwksFetches(t)
		if before == 0 {
			t.Fatal("the RP never fetched the OP's keys")
		}
		if resp, _ := login(t, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("login before rotation: %d, %v", resp.StatusCode, rec.lastErr())
		}
		if n := op.jwksFetches(t); n != before {
			t.Errorf("the RP fetched the OP's keys again (%d → %d) though it had them cached", before, n)
		}
		op.rotate(t)
		resp, body := login(t, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login after rotation: %d %q, %v", resp.StatusCode, body, rec.lastErr())
		}
		if n := op.jwksFetches(t); n != before+1 {
			t.Errorf("JWKS fetches %d → %d, want exactly one refresh for the new kid", before, n)
		}
	})
}
