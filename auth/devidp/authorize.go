package devidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sportello/sportello/auth/spid"
)

// clientAlgs are the algorithms accepted on what clients sign: asymmetric
// only, so a public key can never serve as an HMAC secret, and never none.
var clientAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512,
}

// authRequest is a validated authorization request.
type authRequest struct {
	client      *Client
	redirectURI string
	state       string
	nonce       string
	scope       string
	challenge   string   // PKCE S256 code_challenge
	acr         spid.ACR // granted level, SPID clients only
}

// pendingRequest waits between the picker page and the pick.
type pendingRequest struct {
	req       authRequest
	formToken string
	// browserHash is the SHA-256 of the cookie set with the page: the
	// pick must come from that browser.
	browserHash string
	expires     time.Time
}

// authError is a refused authorization request. With a redirectURI (the
// client and its redirect_uri were verified) it goes back to the client;
// without, the browser gets an error page and is sent nowhere.
type authError struct {
	*oauthError
	redirectURI string
	state       string
}

func pageError(format string, args ...any) *authError {
	return &authError{oauthError: errorf(http.StatusBadRequest, "invalid_request", format, args...)}
}

func (r authRequest) fail(code, format string, args ...any) *authError {
	return &authError{oauthError: errorf(http.StatusBadRequest, code, format, args...), redirectURI: r.redirectURI, state: r.state}
}

// handleAuthorize validates the request and shows the identity picker.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	req, aerr := p.parseAuthRequest(r.URL.Query())
	if aerr != nil {
		p.refuse(w, r, aerr)
		return
	}
	now := p.cfg.Now()
	id, browser := randomToken(), randomToken()
	pr := &pendingRequest{req: req, formToken: randomToken(), browserHash: sha256Hex(browser), expires: now.Add(requestTTL)}
	p.mu.Lock()
	room := sweep(p.requests, now, func(v *pendingRequest) time.Time { return v.expires })
	if room {
		p.requests[id] = pr
	}
	p.mu.Unlock()
	if !room {
		p.refuse(w, r, req.fail("temporarily_unavailable", "too many pending requests"))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: browserCookie(id), Value: browser, Path: p.path + "/authorize",
		MaxAge: int(requestTTL / time.Second), HttpOnly: true, Secure: p.secure(),
		// Strict: a pick posted from another site carries no cookie.
		SameSite: http.SameSiteStrictMode,
	})
	var choices []Identity
	want := Staff
	if req.client.Profile == ProfileSPID {
		want = Citizen
	}
	for _, ident := range p.cfg.Identities {
		if ident.Kind == want {
			choices = append(choices, ident)
		}
	}
	p.renderPage(w, req.redirectURI, http.StatusOK, pickerPage{
		Action: p.path + "/authorize", RequestID: id, FormToken: pr.formToken,
		Client: req.client.ID, Citizens: want == Citizen, ACR: acrLabel(req), Identities: choices,
	})
}

func acrLabel(req authRequest) string {
	if req.client.Profile != ProfileSPID {
		return ""
	}
	return req.acr.String()
}

