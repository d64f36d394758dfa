package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sportello/sportello/auth"
)

// Cookie names. The __Host- prefix makes browsers refuse the cookie unless
// it is Secure, has Path=/ and no Domain: no subdomain and no plain-http
// page can set or shadow it.
const (
	SecureCookieName   = "__Host-sportello_session"
	InsecureCookieName = "sportello_session"
)

// Defaults of Config.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultTouchInterval   = time.Minute
)

// Config configures a Manager.
type Config struct {
	// Store keeps the sessions; required.
	Store Store
	// Insecure drops the cookie's Secure attribute, for a development
	// server on plain-http loopback only; browsers would not send a
	// Secure cookie there. Production serves https and leaves it false.
	Insecure bool
	// CookieName defaults to SecureCookieName, or InsecureCookieName when
	// Insecure. A __Host- or __Secure- name cannot be Insecure.
	CookieName string
	// IdleTimeout ends a session not used for this long (default 30 min).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login, however busy
	// (default 12 h).
	AbsoluteTimeout time.Duration
	// TouchInterval is how stale the stored last-seen time may get before
	// a request refreshes it (default 1 min): without it every request
	// would write. The idle timeout may therefore strike up to this much
	// early.
	TouchInterval time.Duration
	// TrustedOrigins may send state-changing requests across origins
	// ("https://portale.example.it"); see http.CrossOriginProtection.
	TrustedOrigins []string
	Logger         *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Manager starts, loads and ends sessions, and guards state-changing
// requests against CSRF.
//
// Cookies are HttpOnly (no script reads them), Secure (unless Insecure),
// Path=/ and SameSite=Lax. Lax, not Strict: the SPID/CIE OP sends the
// citizen back with a cross-site top-level GET to the callback, and the
// pages after it must see the session; a Strict cookie would be withheld
// on that navigation and on every link into the portal from an e-mail or
// another site. Lax still withholds the cookie from cross-site POSTs,
// iframes and subresource requests, and the CSRF checks below do not rely
// on it anyway. The cookie has no Max-Age: it ends with the browser, and
// the server enforces both timeouts whatever the browser keeps.
type Manager struct {
	store    Store
	cookie   string
	secure   bool
	idle     time.Duration
	absolute time.Duration
	touch    time.Duration
	cop      *http.CrossOriginProtection
	log      *slog.Logger
	now      func() time.Time
}

// New validates cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	m := &Manager{store: cfg.Store, cookie: cfg.CookieName, secure: !cfg.Insecure, idle: cfg.IdleTimeout,
		absolute: cfg.AbsoluteTimeout, touch: cfg.TouchInterval, cop: http.NewCrossOriginProtection(),
		log: cfg.Logger, now: cfg.Now}
	if m.cookie == "" {
		m.cookie = SecureCookieName
		if cfg.Insecure {
			m.cookie = InsecureCookieName
		}
	}
	if m.idle == 0 {
		m.idle = DefaultIdleTimeout
	}
	if m.absolute == 0 {
		m.absolute = DefaultAbsoluteTimeout
	}
	if m.touch == 0 {
		m.touch = DefaultTouchInterval
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
	var errs []error
	if m.store == nil {
		errs = append(errs, errors.New("session: Store is required"))
	}
	if err := (&http.Cookie{Name: m.cookie, Value: "x"}).Valid(); err != nil {
		errs = append(errs, fmt.Errorf("session: cookie name %q: %w", m.cookie, err))
	}
	if cfg.Insecure && (strings.HasPrefix(m.cookie, "__Host-") || strings.HasPrefix(m.cookie, "__Secure-")) {
		errs = append(errs, fmt.Errorf("session: cookie %q needs the Secure attribute, which Insecure drops", m.cookie))
	}
	if m.idle < 0 || m.absolute < 0 || m.touch < 0 {
		errs = append(errs, errors.New("session: timeouts must be positive"))
	}
	if m.idle > m.absolute {
		errs = append(errs, fmt.Errorf("session: idle timeout %s exceeds absolute timeout %s", m.idle, m.absolute))
	}
	if m.touch >= m.idle {
		errs = append(errs, fmt.Errorf("session: touch interval %s must be shorter than the idle timeout %s", m.touch, m.idle))
	}
	for _, o := range cfg.TrustedOrigins {
		if err := m.cop.AddTrustedOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("session: trusted origin: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// CookieName is the name of the session cookie.
func (m *Manager) CookieName() string { return m.cookie }

func (m *Manager) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: m.cookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode})
}

func (m *Manager) clearCookie(w http.ResponseWriter) { m.setCookie(w, "", -1) }

// cookieToken returns the token in r's session cookie, if it holds one.
func (m *Manager) cookieToken(r *http.Request) ([]byte, bool) {
	c, err := r.Cookie(m.cookie)
	if err != nil {
		return nil, false
	}
	return parseToken(c.Value)
}

