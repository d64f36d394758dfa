package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/devidp"
	"github.com/sportello/sportello/auth/session"
	"github.com/sportello/sportello/auth/spid"
	"github.com/sportello/sportello/auth/staffsso"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/web"
)

// Paths of the sign-in routes.
const (
	staffLoginPath    = "/auth/staff/login"
	staffCallbackPath = "/auth/staff/callback"
	logoutPath        = "/auth/logout"
	accountPath       = "/account"
	devIdPPath        = "/dev-idp"
	// devStaffClient is the development OP's client for the console.
	devStaffClient = "sportello-console"
	// devIdPFile, in the data dir, tells `sportello dev-token` what the
	// running server's development OP is.
	devIdPFile = "dev-idp.json"
)

// identity is who may sign in, and how: what start wires into the server.
type identity struct {
	sessions *session.Manager
	authn    auth.Chain
	routes   map[string]http.Handler
	logins   []web.LoginLink
	dev      *devidp.Provider // nil unless the development OP runs
	spid     *spid.RP
	attempts *storage.LoginAttempts
}

// cleanup deletes expired sessions and login attempts every 10 minutes
// until ctx ends (they are refused when expired anyway; this bounds the
// tables).
func (id *identity) cleanup(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := id.sessions.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
			log.Warn("delete expired sessions", "err", err)
		} else if n > 0 {
			log.Debug("expired sessions deleted", "count", n)
		}
		if _, err := id.attempts.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
			log.Warn("delete expired login attempts", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// devIdPOn reports whether the development identity provider runs: by
// default in the embedded mode when no real issuer is configured.
func (c Config) devIdPOn() bool {
	if c.Auth.DevIdP != nil {
		return *c.Auth.DevIdP
	}
	return c.Embedded() && c.Auth.StaffSSO.Issuer == "" && !c.SPID.Enabled()
}

// configuredIssuers are the real OPs of the configuration.
func (c Config) configuredIssuers() []string {
	out := []string{c.Auth.StaffSSO.Issuer}
	for _, p := range c.SPID.Providers {
		out = append(out, p.Issuer)
	}
	return out
}

// startIdentity prepares sessions, the development OP, staff SSO, SPID/CIE
// and the authenticators for bearer tokens, for a server reachable at base.
func (a *app) startIdentity(cfg Config, base string, departments []string, site *web.Site) (*identity, error) {
	log := a.log
	id := &identity{routes: map[string]http.Handler{}}
	idle, absolute, _ := cfg.Auth.Sessions.timeouts() // validated with the config
	var err error
	id.sessions, err = session.New(session.Config{Store: a.db, Insecure: strings.HasPrefix(base, "http://"),
		IdleTimeout: idle, AbsoluteTimeout: absolute, Logger: log})
	if err != nil {
		return nil, err
	}
	attempts := a.db.LoginAttempts(storage.LoginAttemptsConfig{})
	id.attempts = attempts

	tokens, err := auth.NewStaticTokens(cfg.Auth.Tokens)
	if err != nil {
		return nil, err
	}
	if cfg.Embedded() {
		if a.devToken, err = devToken(cfg.DataDir); err != nil {
			return nil, err
		}
		dev, _ := auth.NewStaticTokens([]auth.StaticToken{{Name: "dev-admin", SHA256: auth.HashToken(a.devToken), Role: auth.RoleAdmin}})
		id.authn = append(id.authn, dev)
	}
	id.authn = append(id.authn, tokens)

	staff := cfg.Auth.StaffSSO
	spidCfg := cfg.SPID
	if cfg.devIdPOn() {
		if err := devidp.CheckEmbedded(cfg.Database.DSN, cfg.configuredIssuers()...); err != nil {
			return nil, fmt.Errorf("refusing to start the development identity provider: %w", err)
		}
		dcfg := devIdPConfig(cfg, base, departments)
		if !spidCfg.Enabled() {
			if spidCfg, err = devSPIDConfig(cfg.DataDir, base); err != nil {
				return nil, err
			}
			jwks, err := devidp.SPIDClientJWKS(spidCfg.Keys)
			if err != nil {
				return nil, err
			}
			dcfg.Clients = append(dcfg.Clients, devidp.Client{ID: spidCfg.ClientID, Profile: devidp.ProfileSPID,
				RedirectURIs: []string{spidCfg.RedirectURI}, JWKS: jwks})
		}
		if id.dev, err = devidp.New(dcfg); err != nil {
			return nil, err
		}
		if err := writeDevIdP(cfg.DataDir, dcfg); err != nil {
			return nil, err
		}
		if !cfg.SPID.Enabled() {
			// The same development OP stands in for a SPID identity
			// provider and for CIE id.
			cie := id.dev.SPIDProvider("dev-cie")
			cie.Scheme = spid.SchemeCIE
			spidCfg.Providers = []spid.Provider{id.dev.SPIDProvider("dev"), cie}
		}
		if staff.Issuer == "" {
			staff = staffsso.Config{Issuer: id.dev.Issuer(), ClientID: devStaffClient, RedirectURL: base + staffCallbackPath}
		}
		id.routes[id.dev.Path()+"/"] = id.dev.Handler()
	}

	if staff.Issuer != "" {
		aud := staff.Audience
		if aud == "" {
			aud = staff.ClientID
			if id.dev != nil && staff.Issuer == id.dev.Issuer() {
				aud = devidp.DefaultAudience
			}
		}
		vc := staffsso.VerifierConfig{Issuer: staff.Issuer, Audience: aud, Algs: staff.SigningAlgs, Mapping: staff.Mapping}
		if id.dev != nil && staff.Issuer == id.dev.Issuer() {
			// The development OP's citizen tokens (a SPID login's, or
			// `sportello dev-token --as citizen-...`) name a fiscal code.
			vc.Resolve = a.devCitizen(id.dev.Identities())
		}
		v, err := staffsso.NewVerifier(vc)
		if err != nil {
			return nil, err
		}
		id.authn = append(id.authn, v)
		login, err := staffsso.NewLogin(staff, staffsso.LoginDeps{Store: attempts, Logger: log,
			OnLogin: a.staffLogin(id.sessions)})
		if err != nil {
			return nil, err
		}
		id.routes["GET "+staffLoginPath] = http.HandlerFunc(login.HandleLogin)
		id.routes["GET "+login.CallbackPath()] = http.HandlerFunc(login.HandleCallback)
		id.logins = append(id.logins, web.LoginLink{Label: "Accesso operatori (SSO)", Href: staffLoginPath, Staff: true, Kind: "staff"})
	}

	if spidCfg.Enabled() {
		id.spid, err = spid.New(spidCfg, spid.Deps{Store: attempts, Logger: log,
			OnLogin:       a.citizenLogin(id.sessions),
			SessionTokens: sessionTokens(id.sessions),
			OnLogout: func(_ context.Context, w http.ResponseWriter, r *http.Request) error {
				if err := id.sessions.End(w, r); err != nil {
					return err
				}
				http.Redirect(w, r, "/", http.StatusSeeOther)
				return nil
			}})
		if err != nil {
			return nil, err
		}
		for pattern, h := range id.spid.Handlers() {
			id.routes[pattern] = h
		}
		id.logins = append(id.logins, citizenLogins(spidCfg.Providers, id.spid.LoginURL, id.dev != nil && !cfg.SPID.Enabled())...)
	}
	id.authn = append(id.authn, id.sessions)
	id.routes["POST "+logoutPath] = http.HandlerFunc(id.logout)
	site.SetAccounts(web.Accounts{Logins: id.logins, LogoutPath: logoutPath, Visitor: func(r *http.Request) (web.Visitor, bool) {
		s, ok := id.sessions.Current(r)
		if !ok {
			return web.Visitor{}, false
		}
		email, _ := s.Secret("email")
		return web.Visitor{Principal: s.Principal, Token: s.BearerToken(), CSRF: s.CSRFToken(), Email: email}, true
	}})
	return id, nil
}

// citizenLogins are the portal's "Entra con SPID" / "Entra con CIE"
// buttons, by each provider's scheme; the OP's name is added where a
// scheme has several. The development OP is registered for both.
func citizenLogins(providers []spid.Provider, loginURL func(string) string, dev bool) []web.LoginLink {
	per := map[string]int{}
	for _, p := range providers {
		per[p.SchemeOf()]++
	}
	var out []web.LoginLink
	for _, p := range providers {
		label := "Entra con SPID"
		if p.SchemeOf() == spid.SchemeCIE {
			label = "Entra con CIE"
		}
		switch {
		case dev:
			label += " (sviluppo)"
		case per[p.SchemeOf()] > 1:
			label += " (" + p.Name + ")"
		}
		out = append(out, web.LoginLink{Label: label, Href: loginURL(p.Name), Kind: p.SchemeOf()})
	}
	return out
}

// logout ends the session; after a SPID/CIE login it goes through the
// RP's logout, which also revokes the OP's access token.
func (id *identity) logout(w http.ResponseWriter, r *http.Request) {
	if s, ok := id.sessions.Current(r); ok && strings.HasPrefix(s.Provider, "spid:") && id.spid != nil {
		if h, ok := id.spid.Handlers()["POST "+spidLogoutPath]; ok {
			h.ServeHTTP(w, r)
			return
		}
	}
	if err := id.sessions.End(w, r); err != nil {
		http.Error(w, "logout failed; retry", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

const spidLogoutPath = "/spid/logout"

// wrap puts the session middleware and CSRF protection around the
// browser-facing routes.
func (id *identity) wrap(h http.Handler) http.Handler {
	return id.sessions.Middleware(id.sessions.RequireCSRF(h))
}

// citizenLogin is the SPID/CIE RP's OnLogin: the citizen's contact record
// (by fiscal code) and a session holding the OP's tokens for the logout.
func (a *app) citizenLogin(sessions *session.Manager) func(context.Context, http.ResponseWriter, *http.Request, spid.Identity, spid.Tokens) error {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, who spid.Identity, tok spid.Tokens) error {
		name := strings.TrimSpace(who.GivenName + " " + who.FamilyName)
		contact, err := a.db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: who.FiscalCode, Name: name, Email: who.Email, Phone: who.PhoneNumber})
		if err != nil {
			return err
		}
		p := citizenPrincipal(contact, name)
		_, err = sessions.Start(w, r, session.Login{Principal: p, ContactID: contact, DisplayName: name, FiscalNumber: who.FiscalCode,
			Provider: "spid:" + who.Provider, Secrets: map[string]string{"access_token": tok.AccessToken, "id_token": tok.IDToken, "email": who.Email}})
		if err != nil {
			return err
		}
		a.log.InfoContext(ctx, "citizen signed in", "contact", contact, "provider", who.Provider, "acr", who.ACR)
		http.Redirect(w, r, accountPath, http.StatusSeeOther)
		return nil
	}
}

func citizenPrincipal(contact, name string) auth.Principal {
	return auth.Principal{Subject: "citizen:" + contact, Role: auth.RoleCitizen, Contact: contact, Name: name}
}

// sessionTokens gives the SPID RP the OP tokens of the request's session.
func sessionTokens(sessions *session.Manager) func(*http.Request) (spid.Tokens, bool) {
	return func(r *http.Request) (spid.Tokens, bool) {
		s, ok := sessions.Current(r)
		if !ok || !strings.HasPrefix(s.Provider, "spid:") {
			return spid.Tokens{}, false
		}
		at, _ := s.Secret("access_token")
		idt, _ := s.Secret("id_token")
		return spid.Tokens{Provider: strings.TrimPrefix(s.Provider, "spid:"), AccessToken: at, IDToken: idt}, at != ""
	}
}

// staffLogin is the staff SSO's OnLogin: the directory follows the
// identity provider (operator created at the first sign-in, role and
// departments kept in step), then a session.
func (a *app) staffLogin(sessions *session.Manager) func(context.Context, http.ResponseWriter, *http.Request, auth.Principal, staffsso.Identity) error {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, p auth.Principal, who staffsso.Identity) error {
		depts, err := a.db.ListDepartments(ctx)
		if err != nil {
			return err
		}
		op, err := directory.Provision(ctx, a.db, depts, directory.SSOUser{Operator: p.Operator, Name: who.Name, Email: who.Email,
			Role: string(p.Role), Departments: p.Departments})
		if err != nil {
			return fmt.Errorf("provision operator %s: %w", p.Operator, err)
		}
		p.Departments, p.Name = op.Departments, op.DisplayName
		if _, err := sessions.Start(w, r, session.Login{Principal: p, DisplayName: op.DisplayName, Provider: "staff-sso"}); err != nil {
			return err
		}
		to := staffsso.ReturnTo(ctx)
		if to == "" {
			to = accountPath
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
}

// devCitizen resolves a development OP token: a staff token keeps the
// principal its groups gave; a citizen token (fiscal number claim, no
// staff group) becomes the citizen's contact, with the test identity's
// name, e-mail and phone as a SPID login would give them.
func (a *app) devCitizen(idents []devidp.Identity) func(context.Context, auth.Principal, map[string]any) (auth.Principal, error) {
	return func(ctx context.Context, p auth.Principal, claims map[string]any) (auth.Principal, error) {
		if p.Role != "" {
			return p, nil
		}
		fiscal, _ := claims[spid.FiscalNumberClaim].(string)
		fiscal = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(fiscal)), "TINIT-")
		i := slices.IndexFunc(idents, func(id devidp.Identity) bool { return id.Kind == devidp.Citizen && id.FiscalNumber == fiscal })
		if fiscal == "" || i < 0 {
			return auth.Principal{}, auth.ErrUnauthenticated
		}
		who := idents[i]
		contact, err := a.db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: fiscal, Name: who.Name(), Email: who.Email, Phone: who.Phone})
		if err != nil {
			return auth.Principal{}, err
		}
		return citizenPrincipal(contact, who.Name()), nil
	}
}

