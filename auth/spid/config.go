package spid

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// FiscalNumberClaim is the attribute that carries the citizen's fiscal
// code, as "TINIT-<codice fiscale>".
const FiscalNumberClaim = "https://attributes.eid.gov.it/fiscal_number"

// DefaultClaims are the userinfo attributes asked for when Config.Claims is
// empty: what a contact record needs.
var DefaultClaims = []string{FiscalNumberClaim, "given_name", "family_name", "email", "phone_number"}

// DefaultSigningAlgs is the allow-list for the OPs' ID token and userinfo
// signatures when a provider names none: the SPID/CIE rules' algorithms.
var DefaultSigningAlgs = []string{"RS256", "RS512", "ES256"}

// Config is the spid section of the configuration.
type Config struct {
	// ClientID is the RP's entity identifier: an https URL (http only on
	// loopback, for tests) under which /.well-known/openid-federation is
	// served.
	ClientID string `yaml:"client_id"`
	// RedirectURI receives the OPs' responses; empty means
	// ClientID + "/spid/callback".
	RedirectURI string `yaml:"redirect_uri"`
	// LoginPath and LogoutPath are where Mount serves the login start and
	// the logout; empty means /spid/login and /spid/logout.
	LoginPath  string `yaml:"login_path"`
	LogoutPath string `yaml:"logout_path"`
	// ClientName is shown by the OPs on their consent pages.
	ClientName string `yaml:"client_name"`
	Keys       Keys   `yaml:"keys"`
	// ACR is the authentication level requested by default ("SpidL2" when
	// empty); a provider may override it.
	ACR string `yaml:"acr"`
	// Claims are the userinfo attributes requested; empty means
	// DefaultClaims.
	Claims []string `yaml:"claims"`
	// Prompt is sent in the request object; empty means "consent login",
	// as the SPID rules ask.
	Prompt     string     `yaml:"prompt"`
	Providers  []Provider `yaml:"providers"`
	Federation Federation `yaml:"federation"`
}

// Keys are the RP's private keys, as PEM (PKCS#8, PKCS#1 or SEC 1) or JWK
// files. The public halves are published in the entity configuration.
type Keys struct {
	// Signing signs request objects and client assertions (RSA ≥ 2048 bits
	// or EC P-256).
	Signing string `yaml:"signing"`
	// Encryption is the RSA key (≥ 2048 bits) the OPs encrypt userinfo to.
	Encryption string `yaml:"encryption"`
	// Federation signs the entity configuration; the federation rules
	// want it distinct from the OIDC keys.
	Federation string `yaml:"federation"`
}

// Provider is one OP (a SPID identity provider or CIE). Either Issuer alone
// (the endpoints come from its discovery document) or Issuer with every
// endpoint.
type Provider struct {
	// Name identifies the OP in the login link (?provider=NAME) and in the
	// Identity; letters, digits, '-' and '_'.
	Name   string `yaml:"name"`
	Issuer string `yaml:"issuer"`
	// Explicit endpoints; when AuthorizationEndpoint is empty, all come
	// from Issuer + "/.well-known/openid-configuration".
	AuthorizationEndpoint string `yaml:"authorization_endpoint"`
	TokenEndpoint         string `yaml:"token_endpoint"`
	UserinfoEndpoint      string `yaml:"userinfo_endpoint"`
	RevocationEndpoint    string `yaml:"revocation_endpoint"`
	JWKSURI               string `yaml:"jwks_uri"`
	// SigningAlgs is the allow-list for this OP's signatures; empty means
	// DefaultSigningAlgs.
	SigningAlgs []string `yaml:"signing_algs"`
	// ACR overrides Config.ACR for this OP.
	ACR string `yaml:"acr"`
	// Scheme is the identity scheme the OP belongs to, "spid" (default)
	// or "cie": the portal labels its button "Entra con SPID" or "Entra
	// con CIE". The protocol is the same.
	Scheme string `yaml:"scheme"`
}

// Schemes of identity providers.
const (
	SchemeSPID = "spid"
	SchemeCIE  = "cie"
)

// SchemeOf is p's scheme, SchemeSPID when unset.
func (p Provider) SchemeOf() string {
	if p.Scheme == "" {
		return SchemeSPID
	}
	return p.Scheme
}

// Federation is what the entity configuration says beyond the RP's OIDC
// metadata.
type Federation struct {
	OrganizationName string   `yaml:"organization_name"`
	HomepageURI      string   `yaml:"homepage_uri"`
	PolicyURI        string   `yaml:"policy_uri"`
	LogoURI          string   `yaml:"logo_uri"`
	Contacts         []string `yaml:"contacts"`
	// AuthorityHints are the entity ids of the RP's superiors (the trust
	// anchor or an intermediate).
	AuthorityHints []string `yaml:"authority_hints"`
	// TrustMarks are issued by the federation; they are published as
	// given.
	TrustMarks []TrustMark `yaml:"trust_marks"`
	// Lifetime of a published entity configuration; "" means 24h.
	Lifetime string `yaml:"lifetime"`
}

// TrustMark is one trust mark, as the federation issued it.
type TrustMark struct {
	ID        string `yaml:"id" json:"id"`
	TrustMark string `yaml:"trust_mark" json:"trust_mark"`
}

