package spid

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// hostileOP is an OP written for the test: it checks what the RP sends
// (request object, private_key_jwt assertion, PKCE) like a strict OP, and
// answers with whatever ID token and userinfo the current case crafts.
// oidc-provider cannot be made to misbehave this way; the happy path and
// key rotation against a real OP are in TestIntegrationOIDCProvider.
type hostileOP struct {
	t        *testing.T
	srv      *httptest.Server
	rsaKey   *rsa.PrivateKey // kid op-rsa
	ecKey    *ecdsa.PrivateKey
	rotated  *rsa.PrivateKey // published only once rotate is set
	rpSig    jose.JSONWebKey
	rpEnc    jose.JSONWebKey
	clientID string
	redirect string

	mu        sync.Mutex
	jwksHits  int
	rotate    bool
	state     string
	nonce     string
	challenge string
	problems  []string
	at        string

	// The current case's crafting; nil means a correct answer.
	idClaims  func(h *hostileOP, c map[string]any)
	idSign    func(h *hostileOP, c map[string]any) string
	uiClaims  func(h *hostileOP, c map[string]any)
	uiBody    func(h *hostileOP, c map[string]any) string
	tokenBody func(h *hostileOP) (int, map[string]any)
}

func newHostileOP(t *testing.T, rpSig, rpEnc jose.JSONWebKey, clientID, redirect string) *hostileOP {
	h := &hostileOP{t: t, rpSig: rpSig, rpEnc: rpEnc, clientID: clientID, redirect: redirect}
	var err error
	if h.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if h.rotated, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if h.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", h.jwks)
	mux.HandleFunc("POST /token", h.token)
	mux.HandleFunc("GET /userinfo", h.userinfo)
	mux.HandleFunc("POST /revoke", h.revoke)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostileOP) issuer() string { return h.srv.URL }

// provider configures the OP with explicit endpoints (no discovery).
func (h *hostileOP) provider() Provider {
	return Provider{
		Name: "hostile", Issuer: h.issuer(),
		AuthorizationEndpoint: h.issuer() + "/auth", TokenEndpoint: h.issuer() + "/token",
		UserinfoEndpoint: h.issuer() + "/userinfo", RevocationEndpoint: h.issuer() + "/revoke",
		JWKSURI: h.issuer() + "/jwks",
	}
}

func (h *hostileOP) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems = append(h.problems, fmt.Sprintf(format, args...))
}

