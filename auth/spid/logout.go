package spid

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// handleLogout revokes the session's access token at its OP, then lets
// OnLogout end the local session. POST only; the caller's middleware must
// check its CSRF token (Handlers lets it wrap this handler). A failed
// revocation is audited but does not keep the citizen logged in here: the
// local session is what protects this site.
func (rp *RP) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if rp.deps.OnLogout == nil {
		rp.fail(w, r, AuditEvent{}, errors.New("spid: Deps.OnLogout is not set"))
		return
	}
	var ev AuditEvent
	if rp.deps.SessionTokens != nil {
		if tok, ok := rp.deps.SessionTokens(r); ok {
			ev = AuditEvent{Provider: tok.Provider, AccessTokenHash: tokenHash(tok.AccessToken)}
			if err := rp.Revoke(ctx, tok); err != nil {
				e := ev
				e.Event, e.Error = EventError, err.Error()
				rp.audit(ctx, e)
			}
		}
	}
	if err := rp.deps.OnLogout(ctx, w, r); err != nil {
		rp.fail(w, r, ev, fmt.Errorf("spid: OnLogout: %w", err))
		return
	}
	ev.Event = EventLogout
	rp.audit(ctx, ev)
}

// Revoke revokes tok's access token at the OP's revocation endpoint
// (RFC 7009) with private_key_jwt client authentication.
func (rp *RP) Revoke(ctx context.Context, tok Tokens) error {
	o, ok := rp.ops[tok.Provider]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownProvider, tok.Provider)
	}
	meta, err := o.metadata(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrOP, err)
	}
	if meta.RevocationEndpoint == "" {
		return fmt.Errorf("%w: OP %s has no revocation endpoint", ErrOP, tok.Provider)
	}
	if tok.AccessToken == "" {
		return fmt.Errorf("%w: no access token", ErrNoSession)
	}
	form, jti, err := rp.clientAuth(meta.RevocationEndpoint)
	if err != nil {
		return err
	}
	form.Set("token", tok.AccessToken)
	form.Set("token_type_hint", "access_token")
	var oe struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	status, err := postForm(ctx, rp.deps.HTTPClient, meta.RevocationEndpoint, form, &oe)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		if oe.Error != "" {
			return &OPError{Code: oe.Error, Description: oe.ErrorDescription}
		}
		return fmt.Errorf("%w: revocation endpoint answered %d", ErrOP, status)
	}
	rp.audit(ctx, AuditEvent{Event: EventRevocation, Provider: tok.Provider, JTI: jti, AccessTokenHash: tokenHash(tok.AccessToken), Status: status})
	return nil
}