// Enabled reports whether the section is filled in at all; an empty one
// means citizens' login is off and Validate has nothing to say.
func (c Config) Enabled() bool { return c.ClientID != "" || len(c.Providers) > 0 }

func (c Config) redirectURI() string {
	if c.RedirectURI != "" {
		return c.RedirectURI
	}
	return strings.TrimSuffix(c.ClientID, "/") + "/spid/callback"
}

func (c Config) loginPath() string  { return orDefault(c.LoginPath, "/spid/login") }
func (c Config) logoutPath() string { return orDefault(c.LogoutPath, "/spid/logout") }
func (c Config) prompt() string     { return orDefault(c.Prompt, "consent login") }

func (c Config) claims() []string {
	if len(c.Claims) == 0 {
		return DefaultClaims
	}
	return c.Claims
}

func (c Config) acr(p Provider) (ACR, error) {
	return ParseACR(orDefault(p.ACR, orDefault(c.ACR, "SpidL2")))
}

func (f Federation) lifetime() (time.Duration, error) {
	if f.Lifetime == "" {
		return 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(f.Lifetime)
	if err != nil || d < time.Minute || d > 30*24*time.Hour {
		return 0, fmt.Errorf("spid.federation.lifetime %q: want a duration from 1m to 720h", f.Lifetime)
	}
	return d, nil
}

func (p Provider) signingAlgs() []string {
	if len(p.SigningAlgs) == 0 {
		return DefaultSigningAlgs
	}
	return p.SigningAlgs
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// allowedSigningAlgs are what an OP may be configured with: asymmetric
// only, so a public key can never be used as an HMAC secret.
var allowedSigningAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// Validate reports every problem at once. It does not read the key files:
// New does.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := checkURL(c.ClientID); err != nil {
		add("spid.client_id: %v", err)
	}
	if err := checkURL(c.redirectURI()); err != nil {
		add("spid.redirect_uri: %v", err)
	}
	for name, p := range map[string]string{"login_path": c.loginPath(), "logout_path": c.logoutPath()} {
		if !strings.HasPrefix(p, "/") {
			add("spid.%s %q: want a path starting with /", name, p)
		}
	}
	if c.Keys.Signing == "" || c.Keys.Encryption == "" || c.Keys.Federation == "" {
		add("spid.keys: signing, encryption and federation key files are all required (go run ./cmd/spid-keygen makes development ones)")
	}
	if _, err := ParseACR(orDefault(c.ACR, "SpidL2")); err != nil {
		add("spid.acr: %v", err)
	}
	if !slices.Contains(c.claims(), FiscalNumberClaim) {
		add("spid.claims: must include %s, contacts are keyed by it", FiscalNumberClaim)
	}
	if len(c.Providers) == 0 {
		add("spid.providers: at least one OP is required")
	}
	seen := map[string]bool{}
	for i, p := range c.Providers {
		where := fmt.Sprintf("spid.providers[%d]", i)
		if !validName(p.Name) {
			add("%s.name %q: want letters, digits, '-' or '_'", where, p.Name)
		} else if seen[p.Name] {
			add("%s.name %q: used twice", where, p.Name)
		}
		seen[p.Name] = true
		if s := p.SchemeOf(); s != SchemeSPID && s != SchemeCIE {
			add("%s.scheme %q: want spid or cie", where, p.Scheme)
		}
		if err := checkURL(p.Issuer); err != nil {
			add("%s.issuer: %v", where, err)
		}
		if p.AuthorizationEndpoint != "" {
			for name, u := range map[string]string{
				"authorization_endpoint": p.AuthorizationEndpoint, "token_endpoint": p.TokenEndpoint,
				"userinfo_endpoint": p.UserinfoEndpoint, "revocation_endpoint": p.RevocationEndpoint,
				"jwks_uri": p.JWKSURI,
			} {
				if err := checkURL(u); err != nil {
					add("%s.%s (explicit endpoints need all five): %v", where, name, err)
				}
			}
		}
		for _, alg := range p.SigningAlgs {
			if !slices.Contains(allowedSigningAlgs, alg) {
				add("%s.signing_algs: %q is not allowed (want one of %s)", where, alg, strings.Join(allowedSigningAlgs, ", "))
			}
		}
		if p.ACR != "" {
			if _, err := ParseACR(p.ACR); err != nil {
				add("%s.acr: %v", where, err)
			}
		}
	}
	if _, err := c.Federation.lifetime(); err != nil {
		errs = append(errs, err)
	}
	for i, h := range c.Federation.AuthorityHints {
		if err := checkURL(h); err != nil {
			add("spid.federation.authority_hints[%d]: %v", i, err)
		}
	}
	for i, tm := range c.Federation.TrustMarks {
		if tm.ID == "" || strings.Count(tm.TrustMark, ".") != 2 {
			add("spid.federation.trust_marks[%d]: want an id and the trust mark JWT", i)
		}
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// checkURL accepts https URLs, and http ones on loopback only: an OP or RP
// reached over plain http elsewhere would expose codes and tokens.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || s == "" || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%q: want an absolute URL without fragment", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "127.0.0.1" || h == "localhost" || h == "::1" {
			return nil
		}
	}
	return fmt.Errorf("%q: want https (http only on loopback)", s)
}