// Start begins a session for l after a successful login and sets its
// cookie. The session always gets a new token, and a session the browser
// already had is revoked: an identifier planted before login (session
// fixation) is worth nothing after it.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, l Login) (*Session, error) {
	if l.Principal.Subject == "" || l.Provider == "" {
		return nil, errors.New("session: a login needs a subject and a provider")
	}
	if _, err := auth.ParseRole(string(l.Principal.Role)); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	ctx := r.Context()
	now := m.now().UTC()
	if old, ok := m.cookieToken(r); ok {
		if err := m.store.RevokeSession(ctx, idHash(old), now); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("session: revoke the previous session: %w", err)
		}
	}
	token, value := newToken()
	rec := Record{IDHash: idHash(token), Subject: l.Principal.Subject, Role: l.Principal.Role,
		Departments: l.Principal.Departments, OperatorID: l.Principal.Operator, ContactID: l.ContactID,
		DisplayName: l.DisplayName, FiscalNumber: l.FiscalNumber, Provider: l.Provider,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.absolute)}
	var err error
	if rec.Data, err = seal(token, rec.IDHash, l.Secrets); err != nil {
		return nil, fmt.Errorf("session: seal secrets: %w", err)
	}
	if err := m.store.CreateSession(ctx, rec); err != nil {
		return nil, fmt.Errorf("session: create: %w", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	m.setCookie(w, value, 0)
	return newSession(rec, token), nil
}

// load looks up r's session. stale reports a cookie that names no valid
// session, which the caller should clear.
func (m *Manager) load(r *http.Request) (s *Session, stale bool, err error) {
	token, ok := m.cookieToken(r)
	if !ok {
		_, err := r.Cookie(m.cookie)
		return nil, err == nil, nil
	}
	return m.loadToken(r.Context(), token)
}

// loadToken looks up the session of token: nil and stale when there is
// no valid one; the idle timeout revokes it, and last-seen slides.
func (m *Manager) loadToken(ctx context.Context, token []byte) (s *Session, stale bool, err error) {
	now := m.now().UTC()
	id := idHash(token)
	rec, err := m.store.GetSession(ctx, id, now)
	if errors.Is(err, ErrNotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("session: load: %w", err)
	}
	if !now.Before(rec.ExpiresAt) || !rec.RevokedAt.IsZero() {
		return nil, true, nil
	}
	if !now.Before(rec.LastSeenAt.Add(m.idle)) {
		// Idle too long: revoke it, so the cookie stays useless even if
		// the clocks of two replicas disagree.
		if err := m.store.RevokeSession(ctx, id, now); err != nil && !errors.Is(err, ErrNotFound) {
			m.log.WarnContext(ctx, "revoke idle session", "session", short(id), "error", err)
		}
		return nil, true, nil
	}
	if now.Sub(rec.LastSeenAt) >= m.touch {
		if err := m.store.TouchSession(ctx, id, now); err != nil {
			m.log.WarnContext(ctx, "refresh session last-seen time", "session", short(id), "error", err)
		} else {
			rec.LastSeenAt = now
		}
	}
	return newSession(rec, token), false, nil
}

// Authenticate implements auth.Authenticator for a session's token used as
// a bearer token: the server-rendered pages call the gRPC services with
// it (Session.BearerToken), so they pass the same permission checks as
// any API client. Anything that is not a live session's token is
// auth.ErrUnauthenticated.
func (m *Manager) Authenticate(ctx context.Context, bearer string) (auth.Principal, error) {
	token, ok := parseToken(bearer)
	if !ok {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	s, _, err := m.loadToken(ctx, token)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrUnavailable, err)
	}
	if s == nil {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	return s.Principal, nil
}

// short is enough of an id hash to tell sessions apart in logs.
func short(id string) string { return id[:min(len(id), 12)] }

// Current returns r's session: the one Middleware loaded, or else one
// looked up now.
func (m *Manager) Current(r *http.Request) (*Session, bool) {
	s, err := m.current(r)
	if err != nil {
		m.log.ErrorContext(r.Context(), "load session", "error", err)
		return nil, false
	}
	return s, s != nil
}

func (m *Manager) current(r *http.Request) (*Session, error) {
	if l, ok := r.Context().Value(ctxKey{}).(*loaded); ok {
		return l.s, nil
	}
	s, _, err := m.load(r)
	return s, err
}

// Middleware loads the request's session, if any, and puts it and its
// principal (auth.WithPrincipal) in the request context; it slides the
// idle timeout and clears a cookie that names no valid session. A store
// failure answers 503: the request is neither served as anonymous nor
// as the user.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, stale, err := m.load(r)
		if err != nil {
			m.log.ErrorContext(r.Context(), "load session", "error", err)
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		if stale {
			m.clearCookie(w)
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, &loaded{s: s})
		if s != nil {
			ctx = auth.WithPrincipal(ctx, s.Principal)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// End revokes r's session, if it has one, and expires its cookie (always:
// a logout must leave no cookie behind even if the store fails).
func (m *Manager) End(w http.ResponseWriter, r *http.Request) error {
	m.clearCookie(w)
	w.Header().Set("Cache-Control", "no-store")
	token, ok := m.cookieToken(r)
	if !ok {
		return nil
	}
	if err := m.store.RevokeSession(r.Context(), idHash(token), m.now().UTC()); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("session: revoke: %w", err)
	}
	if l, ok := r.Context().Value(ctxKey{}).(*loaded); ok {
		l.s = nil // the rest of this request is anonymous
	}
	return nil
}

// RevokeSubject ends every session of subject, on every replica: for an
// operator removed from the directory, or a citizen's "log out
// everywhere".
func (m *Manager) RevokeSubject(ctx context.Context, subject string) (int, error) {
	n, err := m.store.RevokeSubjectSessions(ctx, subject, m.now().UTC())
	if err != nil {
		return n, fmt.Errorf("session: revoke sessions of %s: %w", subject, err)
	}
	return n, nil
}

// DeleteExpired removes sessions past their absolute timeout from the
// store; run it periodically (sessions ended earlier are already unusable).
func (m *Manager) DeleteExpired(ctx context.Context) (int, error) {
	return m.store.DeleteExpiredSessions(ctx, m.now().UTC())
}
