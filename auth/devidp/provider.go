package devidp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sportello/sportello/auth/spid"
)

// maxBody caps every request body: forms and assertions are small.
const maxBody = 64 << 10

// maxPending bounds each in-memory table (pending requests, codes, used
// jtis, revocations) so a flood costs bounded memory.
const maxPending = 10_000

// Provider is the running development OP.
type Provider struct {
	cfg        Config
	key        opKey
	path       string // the issuer's path, "" or "/dev-idp"
	identities map[string]Identity
	clients    map[string]*Client

	mu       sync.Mutex
	requests map[string]*pendingRequest // by request id
	codes    map[string]*authCode
	jtis     map[string]time.Time // used client-assertion jtis, until their exp
	revoked  map[string]time.Time // revoked access-token jtis, until their exp
}

// New validates cfg, loads or creates the key file, and returns the
// provider. It refuses an issuer that is not on loopback.
func New(cfg Config) (*Provider, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	cfg.Identities = slices.Clone(cfg.Identities)
	for i := range cfg.Identities {
		cfg.Identities[i].Groups = slices.Clone(cfg.Identities[i].Groups)
	}
	u, _ := url.Parse(cfg.Issuer) // validated
	p := &Provider{
		cfg: cfg, key: key, path: u.Path,
		identities: map[string]Identity{}, clients: map[string]*Client{},
		requests: map[string]*pendingRequest{}, codes: map[string]*authCode{},
		jtis: map[string]time.Time{}, revoked: map[string]time.Time{},
	}
	for _, id := range cfg.Identities {
		p.identities[id.ID] = id
	}
	for _, c := range cfg.Clients {
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		p.clients[c.ID] = &c
	}
	return p, nil
}

// Issuer is the issuer URL, without a trailing slash.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// Path is the issuer's path ("" or e.g. "/dev-idp"): mount Handler at
// Path()+"/".
func (p *Provider) Path() string { return p.path }

// Identities returns the test identities in configuration order.
func (p *Provider) Identities() []Identity {
	out := make([]Identity, 0, len(p.cfg.Identities))
	for _, id := range p.cfg.Identities {
		id.Groups = slices.Clone(id.Groups)
		out = append(out, id)
	}
	return out
}

// Endpoint URLs.
func (p *Provider) authorizationEndpoint() string { return p.cfg.Issuer + "/authorize" }
func (p *Provider) tokenEndpoint() string         { return p.cfg.Issuer + "/token" }
func (p *Provider) userinfoEndpoint() string      { return p.cfg.Issuer + "/userinfo" }
func (p *Provider) revocationEndpoint() string    { return p.cfg.Issuer + "/revoke" }
func (p *Provider) jwksURI() string               { return p.cfg.Issuer + "/jwks" }

// SPIDProvider is the entry for auth/spid's Config.Providers that points
// the RP at this OP, with explicit endpoints (the RP does not need to read
// discovery) and the SpidL2 level.
func (p *Provider) SPIDProvider(name string) spid.Provider {
	return spid.Provider{
		Name:                  name,
		Issuer:                p.cfg.Issuer,
		AuthorizationEndpoint: p.authorizationEndpoint(),
		TokenEndpoint:         p.tokenEndpoint(),
		UserinfoEndpoint:      p.userinfoEndpoint(),
		RevocationEndpoint:    p.revocationEndpoint(),
		JWKSURI:               p.jwksURI(),
		SigningAlgs:           []string{string(jose.RS256)},
		ACR:                   spid.SpidL2.String(),
	}
}

// Handler serves the endpoints at the issuer's path (full request paths,
// see the package comment). Every body is capped at 64 KiB.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p.path+"/.well-known/openid-configuration", p.handleDiscovery)
	mux.HandleFunc("GET "+p.path+"/jwks", p.handleJWKS)
	mux.HandleFunc("GET "+p.path+"/authorize", p.handleAuthorize)
	mux.HandleFunc("POST "+p.path+"/authorize", p.handlePick)
	mux.HandleFunc("POST "+p.path+"/token", p.handleToken)
	mux.HandleFunc("GET "+p.path+"/userinfo", p.handleUserinfo)
	mux.HandleFunc("POST "+p.path+"/userinfo", p.handleUserinfo)
	mux.HandleFunc("POST "+p.path+"/revoke", p.handleRevoke)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		mux.ServeHTTP(w, r)
	})
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	rs256 := []string{string(jose.RS256)}
	clientAlgs := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                           p.cfg.Issuer,
		"authorization_endpoint":                           p.authorizationEndpoint(),
		"token_endpoint":                                   p.tokenEndpoint(),
		"userinfo_endpoint":                                p.userinfoEndpoint(),
		"revocation_endpoint":                              p.revocationEndpoint(),
		"jwks_uri":                                         p.jwksURI(),
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            []string{"authorization_code"},
		"subject_types_supported":                          []string{"public", "pairwise"},
		"scopes_supported":                                 []string{"openid", "profile", "email"},
		"claims_supported":                                 []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "at_hash", "name", "given_name", "family_name", "email", "phone_number", "preferred_username", p.cfg.GroupsClaim, spid.FiscalNumberClaim},
		"acr_values_supported":                             []string{spid.SpidL1.String(), spid.SpidL2.String(), spid.SpidL3.String()},
		"id_token_signing_alg_values_supported":            rs256,
		"userinfo_signing_alg_values_supported":            rs256,
		"userinfo_encryption_alg_values_supported":         []string{string(jose.RSA_OAEP_256)},
		"userinfo_encryption_enc_values_supported":         []string{string(jose.A256CBC_HS512)},
		"request_object_signing_alg_values_supported":      clientAlgs,
		"request_parameter_supported":                      true,
		"request_uri_parameter_supported":                  false,
		"code_challenge_methods_supported":                 []string{"S256"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "none"},
		"token_endpoint_auth_signing_alg_values_supported": clientAlgs,
		"revocation_endpoint_auth_methods_supported":       []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "none"},
		"authorization_response_iss_parameter_supported":   true,
		"claims_parameter_supported":                       false,
	})
}

func (p *Provider) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{p.key.public()}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError is an RFC 6749 §5.2 error.
type oauthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errorf(status int, code, format string, args ...any) *oauthError {
	return &oauthError{status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="devidp"`)
	}
	writeJSON(w, e.status, e)
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// sweep drops expired entries of m once it is full, and reports whether
// there is room for one more.
func sweep[V any](m map[string]V, now time.Time, expiry func(V) time.Time) bool {
	if len(m) < maxPending {
		return true
	}
	for k, v := range m {
		if !now.Before(expiry(v)) {
			delete(m, k)
		}
	}
	return len(m) < maxPending
}

// same is the expiry of a map whose values are the expiry.
func same(t time.Time) time.Time { return t }
