package devidp

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Kind says which clients may log in as an identity.
type Kind int

const (
	Citizen Kind = iota + 1 // offered to SPID clients
	Staff                   // offered to staff clients
)

func (k Kind) String() string {
	switch k {
	case Citizen:
		return "citizen"
	case Staff:
		return "staff"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Profile is how a client talks to the OP.
type Profile int

const (
	// ProfileSPID is the SPID/CIE OIDC profile of auth/spid.
	ProfileSPID Profile = iota + 1
	// ProfileStaff is plain OIDC with a client secret or PKCE alone.
	ProfileStaff
)

func (p Profile) String() string {
	switch p {
	case ProfileSPID:
		return "spid"
	case ProfileStaff:
		return "staff"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// Identity is a test user shown on the picker.
type Identity struct {
	// ID names the identity in `sportello dev-token --as ID`; it is the
	// staff members' preferred_username and sub. Letters, digits, '-',
	// '_' and '.'.
	ID    string
	Label string // shown on the picker
	Kind  Kind
	// FiscalNumber is the codice fiscale without the TINIT- prefix;
	// required for citizens, and checked (check character included).
	FiscalNumber string
	GivenName    string
	FamilyName   string
	Email        string
	Phone        string // E.164, e.g. +393331234567
	// Groups go into staff tokens under Config.GroupsClaim as they are;
	// the server maps them to roles and departments.
	Groups []string
}

// Name is "GivenName FamilyName".
func (id Identity) Name() string { return strings.TrimSpace(id.GivenName + " " + id.FamilyName) }

// Client is a registered OIDC client.
type Client struct {
	ID      string
	Profile Profile
	// RedirectURIs are compared exactly: no prefix, no wildcard.
	RedirectURIs []string
	// JWKS holds a SPID client's public keys: one or more signing keys
	// (request objects, client assertions; use "sig" or unset) and one
	// RSA encryption key (use "enc") that userinfo is encrypted to.
	// SPIDClientJWKS reads them from the RP's key files.
	JWKS *jose.JSONWebKeySet
	// Secret is a staff client's secret; empty makes it a public client
	// (token endpoint auth "none", PKCE only). Not used for SPID clients.
	Secret string
}

// Config configures the provider.
type Config struct {
	// Issuer is the absolute URL including the base path, e.g.
	// http://127.0.0.1:8080/dev-idp; it must be on loopback.
	Issuer string
	// KeyFile is the PEM (PKCS#8) RSA key the OP signs with. New creates
	// it (mode 0600) if missing, so tokens survive restarts and
	// MintAccessToken, in another process, signs with the same key.
	KeyFile    string
	Identities []Identity
	Clients    []Client
	// Audience is the access tokens' aud; empty means "sportello".
	Audience string
	// GroupsClaim names the staff groups claim; empty means "groups".
	GroupsClaim string
	// Logger receives one line per login; nil discards.
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Defaults for the Config fields.
const (
	DefaultAudience    = "sportello"
	DefaultGroupsClaim = "groups"
)

// Token lifetimes.
const (
	CodeTTL        = 60 * time.Second
	AccessTokenTTL = time.Hour
	IDTokenTTL     = 10 * time.Minute
	// requestTTL bounds the time between the picker page and the pick.
	requestTTL = 10 * time.Minute
	// clockSkew is tolerated on the iat/exp of what clients sign.
	clockSkew = time.Minute
	// maxJWTLifetime is the longest exp-iat accepted for a request object
	// or a client assertion: they are used at once.
	maxJWTLifetime = 10 * time.Minute
)

func (c Config) withDefaults() Config {
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")
	return c
}

// reservedClaims cannot be the groups claim: it would overwrite them.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "nonce", "acr", "at_hash", "auth_time", "azp", "preferred_username", "name", "given_name", "family_name", "email", "phone_number"}

// validate reports every problem at once; it does not touch the key file.
func (c Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("devidp: "+format, args...)) }
	if err := checkIssuer(c.Issuer); err != nil {
		add("issuer: %v", err)
	}
	if c.KeyFile == "" {
		add("key file: required")
	}
	if slices.Contains(reservedClaims, c.GroupsClaim) {
		add("groups claim %q: would overwrite a standard claim", c.GroupsClaim)
	}
	ids, fiscal := map[string]bool{}, map[string]bool{}
	for i, id := range c.Identities {
		where := fmt.Sprintf("identities[%d] %q", i, id.ID)
		if !validID(id.ID) {
			add("%s: id wants 1-64 letters, digits, '-', '_' or '.'", where)
		} else if ids[id.ID] {
			add("%s: id used twice", where)
		}
		ids[id.ID] = true
		switch id.Kind {
		case Citizen:
			if err := CheckFiscalCode(id.FiscalNumber); err != nil {
				add("%s: %v", where, err)
			} else if fiscal[id.FiscalNumber] {
				add("%s: fiscal number used twice", where)
			}
			fiscal[id.FiscalNumber] = true
			if len(id.Groups) > 0 {
				add("%s: citizens have no groups", where)
			}
		case Staff:
		default:
			add("%s: kind must be Citizen or Staff", where)
		}
	}
	clients := map[string]bool{}
	for i, cl := range c.Clients {
		where := fmt.Sprintf("clients[%d] %q", i, cl.ID)
		if cl.ID == "" {
			add("%s: id required", where)
		} else if clients[cl.ID] {
			add("%s: id used twice", where)
		}
		clients[cl.ID] = true
		if len(cl.RedirectURIs) == 0 {
			add("%s: at least one redirect URI is required", where)
		}
		for _, u := range cl.RedirectURIs {
			if p, err := url.Parse(u); err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") || p.Fragment != "" {
				add("%s: redirect URI %q: want an absolute http(s) URL without fragment", where, u)
			}
		}
		switch cl.Profile {
		case ProfileSPID:
			if cl.Secret != "" {
				add("%s: SPID clients authenticate with private_key_jwt, not a secret", where)
			}
			if _, err := clientSigningKeys(cl.JWKS); err != nil {
				add("%s: %v", where, err)
			}
			if _, err := clientEncryptionKey(cl.JWKS); err != nil {
				add("%s: %v", where, err)
			}
		case ProfileStaff:
		default:
			add("%s: profile must be ProfileSPID or ProfileStaff", where)
		}
	}
	return errors.Join(errs...)
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// checkIssuer accepts http(s) URLs on a loopback host, with an optional
// path made of safe characters (it becomes a ServeMux pattern).
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || s == "" || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: want an absolute http(s) URL without query, fragment or user info", s)
	}
	if !loopback(u.Hostname()) {
		return fmt.Errorf("%q: the development OP runs on loopback only (127.0.0.1, ::1, localhost)", s)
	}
	for _, r := range u.Path {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '/') {
			return fmt.Errorf("%q: path may hold letters, digits, '-', '_', '.' and '/' only", s)
		}
	}
	return nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientSigningKeys are the keys a SPID client signs request objects and
// assertions with: asymmetric, use "sig" or unset.
func clientSigningKeys(set *jose.JSONWebKeySet) ([]jose.JSONWebKey, error) {
	if set == nil {
		return nil, errors.New("JWKS required")
	}
	var out []jose.JSONWebKey
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub := k.Public()
		if !pub.Valid() {
			continue // a symmetric key has no public half
		}
		out = append(out, pub)
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS has no public signing key")
	}
	return out, nil
}

// clientEncryptionKey is the RSA key (use "enc") userinfo is encrypted to.
func clientEncryptionKey(set *jose.JSONWebKeySet) (jose.JSONWebKey, error) {
	if set == nil {
		return jose.JSONWebKey{}, errors.New("JWKS required")
	}
	for _, k := range set.Keys {
		if k.Use != "enc" {
			continue
		}
		pub := k.Public()
		if _, ok := pub.Key.(*rsa.PublicKey); ok {
			return pub, nil
		}
	}
	return jose.JSONWebKey{}, errors.New("JWKS has no RSA encryption key (use \"enc\")")
}
