package spid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Tokens are what the OP issued at login. The caller keeps them with its
// web session (server side: they are credentials) and gives them back
// through Deps.SessionTokens at logout, to revoke the access token.
type Tokens struct {
	Provider    string // Provider.Name
	AccessToken string
	IDToken     string // raw; an id_token_hint for the OP's end-session endpoint
	Expiry      time.Time
}

// Deps are what the RP needs from the server that mounts it.
type Deps struct {
	// OnLogin receives the verified citizen after a successful callback;
	// it creates or updates the contact and the web session and writes
	// the response (typically a redirect). Required.
	OnLogin func(ctx context.Context, w http.ResponseWriter, r *http.Request, id Identity, tok Tokens) error
	// SessionTokens returns the tokens saved by OnLogin for the session of
	// r, if any; the logout handler revokes their access token.
	SessionTokens func(r *http.Request) (Tokens, bool)
	// OnLogout ends the local session and writes the response; it runs
	// whether or not the revocation at the OP succeeded. Required for the
	// logout handler.
	OnLogout func(ctx context.Context, w http.ResponseWriter, r *http.Request) error
	// OnError writes the response for a failed login or logout; err is
	// for logs, not for the citizen. Nil means a plain error page with
	// StatusOf(err).
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// Audit receives every authentication exchange; nil logs them through
	// Logger.
	Audit func(ctx context.Context, e AuditEvent)
	// Store keeps pending attempts; nil means a MemoryStore, which is
	// right for a single replica only.
	Store AttemptStore
	// HTTPClient calls the OPs; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// RP is the SPID/CIE Relying Party.
type RP struct {
	cfg         Config
	deps        Deps
	redirectURI string
	sig, enc    rpKey
	fed         rpKey
	ops         map[string]*op
	names       []string
	lifetime    time.Duration
	secure      bool // cookies only over https
}

// New loads the keys and prepares the OPs; it does not contact them (their
// discovery documents are read on first use).
func New(cfg Config, deps Deps) (*RP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.OnLogin == nil {
		return nil, errors.New("spid: Deps.OnLogin is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Audit == nil {
		deps.Audit = slogAudit(deps.Logger)
	}
	if deps.Store == nil {
		deps.Store = NewMemoryStore(0)
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	rp := &RP{cfg: cfg, deps: deps, redirectURI: cfg.redirectURI(), ops: map[string]*op{}}
	var errs []error
	var err error
	if rp.sig, err = loadKey(cfg.Keys.Signing, useSig); err != nil {
		errs = append(errs, fmt.Errorf("spid.keys.signing: %w", err))
	}
	if rp.enc, err = loadKey(cfg.Keys.Encryption, useEnc); err != nil {
		errs = append(errs, fmt.Errorf("spid.keys.encryption: %w", err))
	}
	if rp.fed, err = loadKey(cfg.Keys.Federation, useSig); err != nil {
		errs = append(errs, fmt.Errorf("spid.keys.federation: %w", err))
	}
	if len(errs) == 0 && (rp.sig.jwk.KeyID == rp.enc.jwk.KeyID || rp.sig.jwk.KeyID == rp.fed.jwk.KeyID || rp.enc.jwk.KeyID == rp.fed.jwk.KeyID) {
		errs = append(errs, errors.New("spid.keys: signing, encryption and federation must be three different keys"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rp.lifetime, _ = cfg.Federation.lifetime() // validated
	u, _ := url.Parse(rp.redirectURI)          // validated
	rp.secure = u.Scheme == "https"
	for _, p := range cfg.Providers {
		acr, _ := cfg.acr(p) // validated
		rp.ops[p.Name] = newOP(p, acr, cfg.ClientID, deps.HTTPClient, deps.Now)
		rp.names = append(rp.names, p.Name)
	}
	return rp, nil
}

// Providers lists the configured OPs' names, in configuration order (for
// the login page's buttons).
func (rp *RP) Providers() []string { return slices.Clone(rp.names) }

// LoginURL is the link that starts a login with the OP named provider.
func (rp *RP) LoginURL(provider string) string {
	return rp.cfg.loginPath() + "?" + url.Values{"provider": {provider}}.Encode()
}

// Paths of the handlers Mount registers.
func (rp *RP) callbackPath() string {
	u, _ := url.Parse(rp.redirectURI)
	return u.Path
}

// Handlers returns the RP's endpoints by pattern (Go 1.22 ServeMux
// syntax), for a caller that wants to wrap some of them (the logout one
// needs the caller's CSRF check):
//
//	GET  /spid/login?provider=NAME   redirect to the OP
//	GET  /spid/callback              the OP's response (Config.RedirectURI's path)
//	POST /spid/logout                revoke at the OP, end the local session
//	GET  /.well-known/openid-federation  the RP's entity configuration
func (rp *RP) Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"GET " + rp.cfg.loginPath():          http.HandlerFunc(rp.handleLogin),
		"GET " + rp.callbackPath():           http.HandlerFunc(rp.handleCallback),
		"POST " + rp.cfg.logoutPath():        http.HandlerFunc(rp.handleLogout),
		"GET /.well-known/openid-federation": http.HandlerFunc(rp.handleEntityConfiguration),
	}
}

// Mount registers Handlers on mux.
func (rp *RP) Mount(mux *http.ServeMux) {
	for pattern, h := range rp.Handlers() {
		mux.Handle(pattern, h)
	}
}

func (rp *RP) audit(ctx context.Context, e AuditEvent) { rp.deps.Audit(ctx, e) }

// fail reports err to the audit hook and answers the browser.
func (rp *RP) fail(w http.ResponseWriter, r *http.Request, e AuditEvent, err error) {
	e.Event = EventError
	e.Error = err.Error()
	rp.audit(r.Context(), e)
	if rp.deps.OnError != nil {
		rp.deps.OnError(w, r, err)
		return
	}
	status := StatusOf(err)
	http.Error(w, http.StatusText(status)+": SPID/CIE login failed", status)
}
