package spid

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// requestObjectLifetime: the OP verifies the request object when the
// browser arrives, seconds after it is signed.
const requestObjectLifetime = 3 * time.Minute

// bindingCookie names the cookie that ties an attempt to its browser. One
// per attempt (named from the state's hash), so two tabs can log in at
// once without one breaking the other.
func bindingCookie(state string) string { return "spid_" + tokenHash(state)[:12] }

// handleLogin starts a login: GET ?provider=NAME.
func (rp *RP) handleLogin(w http.ResponseWriter, r *http.Request) {
	provider := r.URL.Query().Get("provider")
	if err := rp.StartLogin(w, r, provider); err != nil {
		rp.fail(w, r, AuditEvent{Provider: provider}, err)
	}
}

// StartLogin redirects the browser to the OP named provider with a fresh
// attempt: new state, nonce and PKCE verifier, saved in the store and
// bound to this browser by a cookie. On error nothing has been written to
// w.
func (rp *RP) StartLogin(w http.ResponseWriter, r *http.Request, provider string) error {
	ctx := r.Context()
	o, ok := rp.ops[provider]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownProvider, provider)
	}
	meta, err := o.metadata(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrOP, err)
	}
	now := rp.deps.Now()
	browser := randomString(32)
	a := Attempt{
		State:       randomString(32),
		Nonce:       randomString(32),
		Verifier:    randomString(32),
		Provider:    provider,
		ACR:         o.acr,
		BrowserHash: sha256Hex(browser),
		Expires:     now.Add(AttemptTTL),
	}
	challenge := sha256.Sum256([]byte(a.Verifier))
	codeChallenge := base64.RawURLEncoding.EncodeToString(challenge[:])

	userinfoClaims := map[string]any{}
	for _, c := range rp.cfg.claims() {
		userinfoClaims[c] = nil
	}
	jti := randomString(16)
	// Every parameter goes into the signed request object: an OP that
	// follows the rules reads only those, so the query string below
	// carries just what identifies the client and the request.
	request, err := signJWT(rp.sig, "JWT", map[string]any{
		"iss":                   rp.cfg.ClientID,
		"sub":                   rp.cfg.ClientID,
		"client_id":             rp.cfg.ClientID,
		"aud":                   meta.Issuer,
		"iat":                   now.Unix(),
		"exp":                   now.Add(requestObjectLifetime).Unix(),
		"jti":                   jti,
		"response_type":         "code",
		"redirect_uri":          rp.redirectURI,
		"scope":                 "openid",
		"nonce":                 a.Nonce,
		"state":                 a.State,
		"prompt":                rp.cfg.prompt(),
		"acr_values":            a.ACR.String(),
		"claims":                map[string]any{"userinfo": userinfoClaims},
		"code_challenge":        codeChallenge,
		"code_challenge_method": "S256",
	})
	if err != nil {
		return fmt.Errorf("spid: signing the request object: %w", err)
	}
	if err := rp.deps.Store.Put(ctx, a); err != nil {
		return err
	}
	q := url.Values{
		"client_id":             {rp.cfg.ClientID},
		"response_type":         {"code"},
		"scope":                 {"openid"},
		"code_challenge":        {codeChallenge},
		"code_challenge_method": {"S256"},
		"request":               {request},
	}
	target, err := url.Parse(meta.AuthorizationEndpoint)
	if err != nil {
		return fmt.Errorf("%w: authorization endpoint: %v", ErrOP, err)
	}
	// Keep any query the OP's endpoint already has.
	merged := target.Query()
	for k, v := range q {
		merged[k] = v
	}
	target.RawQuery = merged.Encode()

	http.SetCookie(w, &http.Cookie{
		Name:     bindingCookie(a.State),
		Value:    browser,
		Path:     rp.callbackPath(),
		MaxAge:   int(AttemptTTL / time.Second),
		HttpOnly: true,
		Secure:   rp.secure,
		// Lax: the OP sends the browser back with a top-level GET, which
		// carries Lax cookies; a cross-site subrequest does not.
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target.String(), http.StatusFound)
	rp.audit(ctx, AuditEvent{Event: EventRequestSent, Provider: provider, ACR: a.ACR.String(), StateHash: tokenHash(a.State), JTI: jti})
	return nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x", sum)
}