// handlePick takes the chosen identity, spends the pending request and
// redirects to the client with a code.
func (p *Provider) handlePick(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.refuse(w, r, pageError("unreadable form"))
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != origin(p.cfg.Issuer) {
		p.refuse(w, r, &authError{oauthError: errorf(http.StatusForbidden, "access_denied", "cross-site form post from %s", o)})
		return
	}
	id := r.PostForm.Get("request_id")
	now := p.cfg.Now()
	p.mu.Lock()
	pr, ok := p.requests[id]
	if ok && !now.Before(pr.expires) {
		delete(p.requests, id)
		ok = false
	}
	if !ok {
		p.mu.Unlock()
		p.refuse(w, r, pageError("authorization request unknown, expired or already used: start the login again"))
		return
	}
	c, err := r.Cookie(browserCookie(id))
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("form_token")), []byte(pr.formToken)) != 1 ||
		err != nil || subtle.ConstantTimeCompare([]byte(sha256Hex(c.Value)), []byte(pr.browserHash)) != 1 {
		// Not spent: the form of the right browser still works.
		p.mu.Unlock()
		p.refuse(w, r, &authError{oauthError: errorf(http.StatusForbidden, "access_denied", "form token or browser cookie does not match the authorization request")})
		return
	}
	delete(p.requests, id)
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: browserCookie(id), Path: p.path + "/authorize", MaxAge: -1, HttpOnly: true, Secure: p.secure(), SameSite: http.SameSiteStrictMode})
	req := pr.req
	if r.PostForm.Has("cancel") {
		p.refuse(w, r, req.fail("access_denied", "the user cancelled the login"))
		return
	}
	ident, ok := p.identities[r.PostForm.Get("identity")]
	if !ok || (ident.Kind == Citizen) != (req.client.Profile == ProfileSPID) {
		p.refuse(w, r, req.fail("access_denied", "no such identity for this client"))
		return
	}
	code := randomToken()
	p.mu.Lock()
	room := sweep(p.codes, now, func(v *authCode) time.Time { return v.expires })
	if room {
		p.codes[code] = &authCode{req: req, identityID: ident.ID, authTime: now, expires: now.Add(CodeTTL)}
	}
	p.mu.Unlock()
	if !room {
		p.refuse(w, r, req.fail("temporarily_unavailable", "too many pending codes"))
		return
	}
	p.cfg.Logger.InfoContext(r.Context(), "devidp: login", "identity", ident.ID, "client", req.client.ID)
	http.Redirect(w, r, p.callback(req.redirectURI, url.Values{"code": {code}, "state": {req.state}}), http.StatusSeeOther)
}

// callback is redirectURI with the response parameters and iss (RFC 9207)
// added to its own query.
func (p *Provider) callback(redirectURI string, params url.Values) string {
	u, _ := url.Parse(redirectURI) // registered, validated
	q := u.Query()
	for k, v := range params {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		}
	}
	q.Set("iss", p.cfg.Issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// refuse answers a refused authorization request: back to the client when
// its redirect_uri is verified, otherwise an error page.
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, e *authError) {
	if e.redirectURI != "" {
		params := url.Values{"error": {e.Code}, "error_description": {e.Description}, "state": {e.state}}
		http.Redirect(w, r, p.callback(e.redirectURI, params), http.StatusSeeOther)
		return
	}
	p.renderPage(w, "", e.status, errorPage{Code: e.Code, Description: e.Description})
}

// parseAuthRequest validates an authorization request for the client's
// profile.
func (p *Provider) parseAuthRequest(q url.Values) (authRequest, *authError) {
	c, ok := p.clients[q.Get("client_id")]
	if !ok {
		return authRequest{}, pageError("unknown client_id %q", q.Get("client_id"))
	}
	if q.Has("request_uri") {
		return authRequest{}, &authError{oauthError: errorf(http.StatusBadRequest, "request_uri_not_supported", "request_uri is not supported")}
	}
	if c.Profile == ProfileSPID {
		return p.parseSPIDRequest(q, c)
	}
	req := authRequest{client: c, redirectURI: q.Get("redirect_uri"), state: q.Get("state"), nonce: q.Get("nonce"), scope: q.Get("scope")}
	if !slices.Contains(c.RedirectURIs, req.redirectURI) {
		return authRequest{}, pageError("redirect_uri %q is not registered for client %s", req.redirectURI, c.ID)
	}
	if q.Has("request") {
		return authRequest{}, req.fail("request_not_supported", "request objects are for SPID clients")
	}
	return p.checkCommon(req, q.Get("response_type"), q.Get("code_challenge"), q.Get("code_challenge_method"))
}

