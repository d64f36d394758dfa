package staffsso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/sportello/sportello/auth"
)

// DefaultSigningAlgs are the algorithms accepted on tokens when the
// configuration names none: asymmetric only, never "none" or HMAC.
var DefaultSigningAlgs = []string{oidc.RS256, oidc.PS256, oidc.ES256}

// provider is an OP read lazily: its discovery document is fetched on
// first use, not at start-up (the OP may be this very process, the
// development provider, not listening yet), and again after a failure.
type provider struct {
	issuer string
	client *http.Client

	mu  sync.Mutex
	got *oidc.Provider
}

func (p *provider) get(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got != nil {
		return p.got, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), 10*time.Second)
	defer cancel()
	got, err := oidc.NewProvider(ctx, p.issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", p.issuer, err)
	}
	p.got = got
	return got, nil
}

// Verifier is an auth.Authenticator for bearer tokens issued by one OP:
// JWTs signed with one of Algs, with this issuer and Audience in aud, not
// expired.
type Verifier struct {
	op       *provider
	audience string
	algs     []string
	mapping  Mapping
	// Resolve, when set, completes a principal (a citizen token of the
	// development provider names a fiscal code, not a contact); it may
	// refuse the token.
	resolve func(ctx context.Context, p auth.Principal, claims map[string]any) (auth.Principal, error)
	now     func() time.Time

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	Issuer   string
	Audience string   // required: the aud tokens for Sportello carry
	Algs     []string // nil: DefaultSigningAlgs
	Mapping  Mapping
	// Resolve: see Verifier. With it, tokens whose groups give no role
	// reach Resolve with a zero principal instead of being refused.
	Resolve    func(ctx context.Context, p auth.Principal, claims map[string]any) (auth.Principal, error)
	HTTPClient *http.Client
	Now        func() time.Time
}

// NewVerifier checks the configuration; it does not contact the OP.
func NewVerifier(c VerifierConfig) (*Verifier, error) {
	if c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("staff bearer tokens: issuer and audience are required")
	}
	m := c.Mapping.WithDefaults()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	for _, a := range c.Algs {
		if a == "none" || strings.HasPrefix(a, "HS") {
			return nil, fmt.Errorf("signing algorithm %q is not accepted on bearer tokens", a)
		}
	}
	if c.Algs == nil {
		c.Algs = DefaultSigningAlgs
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Verifier{op: &provider{issuer: c.Issuer, client: c.HTTPClient}, audience: c.Audience, algs: c.Algs,
		mapping: m, resolve: c.Resolve, now: c.Now}, nil
}

func (v *Verifier) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	op, err := v.op.get(ctx)
	if err != nil {
		return nil, err
	}
	v.verifier = op.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), v.op.client),
		&oidc.Config{ClientID: v.audience, SupportedSigningAlgs: v.algs, Now: v.now})
	return v.verifier, nil
}

// looksLikeJWT lets other authenticators of a chain have opaque tokens.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 && len(s) < 16<<10 }

// Authenticate implements auth.Authenticator.
func (v *Verifier) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	if !looksLikeJWT(token) {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	iv, err := v.idVerifier(ctx)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrUnavailable, err)
	}
	t, err := iv.Verify(ctx, token)
	if err != nil {
		// A token signed with a key we have not seen sends go-oidc to the
		// OP's JWKS; when that fails the OP is down, and the token may be
		// good: say so, not "invalid token". go-oidc formats this error
		// with %v, so only its text tells.
		if strings.Contains(err.Error(), "fetching keys") {
			return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrUnavailable, err)
		}
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	p, _, err := v.mapping.Principal(claims)
	if errors.Is(err, ErrNoRole) && v.resolve != nil {
		p, err = auth.Principal{}, nil
	}
	if err != nil {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	if v.resolve != nil {
		return v.resolve(ctx, p, claims)
	}
	return p, nil
}
