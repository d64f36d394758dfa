package staffsso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/spid"
)

// Config is the staff_sso section of the configuration.
type Config struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"` // empty: a public client (PKCE only)
	// RedirectURL is this server's callback, as registered at the OP
	// (e.g. https://sportello.example/auth/staff/callback).
	RedirectURL string   `yaml:"redirect_url"`
	Scopes      []string `yaml:"scopes"` // besides openid; default profile, email
	// Audience of bearer tokens for the API (default: client_id).
	Audience    string   `yaml:"audience"`
	SigningAlgs []string `yaml:"signing_algs"`
	Mapping     Mapping  `yaml:",inline"`
}

// Login is the staff login: GET LoginPath redirects to the OP, GET the
// callback path finishes the code flow.
type Login struct {
	cfg      Config
	op       *provider
	mapping  Mapping
	store    spid.AttemptStore
	onLogin  func(ctx context.Context, w http.ResponseWriter, r *http.Request, p auth.Principal, id Identity) error
	onError  func(w http.ResponseWriter, r *http.Request, status int, err error)
	log      *slog.Logger
	now      func() time.Time
	callback string // path of RedirectURL
	secure   bool
}

// LoginDeps are what the login needs from the server.
type LoginDeps struct {
	// OnLogin receives the verified staff member; it provisions the
	// operator, starts the web session and writes the response. Required.
	OnLogin func(ctx context.Context, w http.ResponseWriter, r *http.Request, p auth.Principal, id Identity) error
	// OnError writes the answer to a failed login; nil: plain text.
	OnError func(w http.ResponseWriter, r *http.Request, status int, err error)
	// Store keeps pending attempts (shared between replicas).
	Store      spid.AttemptStore
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// NewLogin checks the configuration; it contacts the OP on the first login.
func NewLogin(cfg Config, d LoginDeps) (*Login, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("staff_sso: issuer, client_id and redirect_url are required")
	}
	u, err := url.Parse(cfg.RedirectURL)
	if err != nil || u.Path == "" || (u.Scheme != "https" && !loopback(u.Hostname())) {
		return nil, fmt.Errorf("staff_sso.redirect_url %q: want an absolute https URL (http only on loopback)", cfg.RedirectURL)
	}
	if d.OnLogin == nil {
		return nil, errors.New("staff_sso: OnLogin is required")
	}
	m := cfg.Mapping.WithDefaults()
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("staff_sso: %w", err)
	}
	if d.Store == nil {
		d.Store = spid.NewMemoryStore(0)
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.OnError == nil {
		d.OnError = func(w http.ResponseWriter, _ *http.Request, status int, err error) {
			http.Error(w, "Accesso non riuscito / Sign-in failed: "+publicReason(err), status)
		}
	}
	return &Login{cfg: cfg, op: &provider{issuer: cfg.Issuer, client: d.HTTPClient}, mapping: m, store: d.Store,
		onLogin: d.OnLogin, onError: d.OnError, log: d.Logger, now: d.Now, callback: u.Path, secure: u.Scheme == "https"}, nil
}

func loopback(host string) bool { return host == "127.0.0.1" || host == "::1" || host == "localhost" }

// CallbackPath is the path the OP redirects back to.
func (l *Login) CallbackPath() string { return l.callback }

const attemptTTL = 10 * time.Minute

func (l *Login) oauth(op *oidc.Provider) *oauth2.Config {
	scopes := append([]string{oidc.ScopeOpenID}, l.cfg.Scopes...)
	if len(l.cfg.Scopes) == 0 {
		scopes = append(scopes, "profile", "email")
	}
	return &oauth2.Config{ClientID: l.cfg.ClientID, ClientSecret: l.cfg.ClientSecret, Endpoint: op.Endpoint(),
		RedirectURL: l.cfg.RedirectURL, Scopes: scopes}
}

func cookieName(state string) string {
	s := sha256.Sum256([]byte(state))
	return "staffsso_" + hex.EncodeToString(s[:6])
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HandleLogin starts a login (GET). A "return_to" query parameter that is
// a local path is kept for after the login.
func (l *Login) HandleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	op, err := l.op.get(ctx)
	if err != nil {
		l.log.ErrorContext(ctx, "staff login: identity provider unreachable", "issuer", l.cfg.Issuer, "err", err)
		l.onError(w, r, http.StatusBadGateway, errUnreachable)
		return
	}
	browser := random()
	a := spid.Attempt{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Provider: "staff-sso",
		BrowserHash: hash(browser), Expires: l.now().Add(attemptTTL)}
	if err := l.store.Put(ctx, a); err != nil {
		l.log.ErrorContext(ctx, "staff login: save attempt", "err", err)
		l.onError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName(a.State), Value: browser + "|" + LocalPath(r.URL.Query().Get("return_to")),
		Path: l.callback, MaxAge: int(attemptTTL / time.Second), HttpOnly: true, Secure: l.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, l.oauth(op).AuthCodeURL(a.State, oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier)), http.StatusFound)
	l.log.InfoContext(ctx, "staff login started", "issuer", l.cfg.Issuer, "state_hash", hash(a.State)[:16])
}