// requestObject is what the SPID profile puts in the signed request.
type requestObject struct {
	ClientID            string `json:"client_id"`
	ResponseType        string `json:"response_type"`
	RedirectURI         string `json:"redirect_uri"`
	Scope               string `json:"scope"`
	State               string `json:"state"`
	Nonce               string `json:"nonce"`
	ACRValues           string `json:"acr_values"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
}

// parseSPIDRequest reads the parameters from the signed request object
// only, as the SPID/CIE rules ask; the query must agree with it.
func (p *Provider) parseSPIDRequest(q url.Values, c *Client) (authRequest, *authError) {
	raw := q.Get("request")
	if raw == "" {
		return authRequest{}, pageError("client %s must send a signed request object (request parameter)", c.ID)
	}
	var std jwt.Claims
	var ro requestObject
	if err := p.verifyClientJWT(c, raw, &std, &ro); err != nil {
		return authRequest{}, pageError("request object: %v", err)
	}
	if err := p.checkClientClaims(std, c.ID, "", p.cfg.Issuer); err != nil {
		return authRequest{}, pageError("request object: %v", err)
	}
	if ro.ClientID != c.ID {
		return authRequest{}, pageError("request object client_id %q is not %q", ro.ClientID, c.ID)
	}
	if !slices.Contains(c.RedirectURIs, ro.RedirectURI) {
		return authRequest{}, pageError("redirect_uri %q is not registered for client %s", ro.RedirectURI, c.ID)
	}
	req := authRequest{client: c, redirectURI: ro.RedirectURI, state: ro.State, nonce: ro.Nonce, scope: ro.Scope}
	for k, v := range map[string]string{"response_type": ro.ResponseType, "code_challenge": ro.CodeChallenge, "code_challenge_method": ro.CodeChallengeMethod, "redirect_uri": ro.RedirectURI, "scope": ro.Scope} {
		if q.Has(k) && q.Get(k) != v {
			return authRequest{}, req.fail("invalid_request", "query %s differs from the request object's", k)
		}
	}
	if req.state == "" || req.nonce == "" {
		return authRequest{}, req.fail("invalid_request", "state and nonce are required")
	}
	req.acr = spid.SpidL2
	if ro.ACRValues != "" {
		req.acr = 0
		for _, v := range strings.Fields(ro.ACRValues) {
			a, err := spid.ParseACR(v)
			if err != nil {
				return authRequest{}, req.fail("invalid_request", "acr_values: %v", err)
			}
			req.acr = max(req.acr, a)
		}
	}
	return p.checkCommon(req, ro.ResponseType, ro.CodeChallenge, ro.CodeChallengeMethod)
}

// checkCommon checks what every client must send: the code flow, the
// openid scope and a PKCE S256 challenge.
func (p *Provider) checkCommon(req authRequest, responseType, challenge, method string) (authRequest, *authError) {
	switch {
	case responseType != "code":
		return authRequest{}, req.fail("unsupported_response_type", "response_type must be code")
	case !slices.Contains(strings.Fields(req.scope), "openid"):
		return authRequest{}, req.fail("invalid_scope", "scope must include openid")
	case method != "S256":
		return authRequest{}, req.fail("invalid_request", "PKCE is required with code_challenge_method S256")
	case !validChallenge(challenge):
		return authRequest{}, req.fail("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)")
	}
	req.challenge = challenge
	return req, nil
}

func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// verifyClientJWT checks raw's signature with the client's signing keys
// (by kid) and decodes its claims into dest.
func (p *Provider) verifyClientJWT(c *Client, raw string, dest ...any) error {
	tok, err := jwt.ParseSigned(raw, clientAlgs)
	if err != nil {
		return fmt.Errorf("not a JWT signed with an allowed algorithm: %w", err)
	}
	keys, err := clientSigningKeys(c.JWKS)
	if err != nil {
		return err
	}
	kid := tok.Headers[0].KeyID
	tried := false
	for _, k := range keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		tried = true
		if err := tok.Claims(k.Key, dest...); err == nil {
			return nil
		}
	}
	if !tried {
		return fmt.Errorf("kid %q is not one of the client's signing keys", kid)
	}
	return errors.New("signature does not verify with the client's keys")
}

// checkClientClaims checks a request object or client assertion: iss (and
// sub when set) the client, aud naming one of auds, exp present and near,
// iat not in the future.
func (p *Provider) checkClientClaims(c jwt.Claims, clientID, subject string, auds ...string) error {
	now := p.cfg.Now()
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: clientID, Subject: subject, AnyAudience: auds, Time: now}, clockSkew); err != nil {
		return err
	}
	if c.Expiry == nil {
		return errors.New("no exp")
	}
	if c.Expiry.Time().After(now.Add(maxJWTLifetime + clockSkew)) {
		return fmt.Errorf("exp is more than %s away", maxJWTLifetime)
	}
	return nil
}

func (p *Provider) secure() bool { return strings.HasPrefix(p.cfg.Issuer, "https:") }

func browserCookie(requestID string) string { return "devidp_" + sha256Hex(requestID)[:12] }

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// origin is scheme://host[:port] of an absolute URL, as browsers send it
// in the Origin header (no default port).
func origin(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	host := u.Host
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return u.Scheme + "://" + host
}