// devIdPConfig is the development OP of a server at base.
func devIdPConfig(cfg Config, base string, departments []string) devidp.Config {
	return devidp.Config{
		Issuer:     base + devIdPPath,
		KeyFile:    filepath.Join(cfg.DataDir, "dev-idp", "signing-key.pem"),
		Identities: devidp.DefaultIdentities(departments),
		Clients: []devidp.Client{{ID: devStaffClient, Profile: devidp.ProfileStaff,
			RedirectURIs: []string{base + staffCallbackPath}}},
	}
}

// devSPIDConfig is the SPID/CIE RP of the embedded mode: keys generated
// once into the data dir, the development OP as the only provider.
func devSPIDConfig(dataDir, base string) (spid.Config, error) {
	dir := filepath.Join(dataDir, "spid")
	keys := spid.Keys{Signing: filepath.Join(dir, spid.SigningKeyFile), Encryption: filepath.Join(dir, spid.EncryptionKeyFile),
		Federation: filepath.Join(dir, spid.FederationKeyFile)}
	if _, err := os.Stat(keys.Signing); errors.Is(err, os.ErrNotExist) {
		if keys, err = spid.GenerateKeyFiles(dir, 2048); err != nil {
			return spid.Config{}, fmt.Errorf("development SPID keys: %w", err)
		}
	}
	return spid.Config{ClientID: base, RedirectURI: base + "/spid/callback", ClientName: "Sportello (sviluppo)", Keys: keys}, nil
}

// devIdPInfo is what `sportello dev-token` reads from the data dir.
type devIdPInfo struct {
	Issuer     string            `json:"issuer"`
	KeyFile    string            `json:"key_file"`
	Audience   string            `json:"audience"`
	Identities []devidp.Identity `json:"identities"`
}

func writeDevIdP(dir string, c devidp.Config) error {
	b, err := json.MarshalIndent(devIdPInfo{Issuer: c.Issuer, KeyFile: c.KeyFile, Audience: c.Audience, Identities: c.Identities}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, devIdPFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, devIdPFile))
}

// devTokenCommand is `sportello dev-token --as <identity>`.
func devTokenCommand(dataDir, as string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, devIdPFile))
	if err != nil {
		return "", fmt.Errorf("no development identity provider in %s (start `sportello serve` with this data dir first): %w", dataDir, err)
	}
	var info devIdPInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return "", fmt.Errorf("%s: %w", devIdPFile, err)
	}
	return devidp.MintAccessToken(devidp.Config{Issuer: info.Issuer, KeyFile: info.KeyFile, Audience: info.Audience,
		Identities: info.Identities}, as, 0)
}