func (h *hostileOP) jwks(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	h.jwksHits++
	keys := []jose.JSONWebKey{
		{Key: &h.rsaKey.PublicKey, KeyID: "op-rsa", Algorithm: "RS256", Use: "sig"},
		{Key: &h.ecKey.PublicKey, KeyID: "op-ec", Algorithm: "ES256", Use: "sig"},
	}
	if h.rotate {
		keys = append(keys, jose.JSONWebKey{Key: &h.rotated.PublicKey, KeyID: "op-rsa-2", Algorithm: "RS256", Use: "sig"})
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
}

// checkAssertion verifies a private_key_jwt client assertion for endpoint
// as a strict OP would, and that no client secret is sent.
func (h *hostileOP) checkAssertion(r *http.Request, endpoint string) {
	if _, _, ok := r.BasicAuth(); ok || r.PostForm.Has("client_secret") {
		h.problem("client secret sent to %s", endpoint)
	}
	if r.PostForm.Get("client_assertion_type") != clientAssertionType || r.PostForm.Get("client_id") != h.clientID {
		h.problem("%s: client_assertion_type %q client_id %q", endpoint, r.PostForm.Get("client_assertion_type"), r.PostForm.Get("client_id"))
	}
	jws, err := jose.ParseSignedCompact(r.PostForm.Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		h.problem("%s: client assertion: %v", endpoint, err)
		return
	}
	payload, err := jws.Verify(h.rpSig)
	if err != nil {
		h.problem("%s: client assertion signature: %v", endpoint, err)
		return
	}
	var c struct {
		Iss, Sub, Aud, Jti string
		Iat, Exp           int64
	}
	_ = json.Unmarshal(payload, &c)
	now := time.Now().Unix()
	if c.Iss != h.clientID || c.Sub != h.clientID || c.Aud != h.issuer()+endpoint || c.Jti == "" || c.Exp <= now || c.Exp-c.Iat > 300 || jws.Signatures[0].Header.KeyID != h.rpSig.KeyID {
		h.problem("%s: client assertion claims %+v", endpoint, c)
	}
}

func (h *hostileOP) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	h.checkAssertion(r, "/token")
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	h.mu.Lock()
	if base64.RawURLEncoding.EncodeToString(sum[:]) != h.challenge {
		h.problems = append(h.problems, "PKCE verifier does not match the challenge")
	}
	h.mu.Unlock()
	if r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code") != "the-code" || r.PostForm.Get("redirect_uri") != h.redirect {
		h.problem("token request %v", r.PostForm)
	}
	status, body := http.StatusOK, map[string]any(nil)
	if h.tokenBody != nil {
		status, body = h.tokenBody(h)
	} else {
		h.at = randomString(24)
		body = map[string]any{"access_token": h.at, "token_type": "Bearer", "expires_in": 600, "id_token": h.mintIDToken()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (h *hostileOP) mintIDToken() string {
	now := time.Now()
	sum := sha256.Sum256([]byte(h.at))
	c := map[string]any{
		"iss": h.issuer(), "sub": "pairwise-sub-1", "aud": h.clientID,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": randomString(12),
		"nonce": h.nonce, "acr": SpidL2.String(),
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
	}
	if h.idClaims != nil {
		h.idClaims(h, c)
	}
	if h.idSign != nil {
		return h.idSign(h, c)
	}
	return sign(h.t, h.rsaKey, jose.RS256, "op-rsa", c)
}

func (h *hostileOP) userinfo(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+h.at {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	now := time.Now()
	c := map[string]any{
		"iss": h.issuer(), "aud": h.clientID, "sub": "pairwise-sub-1",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		FiscalNumberClaim: "TINIT-RSSMRA80A01H501U", "given_name": "Mario", "family_name": "Rossi",
		"email": "mario.rossi@example.org", "phone_number": "+393331234567",
	}
	if h.uiClaims != nil {
		h.uiClaims(h, c)
	}
	var body string
	if h.uiBody != nil {
		body = h.uiBody(h, c)
	} else {
		body = h.sealed(c)
	}
	w.Header().Set("Content-Type", "application/jwt")
	_, _ = w.Write([]byte(body))
}

// sealed is a correct userinfo: signed by the OP, encrypted to the RP.
func (h *hostileOP) sealed(c map[string]any) string {
	return encrypt(h.t, h.rpEnc.Key, h.rpEnc.KeyID, jose.RSA_OAEP, jose.A128CBC_HS256, sign(h.t, h.rsaKey, jose.RS256, "op-rsa", c))
}

func (h *hostileOP) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	h.checkAssertion(r, "/revoke")
	if r.PostForm.Get("token") != h.at || r.PostForm.Get("token_type_hint") != "access_token" {
		h.problem("revocation request %v", r.PostForm)
	}
	w.WriteHeader(http.StatusOK)
}

// authorize plays the OP's authorization endpoint on the RP's redirect:
// it checks the query and the signed request object, remembers state,
// nonce and PKCE challenge, and returns the state.
func (h *hostileOP) authorize(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, h.issuer()+"/auth?") {
		t.Fatalf("redirect to %q", location)
	}
	q := u.Query()
	for k, want := range map[string]string{"client_id": h.clientID, "response_type": "code", "scope": "openid", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			t.Errorf("query %s=%q, want %q", k, q.Get(k), want)
		}
	}
	jws, err := jose.ParseSignedCompact(q.Get("request"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("request object: %v", err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != h.rpSig.KeyID {
		t.Errorf("request object kid %q, want the RP's signing key %q", kid, h.rpSig.KeyID)
	}
	payload, err := jws.Verify(h.rpSig)
	if err != nil {
		t.Fatalf("request object signature: %v", err)
	}
	ro := map[string]any{}
	if err := json.Unmarshal(payload, &ro); err != nil {
		t.Fatal(err)
	}
	str := func(k string) string { s, _ := ro[k].(string); return s }
	num := func(k string) int64 { f, _ := ro[k].(float64); return int64(f) }
	now, iat, exp := time.Now().Unix(), num("iat"), num("exp")
	switch {
	case str("iss") != h.clientID || str("client_id") != h.clientID || str("aud") != h.issuer():
		t.Errorf("request object iss %q client_id %q aud %q", str("iss"), str("client_id"), str("aud"))
	case str("response_type") != "code" || str("redirect_uri") != h.redirect || str("scope") != "openid" || str("prompt") != "consent login":
		t.Errorf("request object %v", ro)
	case len(str("state")) < 32 || len(str("nonce")) < 32 || str("state") == str("nonce") || str("jti") == "":
		t.Errorf("request object state %q nonce %q jti %q: want ≥ 32 random characters", str("state"), str("nonce"), str("jti"))
	case str("acr_values") != SpidL2.String():
		t.Errorf("acr_values %q", str("acr_values"))
	case iat > now+5 || iat < now-60 || exp <= now || exp-iat > 300:
		t.Errorf("request object iat %d exp %d: want a short lifetime from now", iat, exp)
	case str("code_challenge_method") != "S256" || str("code_challenge") != q.Get("code_challenge") || len(str("code_challenge")) != 43:
		t.Errorf("request object PKCE %q %q", str("code_challenge"), str("code_challenge_method"))
	}
	claims, _ := ro["claims"].(map[string]any)
	userinfo, _ := claims["userinfo"].(map[string]any)
	for _, c := range DefaultClaims {
		if _, ok := userinfo[c]; !ok {
			t.Errorf("claims.userinfo lacks %s: %v", c, claims)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state, h.nonce, h.challenge = str("state"), str("nonce"), str("code_challenge")
	return h.state
}

func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func encrypt(t *testing.T, key any, kid string, alg jose.KeyAlgorithm, enc jose.ContentEncryption, plaintext string) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key, KeyID: kid}, (&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.Encrypt([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned is a JWT with alg "none".
func unsigned(claims any) string {
	payload, _ := json.Marshal(claims)
	b64 := base64.RawURLEncoding.EncodeToString
	return b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload) + "."
}

// hs256WithPublicKey is the classic algorithm confusion: an HMAC keyed
// with the OP's public key, which anyone can fetch.
func hs256WithPublicKey(t *testing.T, pub *rsa.PublicKey, kid string, claims any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return sign(t, secret, jose.HS256, kid, claims)
}

// TestHostileOP makes the RP face every broken answer the issue lists, one
// case at a time, through the real handlers: a login redirect (whose
// request object the OP checks), then the callback.
func TestHostileOP(t *testing.T) {
	s := newRPServer(t)
	keys := rpKeys(t)
	sig, _ := loadKey(keys.Signing, useSig)
	enc, _ := loadKey(keys.Encryption, useEnc)
	h := newHostileOP(t, sig.public(), enc.public(), s.srv.URL, s.srv.URL+"/spid/callback")
	rec := &recorder{}
	s.start(t, testConfig(t, s.srv.URL, h.provider()), rec.deps())

	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	attackerEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRPKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	past := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }
	set := func(k string, v any) func(*hostileOP, map[string]any) {
		return func(_ *hostileOP, c map[string]any) { c[k] = v }
	}
	del := func(k string) func(*hostileOP, map[string]any) {
		return func(_ *hostileOP, c map[string]any) { delete(c, k) }
	}

	type tc struct {
		name      string
		idClaims  func(*hostileOP, map[string]any)
		idSign    func(*hostileOP, map[string]any) string
		uiClaims  func(*hostileOP, map[string]any)
		uiBody    func(*hostileOP, map[string]any) string
		tokenBody func(*hostileOP) (int, map[string]any)
		callback  func(q url.Values) // changes the callback query
		noCookie  bool
		rotate    bool
		sentinel  error // nil: the login must succeed
		fragment  string
		status    int
	}
	cases := []tc{
		{name: "correct answer is accepted"},
		{name: "ES256 ID token is accepted", idSign: func(h *hostileOP, c map[string]any) string { return sign(t, h.ecKey, jose.ES256, "op-ec", c) }},
		{name: "RSA-OAEP-256 with A256CBC-HS512 userinfo is accepted", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, h.rpEnc.Key, h.rpEnc.KeyID, jose.RSA_OAEP_256, jose.A256CBC_HS512, sign(t, h.rsaKey, jose.RS256, "op-rsa", c))
		}},
		{name: "key rotation: a new kid is fetched and accepted", rotate: true, idSign: func(h *hostileOP, c map[string]any) string {
			return sign(t, h.rotated, jose.RS256, "op-rsa-2", c)
		}},

		// ID token.
		{name: "wrong issuer", idClaims: set("iss", "https://evil.example.org"), sentinel: ErrIDToken, fragment: "issued by a different provider"},
		{name: "wrong audience", idClaims: set("aud", "https://other-rp.example.org"), sentinel: ErrIDToken, fragment: "audience"},
		{name: "missing audience", idClaims: del("aud"), sentinel: ErrIDToken, fragment: "audience"},
		{name: "several audiences without azp", idClaims: set("aud", []string{"https://other-rp.example.org", s.srv.URL}), sentinel: ErrIDToken, fragment: "azp"},
		{name: "missing sub", idClaims: del("sub"), sentinel: ErrIDToken, fragment: "no sub"},
		{name: "missing iat", idClaims: del("iat"), sentinel: ErrIDToken, fragment: "no iat"},
		{name: "iat beyond the skew in the future", idClaims: set("iat", time.Now().Add(4*time.Minute).Unix()), sentinel: ErrIDToken, fragment: "iat"},
		{name: "iat beyond the skew in the past", idClaims: set("iat", past(4*time.Minute)), sentinel: ErrIDToken, fragment: "iat"},
		{name: "iat within the skew is accepted", idClaims: set("iat", past(2*time.Minute))},
		{name: "nbf in the future", idClaims: set("nbf", time.Now().Add(4*time.Minute).Unix()), sentinel: ErrIDToken, fragment: "not valid before"},
		{name: "expired", idClaims: func(_ *hostileOP, c map[string]any) { c["iat"], c["exp"] = past(2*time.Minute), past(time.Minute) }, sentinel: ErrIDToken, fragment: "expired"},
		{name: "RS256 signed by another key", idSign: func(h *hostileOP, c map[string]any) string { return sign(t, attacker, jose.RS256, "op-rsa", c) }, sentinel: ErrIDToken, fragment: "signature"},
		{name: "ES256 signed by another key", idSign: func(h *hostileOP, c map[string]any) string { return sign(t, attackerEC, jose.ES256, "op-ec", c) }, sentinel: ErrIDToken, fragment: "signature"},
		{name: "unknown kid signed by another key", idSign: func(h *hostileOP, c map[string]any) string { return sign(t, attacker, jose.RS256, "op-rsa-9", c) }, sentinel: ErrIDToken, fragment: "signature"},
		{name: "alg none", idSign: func(h *hostileOP, c map[string]any) string { return unsigned(c) }, sentinel: ErrIDToken, fragment: "malformed"},
		{name: "HS256 keyed with the OP's public key", idSign: func(h *hostileOP, c map[string]any) string {
			return hs256WithPublicKey(t, &h.rsaKey.PublicKey, "op-rsa", c)
		}, sentinel: ErrIDToken, fragment: "HS256"},
		{name: "invalid nonce", idClaims: set("nonce", randomString(32)), sentinel: ErrIDToken, fragment: "nonce"},
		{name: "missing nonce", idClaims: del("nonce"), sentinel: ErrIDToken, fragment: "nonce"},
		{name: "acr below requested", idClaims: set("acr", SpidL1.String()), sentinel: ErrIDToken, fragment: "below the requested"},
		{name: "acr missing", idClaims: del("acr"), sentinel: ErrIDToken, fragment: "not a SPID level"},
		{name: "acr of another scheme", idClaims: set("acr", "urn:example:loa:high"), sentinel: ErrIDToken, fragment: "not a SPID level"},
		{name: "bad at_hash", idClaims: set("at_hash", base64.RawURLEncoding.EncodeToString(make([]byte, 16))), sentinel: ErrIDToken, fragment: "at_hash"},
		{name: "missing at_hash", idClaims: del("at_hash"), sentinel: ErrIDToken, fragment: "no at_hash"},

		// Token endpoint.
		{name: "token endpoint error", tokenBody: func(*hostileOP) (int, map[string]any) {
			return http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "code expired"}
		}, sentinel: &OPError{}, fragment: "invalid_grant", status: http.StatusBadGateway},
		{name: "token response without ID token", tokenBody: func(h *hostileOP) (int, map[string]any) {
			h.at = randomString(24)
			return http.StatusOK, map[string]any{"access_token": h.at, "token_type": "Bearer"}
		}, sentinel: ErrOP, fragment: "without access_token or id_token"},
		{name: "token type not Bearer", tokenBody: func(h *hostileOP) (int, map[string]any) {
			h.at = randomString(24)
			return http.StatusOK, map[string]any{"access_token": h.at, "token_type": "DPoP", "id_token": h.mintIDToken()}
		}, sentinel: ErrOP, fragment: "token_type"},

		// Userinfo.
		{name: "userinfo sub mismatch", uiClaims: set("sub", "someone-else"), sentinel: ErrUserinfo, fragment: "sub"},
		{name: "userinfo wrong issuer", uiClaims: set("iss", "https://evil.example.org"), sentinel: ErrUserinfo, fragment: "iss"},
		{name: "userinfo wrong audience", uiClaims: set("aud", "https://other-rp.example.org"), sentinel: ErrUserinfo, fragment: "aud"},
		{name: "userinfo expired", uiClaims: set("exp", past(10*time.Minute)), sentinel: ErrUserinfo, fragment: "expired"},
		{name: "userinfo as plain JSON", uiBody: func(_ *hostileOP, c map[string]any) string { b, _ := json.Marshal(c); return string(b) }, sentinel: ErrUserinfo, fragment: "plain JSON"},
		{name: "userinfo signed but not encrypted", uiBody: func(h *hostileOP, c map[string]any) string { return sign(t, h.rsaKey, jose.RS256, "op-rsa", c) }, sentinel: ErrUserinfo, fragment: "not an encrypted JWT"},
		{name: "userinfo JWE with another kid", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, h.rpEnc.Key, "some-other-key", jose.RSA_OAEP, jose.A128CBC_HS256, sign(t, h.rsaKey, jose.RS256, "op-rsa", c))
		}, sentinel: ErrUserinfo, fragment: "kid"},
		{name: "userinfo JWE for another key under the RP's kid", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, &otherRPKey.PublicKey, h.rpEnc.KeyID, jose.RSA_OAEP, jose.A128CBC_HS256, sign(t, h.rsaKey, jose.RS256, "op-rsa", c))
		}, sentinel: ErrUserinfo, fragment: "decrypting"},
		{name: "userinfo JWE with RSA1_5", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, h.rpEnc.Key, h.rpEnc.KeyID, jose.RSA1_5, jose.A128CBC_HS256, sign(t, h.rsaKey, jose.RS256, "op-rsa", c))
		}, sentinel: ErrUserinfo, fragment: "JWE"},
		{name: "userinfo JWE with A128GCM", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, h.rpEnc.Key, h.rpEnc.KeyID, jose.RSA_OAEP, jose.A128GCM, sign(t, h.rsaKey, jose.RS256, "op-rsa", c))
		}, sentinel: ErrUserinfo, fragment: "JWE"},
		{name: "userinfo JWE with dir and a guessed key", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, make([]byte, 32), h.rpEnc.KeyID, jose.DIRECT, jose.A128CBC_HS256, sign(t, h.rsaKey, jose.RS256, "op-rsa", c))
		}, sentinel: ErrUserinfo, fragment: "JWE"},
		{name: "userinfo encrypted but signed by another key", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, h.rpEnc.Key, h.rpEnc.KeyID, jose.RSA_OAEP, jose.A128CBC_HS256, sign(t, attacker, jose.RS256, "op-rsa", c))
		}, sentinel: ErrUserinfo, fragment: "signature"},
		{name: "userinfo encrypted but unsigned", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, h.rpEnc.Key, h.rpEnc.KeyID, jose.RSA_OAEP, jose.A128CBC_HS256, unsigned(c))
		}, sentinel: ErrUserinfo, fragment: "inner JWS"},
		{name: "userinfo encrypted, HS256 keyed with the OP's public key", uiBody: func(h *hostileOP, c map[string]any) string {
			return encrypt(t, h.rpEnc.Key, h.rpEnc.KeyID, jose.RSA_OAEP, jose.A128CBC_HS256, hs256WithPublicKey(t, &h.rsaKey.PublicKey, "op-rsa", c))
		}, sentinel: ErrUserinfo, fragment: "inner JWS"},
		{name: "fiscal number missing", uiClaims: del(FiscalNumberClaim), sentinel: ErrAttributes, fragment: "no https://attributes.eid.gov.it/fiscal_number"},
		{name: "fiscal number of another country", uiClaims: set(FiscalNumberClaim, "TINDE-12345678901"), sentinel: ErrAttributes, fragment: "TINIT-"},

		// Authorization response.
		{name: "OP reports access_denied", callback: func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, sentinel: &OPError{}, fragment: "access_denied", status: http.StatusUnauthorized},
		{name: "response names another issuer", callback: func(q url.Values) { q.Set("iss", "https://evil.example.org") }, sentinel: ErrInvalidResponse, fragment: "iss", status: http.StatusBadRequest},
		{name: "unknown state", callback: func(q url.Values) { q.Set("state", randomString(32)) }, sentinel: ErrUnknownState, fragment: "state", status: http.StatusBadRequest},
		{name: "callback from another browser", noCookie: true, sentinel: ErrWrongBrowser, fragment: "another browser", status: http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.mu.Lock()
			h.idClaims, h.idSign, h.uiClaims, h.uiBody, h.tokenBody = tc.idClaims, tc.idSign, tc.uiClaims, tc.uiBody, tc.tokenBody
			h.problems = nil
			h.rotate = h.rotate || tc.rotate
			hitsBefore := h.jwksHits
			h.mu.Unlock()
			nLogins, nErrs := len(rec.logins), len(rec.errs)

			c := browser(t)
			resp, _ := get(t, noFollow(c), s.srv.URL+s.rp.LoginURL("hostile"))
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("login start: %d", resp.StatusCode)
			}
			state := h.authorize(t, resp.Header.Get("Location"))
			q := url.Values{"code": {"the-code"}, "state": {state}, "iss": {h.issuer()}}
			if tc.callback != nil {
				tc.callback(q)
			}
			cb := s.srv.URL + "/spid/callback?" + q.Encode()
			if tc.noCookie {
				c = browser(t)
			}
			resp, body := get(t, c, cb)
			for _, p := range h.problems {
				t.Errorf("the OP saw: %s", p)
			}
			if tc.sentinel == nil {
				if resp.StatusCode != http.StatusOK || len(rec.logins) != nLogins+1 {
					t.Fatalf("callback %d %q, error %v", resp.StatusCode, body, rec.lastErr())
				}
				if id := rec.logins[nLogins]; id.FiscalCode != "RSSMRA80A01H501U" || id.Subject != "pairwise-sub-1" || id.Issuer != h.issuer() || id.Provider != "hostile" {
					t.Errorf("identity %+v", id)
				}
				if tc.rotate && h.jwksHits != hitsBefore+1 {
					t.Errorf("JWKS fetched %d times for the new kid, want 1", h.jwksHits-hitsBefore)
				}
				return
			}
			if len(rec.logins) != nLogins || len(rec.errs) != nErrs+1 {
				t.Fatalf("callback %d: logins +%d, errors +%d; want the login refused", resp.StatusCode, len(rec.logins)-nLogins, len(rec.errs)-nErrs)
			}
			t.Logf("refused: %v", rec.lastErr())
			wantErr(t, rec.lastErr(), tc.sentinel, tc.fragment)
			want := tc.status
			if want == 0 {
				want = http.StatusBadGateway
			}
			if resp.StatusCode != want {
				t.Errorf("status %d, want %d", resp.StatusCode, want)
			}
			if tc.name == "unknown kid signed by another key" && h.jwksHits != hitsBefore+1 {
				// go-oidc refreshes the OP's keys once for an unknown kid,
				// and then gives up.
				t.Errorf("JWKS fetched %d times for an unknown kid, want 1", h.jwksHits-hitsBefore)
			}
		})
	}

	t.Run("logout revokes with private_key_jwt", func(t *testing.T) {
		h.mu.Lock()
		h.idClaims, h.idSign, h.uiClaims, h.uiBody, h.tokenBody, h.problems = nil, nil, nil, nil, nil, nil
		h.mu.Unlock()
		c := browser(t)
		resp, _ := get(t, noFollow(c), s.srv.URL+s.rp.LoginURL("hostile"))
		state := h.authorize(t, resp.Header.Get("Location"))
		if resp, _ := get(t, c, s.srv.URL+"/spid/callback?"+url.Values{"code": {"the-code"}, "state": {state}}.Encode()); resp.StatusCode != http.StatusOK {
			t.Fatalf("login: %d %v", resp.StatusCode, rec.lastErr())
		}
		resp, err := c.Post(s.srv.URL+"/spid/logout", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("logout %d", resp.StatusCode)
		}
		for _, p := range h.problems {
			t.Errorf("the OP saw: %s", p)
		}
		names := rec.eventNames()
		if got := names[len(names)-2:]; !slices.Equal(got, []string{EventRevocation, EventLogout}) {
			t.Errorf("audit %v", got)
		}
	})
}