var (
	errUnreachable = errors.New("the identity provider cannot be reached")
	errRefused     = errors.New("the identity provider refused the sign-in")
	errBadState    = errors.New("the sign-in expired or was already used: start again")
	errBadAnswer   = errors.New("the identity provider's answer could not be verified")
)

func publicReason(err error) string {
	for _, e := range []error{errUnreachable, errRefused, errBadState, errBadAnswer, ErrNoRole} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "internal error"
}

// HandleCallback finishes a login (GET from the OP).
func (l *Login) HandleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	if e := q.Get("error"); e != "" {
		// Consume the attempt so the state cannot be used again.
		if state != "" {
			_, _ = l.store.Take(ctx, state)
		}
		l.log.WarnContext(ctx, "staff login refused by the identity provider", "error", e, "description", q.Get("error_description"))
		l.onError(w, r, http.StatusForbidden, errRefused)
		return
	}
	if state == "" || len(state) > 512 {
		l.onError(w, r, http.StatusBadRequest, errBadState)
		return
	}
	a, err := l.store.Take(ctx, state)
	if err != nil {
		l.log.WarnContext(ctx, "staff login: unknown state", "state_hash", hash(state)[:16])
		l.onError(w, r, http.StatusBadRequest, errBadState)
		return
	}
	c, err := r.Cookie(cookieName(state))
	browser, returnTo, _ := strings.Cut(valueOf(c, err), "|")
	if err != nil || subtle.ConstantTimeCompare([]byte(hash(browser)), []byte(a.BrowserHash)) != 1 || l.now().After(a.Expires) {
		l.log.WarnContext(ctx, "staff login: callback from another browser or too late", "state_hash", hash(state)[:16])
		l.onError(w, r, http.StatusBadRequest, errBadState)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName(state), Path: l.callback, MaxAge: -1, HttpOnly: true, Secure: l.secure, SameSite: http.SameSiteLaxMode})
	op, err := l.op.get(ctx)
	if err != nil {
		l.onError(w, r, http.StatusBadGateway, errUnreachable)
		return
	}
	octx := oidc.ClientContext(ctx, l.op.client)
	tok, err := l.oauth(op).Exchange(octx, q.Get("code"), oauth2.VerifierOption(a.Verifier))
	if err != nil {
		l.log.WarnContext(ctx, "staff login: code exchange failed", "err", err)
		l.onError(w, r, http.StatusBadGateway, errRefused)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	algs := l.cfg.SigningAlgs
	if len(algs) == 0 {
		algs = DefaultSigningAlgs
	}
	idt, err := op.VerifierContext(octx, &oidc.Config{ClientID: l.cfg.ClientID, SupportedSigningAlgs: algs, Now: l.now}).Verify(octx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(a.Nonce)) != 1 {
		l.log.WarnContext(ctx, "staff login: ID token rejected", "err", err)
		l.onError(w, r, http.StatusBadGateway, errBadAnswer)
		return
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			l.onError(w, r, http.StatusBadGateway, errBadAnswer)
			return
		}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		l.onError(w, r, http.StatusBadGateway, errBadAnswer)
		return
	}
	// Groups may be only in userinfo (some OPs keep ID tokens small).
	if _, ok := claims[l.mapping.GroupsClaim]; !ok {
		if ui, err := op.UserInfo(octx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			var more map[string]any
			if ui.Claims(&more) == nil {
				for k, v := range more {
					if _, have := claims[k]; !have {
						claims[k] = v
					}
				}
			}
		}
	}
	p, id, err := l.mapping.Principal(claims)
	if err == nil && p.Role == auth.RoleService {
		err = errors.New("a service account does not sign in to the console")
	}
	if err != nil {
		l.log.WarnContext(ctx, "staff login: no Sportello role", "sub", idt.Subject, "err", err)
		l.onError(w, r, http.StatusForbidden, ErrNoRole)
		return
	}
	l.log.InfoContext(ctx, "staff login", "sub", idt.Subject, "role", p.Role, "operator", p.Operator, "departments", p.Departments)
	if err := l.onLogin(WithReturnTo(ctx, returnTo), w, r, p, id); err != nil {
		l.log.ErrorContext(ctx, "staff login: session", "err", err)
		l.onError(w, r, http.StatusInternalServerError, err)
	}
}

func valueOf(c *http.Cookie, err error) string {
	if err != nil || c == nil {
		return ""
	}
	return c.Value
}

type returnToKey struct{}

// WithReturnTo carries the page to go back to after a login.
func WithReturnTo(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, returnToKey{}, path)
}

// ReturnTo is the local page the login started from, or "".
func ReturnTo(ctx context.Context) string {
	s, _ := ctx.Value(returnToKey{}).(string)
	return s
}

// LocalPath returns p if it is a path on this site ("/cases/1?x"), else
// "": never "//evil.example" or "https://...", so a login cannot be turned
// into an open redirect.
func LocalPath(p string) string {
	if p == "" || len(p) > 1024 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n|") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return p
}
