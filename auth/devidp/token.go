package devidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sportello/sportello/auth/spid"
)

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authCode is an issued authorization code. It stays after use until it
// expires, so a replay is recognised and revokes what the code gave.
type authCode struct {
	req        authRequest
	identityID string
	authTime   time.Time
	expires    time.Time
	used       bool
	accessJTI  string // of the access token issued for it
	accessExp  time.Time
}

// authenticateClient checks the client's credentials for a call to
// endpoint: private_key_jwt for SPID clients, the secret (basic or post)
// or none for staff clients. It never accepts two methods at once.
func (p *Provider) authenticateClient(r *http.Request, endpoint string) (*Client, *oauthError) {
	form := r.PostForm
	basicID, basicSecret, hasBasic := r.BasicAuth()
	methods := 0
	for _, has := range []bool{hasBasic, form.Has("client_secret"), form.Has("client_assertion")} {
		if has {
			methods++
		}
	}
	if methods > 1 {
		return nil, errorf(http.StatusBadRequest, "invalid_request", "more than one client authentication method")
	}
	id := form.Get("client_id")
	if hasBasic {
		// RFC 6749 §2.3.1: both are form-urlencoded inside Basic.
		var err1, err2 error
		basicID, err1 = url.QueryUnescape(basicID)
		basicSecret, err2 = url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil || (id != "" && id != basicID) {
			return nil, errorf(http.StatusUnauthorized, "invalid_client", "malformed Basic credentials")
		}
		id = basicID
	}
	if id == "" && form.Has("client_assertion") {
		// RFC 7523 lets client_id be left out: the assertion's iss names
		// the client (verified below against that client's keys).
		if tok, err := jwt.ParseSigned(form.Get("client_assertion"), clientAlgs); err == nil {
			var c jwt.Claims
			if tok.UnsafeClaimsWithoutVerification(&c) == nil {
				id = c.Issuer
			}
		}
	}
	c, ok := p.clients[id]
	if !ok {
		return nil, errorf(http.StatusUnauthorized, "invalid_client", "unknown client")
	}
	if c.Profile == ProfileSPID {
		if !form.Has("client_assertion") {
			return nil, errorf(http.StatusUnauthorized, "invalid_client", "client %s must authenticate with private_key_jwt", c.ID)
		}
		if form.Get("client_assertion_type") != clientAssertionType {
			return nil, errorf(http.StatusUnauthorized, "invalid_client", "client_assertion_type must be %s", clientAssertionType)
		}
		if err := p.checkAssertion(c, form.Get("client_assertion"), endpoint); err != nil {
			return nil, errorf(http.StatusUnauthorized, "invalid_client", "client assertion: %v", err)
		}
		return c, nil
	}
	if form.Has("client_assertion") {
		return nil, errorf(http.StatusUnauthorized, "invalid_client", "client %s does not use private_key_jwt", c.ID)
	}
	secret, sent := basicSecret, hasBasic
	if form.Has("client_secret") {
		secret, sent = form.Get("client_secret"), true
	}
	switch {
	case c.Secret == "" && sent:
		return nil, errorf(http.StatusUnauthorized, "invalid_client", "client %s is public: it has no secret", c.ID)
	case c.Secret != "" && !sent:
		return nil, errorf(http.StatusUnauthorized, "invalid_client", "client %s must send its secret", c.ID)
	case c.Secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1:
		return nil, errorf(http.StatusUnauthorized, "invalid_client", "wrong client secret")
	}
	return c, nil
}

// checkAssertion verifies a private_key_jwt assertion: signed by the
// client, iss and sub the client, aud the endpoint called or the issuer,
// short-lived, and a jti never seen before.
func (p *Provider) checkAssertion(c *Client, raw, endpoint string) error {
	var std jwt.Claims
	if err := p.verifyClientJWT(c, raw, &std); err != nil {
		return err
	}
	if err := p.checkClientClaims(std, c.ID, c.ID, endpoint, p.cfg.Issuer); err != nil {
		return err
	}
	if std.ID == "" {
		return errors.New("no jti")
	}
	now := p.cfg.Now()
	key := c.ID + "\x00" + std.ID
	p.mu.Lock()
	defer p.mu.Unlock()
	if exp, seen := p.jtis[key]; seen && now.Before(exp) {
		return fmt.Errorf("jti %q already used", std.ID)
	}
	if !sweep(p.jtis, now, same) {
		return errors.New("too many assertions in flight")
	}
	p.jtis[key] = std.Expiry.Time().Add(clockSkew)
	return nil
}

