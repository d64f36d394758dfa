package devidp

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sportello/sportello/auth/spid"
)

// accessClaims are the parts of an access token the OP reads back.
type accessClaims struct {
	jwt.Claims
	ClientID          string `json:"client_id"`
	Scope             string `json:"scope"`
	FiscalNumber      string `json:"https://attributes.eid.gov.it/fiscal_number"`
	PreferredUsername string `json:"preferred_username"`
}

// verifyAccess checks an access token this OP (or MintAccessToken with
// its key) signed: signature, typ at+jwt, iss, aud, and, unless
// allowExpired, exp and revocation.
func (p *Provider) verifyAccess(raw string, allowExpired bool) (accessClaims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return accessClaims{}, errors.New("not a JWT signed with RS256")
	}
	h := tok.Headers[0]
	if h.KeyID != p.key.kid {
		return accessClaims{}, errors.New("not signed by this OP's key")
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return accessClaims{}, errors.New("typ is not at+jwt")
	}
	var c accessClaims
	if err := tok.Claims(&p.key.priv.PublicKey, &c); err != nil {
		return accessClaims{}, errors.New("signature does not verify")
	}
	if c.Issuer != p.cfg.Issuer || !c.Audience.Contains(p.cfg.Audience) {
		return accessClaims{}, errors.New("issued by another issuer or for another audience")
	}
	if !allowExpired {
		if c.Expiry == nil {
			return accessClaims{}, errors.New("no exp")
		}
		if err := c.ValidateWithLeeway(jwt.Expected{Time: p.cfg.Now()}, 0); err != nil {
			return accessClaims{}, err
		}
	}
	if c.ID == "" {
		return accessClaims{}, errors.New("no jti")
	}
	if !allowExpired {
		p.mu.Lock()
		_, revoked := p.revoked[c.ID]
		p.mu.Unlock()
		if revoked {
			return accessClaims{}, errors.New("revoked")
		}
	}
	return c, nil
}

// identityOf finds the identity an access token speaks for.
func (p *Provider) identityOf(c accessClaims) (Identity, bool) {
	if cf, ok := strings.CutPrefix(c.FiscalNumber, "TINIT-"); ok {
		i := slices.IndexFunc(p.cfg.Identities, func(id Identity) bool { return id.Kind == Citizen && id.FiscalNumber == cf })
		if i >= 0 {
			return p.cfg.Identities[i], true
		}
		return Identity{}, false
	}
	id, ok := p.identities[c.PreferredUsername]
	return id, ok && id.Kind == Staff
}

// handleUserinfo answers a SPID client with a JWT signed by the OP and
// encrypted to the client's key, anyone else with plain JSON.
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="devidp"`)
		writeJSON(w, http.StatusUnauthorized, errorf(http.StatusUnauthorized, "invalid_request", "bearer token required"))
		return
	}
	c, err := p.verifyAccess(strings.TrimSpace(raw), false)
	var ident Identity
	if err == nil {
		if ident, ok = p.identityOf(c); !ok {
			err = errors.New("no such identity")
		}
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="devidp", error="invalid_token", error_description=%q`, err.Error()))
		writeJSON(w, http.StatusUnauthorized, errorf(http.StatusUnauthorized, "invalid_token", "%v", err))
		return
	}
	claims := map[string]any{"sub": c.Subject}
	for k, v := range map[string]string{"name": ident.Name(), "given_name": ident.GivenName, "family_name": ident.FamilyName, "email": ident.Email, "phone_number": ident.Phone} {
		if v != "" {
			claims[k] = v
		}
	}
	if ident.Kind == Citizen {
		claims[spid.FiscalNumberClaim] = "TINIT-" + ident.FiscalNumber
	} else {
		staffClaims(claims, ident, p.cfg.GroupsClaim)
	}
	client, ok := p.clients[c.ClientID]
	if !ok || client.Profile != ProfileSPID {
		writeJSON(w, http.StatusOK, claims)
		return
	}
	now := p.cfg.Now()
	claims["iss"], claims["aud"], claims["iat"], claims["exp"] = p.cfg.Issuer, client.ID, now.Unix(), now.Add(IDTokenTTL).Unix()
	body, err := p.sealUserinfo(client, claims)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorf(http.StatusInternalServerError, "server_error", "%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(body))
}

// sealUserinfo signs the claims and encrypts the JWS to the client's
// encryption key (RSA-OAEP-256, A256CBC-HS512, its kid in the header).
func (p *Provider) sealUserinfo(c *Client, claims map[string]any) (string, error) {
	jws, err := p.key.sign("JWT", claims)
	if err != nil {
		return "", err
	}
	enc, err := clientEncryptionKey(c.JWKS)
	if err != nil {
		return "", err
	}
	e, err := jose.NewEncrypter(jose.A256CBC_HS512,
		jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: enc.Key, KeyID: enc.KeyID},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := e.Encrypt([]byte(jws))
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// handleRevoke is RFC 7009: the client revokes an access token it was
// issued. An unknown or invalid token is not an error (§2.2).
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "invalid_request", "unreadable form (at most 64 KiB)"))
		return
	}
	c, oerr := p.authenticateClient(r, p.revocationEndpoint())
	if oerr != nil {
		writeError(w, oerr)
		return
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		writeError(w, errorf(http.StatusBadRequest, "invalid_request", "token required"))
		return
	}
	claims, err := p.verifyAccess(raw, true)
	if err != nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	if claims.ClientID != c.ID {
		writeError(w, errorf(http.StatusBadRequest, "unauthorized_client", "the token was issued to another client"))
		return
	}
	now := p.cfg.Now()
	exp := now.Add(AccessTokenTTL)
	if claims.Expiry != nil {
		exp = claims.Expiry.Time()
	}
	p.mu.Lock()
	room := !now.Before(exp) || sweep(p.revoked, now, same)
	if room && now.Before(exp) {
		p.revoked[claims.ID] = exp
	}
	p.mu.Unlock()
	if !room {
		writeJSON(w, http.StatusServiceUnavailable, errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "too many revoked tokens"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// MintAccessToken signs an access token for the identity with this ID, in
// the token endpoint's format, with cfg.KeyFile: what `sportello dev-token
// --as ID` prints. cfg is the same Config the server passes to New (the
// key file must exist: the server creates it at its first start). The
// token's client_id is "sportello-dev-token" and its sub the identity's
// ID. ttl <= 0 means AccessTokenTTL.
func MintAccessToken(cfg Config, identityID string, ttl time.Duration) (string, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return "", err
	}
	i := slices.IndexFunc(cfg.Identities, func(id Identity) bool { return id.ID == identityID })
	if i < 0 {
		ids := make([]string, 0, len(cfg.Identities))
		for _, id := range cfg.Identities {
			ids = append(ids, id.ID)
		}
		return "", fmt.Errorf("devidp: no test identity %q (have %s)", identityID, strings.Join(ids, ", "))
	}
	key, err := loadKey(cfg.KeyFile)
	if err != nil {
		return "", fmt.Errorf("devidp: %w (start the server once with this data directory to create it)", err)
	}
	if ttl <= 0 {
		ttl = AccessTokenTTL
	}
	ident := cfg.Identities[i]
	tok, _, err := mintAccess(key, cfg, DevTokenClientID, ident.ID, "openid", ident, cfg.Now(), ttl)
	return tok, err
}

// DevTokenClientID is the client_id of MintAccessToken's tokens.
const DevTokenClientID = "sportello-dev-token"