// tokenResponse is RFC 6749 §5.1 with the ID token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	IDToken     string `json:"id_token"`
	Scope       string `json:"scope,omitempty"`
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "invalid_request", "unreadable form (at most 64 KiB)"))
		return
	}
	c, oerr := p.authenticateClient(r, p.tokenEndpoint())
	if oerr != nil {
		writeError(w, oerr)
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "authorization_code" {
		writeError(w, errorf(http.StatusBadRequest, "unsupported_grant_type", "grant_type %q: only authorization_code", gt))
		return
	}
	resp, oerr := p.exchange(c, r.PostForm)
	if oerr != nil {
		writeError(w, oerr)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// exchange spends the code: whatever the outcome, a code is good for one
// attempt only, and a second one also revokes the access token the first
// obtained.
func (p *Provider) exchange(c *Client, form url.Values) (tokenResponse, *oauthError) {
	now := p.cfg.Now()
	code := form.Get("code")
	p.mu.Lock()
	ac, ok := p.codes[code]
	if !ok || !now.Before(ac.expires) {
		p.mu.Unlock()
		return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_grant", "code unknown or expired")
	}
	if ac.used {
		if ac.accessJTI != "" {
			p.revoked[ac.accessJTI] = ac.accessExp
		}
		p.mu.Unlock()
		return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_grant", "code already used")
	}
	ac.used = true
	p.mu.Unlock()
	switch {
	case ac.req.client != c:
		return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_grant", "code was issued to another client")
	case form.Get("redirect_uri") != ac.req.redirectURI:
		return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
	case !pkceMatches(form.Get("code_verifier"), ac.req.challenge):
		return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
	}
	ident, ok := p.identities[ac.identityID]
	if !ok {
		return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_grant", "identity gone")
	}
	sub := p.subject(c, ident)
	access, jti, err := mintAccess(p.key, p.cfg, c.ID, sub, ac.req.scope, ident, now, AccessTokenTTL)
	if err != nil {
		return tokenResponse{}, errorf(http.StatusInternalServerError, "server_error", "signing: %v", err)
	}
	p.mu.Lock()
	ac.accessJTI, ac.accessExp = jti, now.Add(AccessTokenTTL)
	p.mu.Unlock()
	idt, err := p.mintIDToken(c, sub, ident, ac, access, now)
	if err != nil {
		return tokenResponse{}, errorf(http.StatusInternalServerError, "server_error", "signing: %v", err)
	}
	return tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(AccessTokenTTL / time.Second), IDToken: idt, Scope: ac.req.scope}, nil
}

func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// subject is pairwise for SPID clients, the identity's ID for staff ones.
func (p *Provider) subject(c *Client, ident Identity) string {
	if c.Profile == ProfileSPID {
		return p.key.pairwiseSubject(c.ID, ident.ID)
	}
	return ident.ID
}

func (p *Provider) mintIDToken(c *Client, sub string, ident Identity, ac *authCode, accessToken string, now time.Time) (string, error) {
	sum := sha256.Sum256([]byte(accessToken))
	claims := map[string]any{
		"iss": p.cfg.Issuer, "sub": sub, "aud": c.ID,
		"iat": now.Unix(), "exp": now.Add(IDTokenTTL).Unix(), "auth_time": ac.authTime.Unix(),
		"jti":     randomToken(),
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
	}
	if ac.req.nonce != "" {
		claims["nonce"] = ac.req.nonce
	}
	if c.Profile == ProfileSPID {
		claims["acr"] = ac.req.acr.String()
	} else {
		staffClaims(claims, ident, p.cfg.GroupsClaim)
	}
	return p.key.sign("JWT", claims)
}

// staffClaims adds what the server maps a staff member by.
func staffClaims(claims map[string]any, ident Identity, groupsClaim string) {
	groups := ident.Groups
	if groups == nil {
		groups = []string{}
	}
	claims[groupsClaim] = groups
	claims["preferred_username"] = ident.ID
	if n := ident.Name(); n != "" {
		claims["name"] = n
	}
	if ident.Email != "" {
		claims["email"] = ident.Email
	}
}

// mintAccess signs an access token (RFC 9068) and returns it with its jti.
func mintAccess(key opKey, cfg Config, clientID, sub, scope string, ident Identity, now time.Time, ttl time.Duration) (string, string, error) {
	jti := randomToken()
	claims := map[string]any{
		"iss": cfg.Issuer, "sub": sub, "aud": cfg.Audience,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": jti,
		"client_id": clientID,
	}
	if scope != "" {
		claims["scope"] = scope
	}
	if ident.Kind == Citizen {
		claims[spid.FiscalNumberClaim] = "TINIT-" + ident.FiscalNumber
	} else {
		staffClaims(claims, ident, cfg.GroupsClaim)
	}
	tok, err := key.sign("at+jwt", claims)
	return tok, jti, err
}
