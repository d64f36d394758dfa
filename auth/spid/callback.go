package spid

import (
	"crypto/subtle"
	"fmt"
	"net/http"
)

// handleCallback receives the OP's authorization response, checks it
// against the pending attempt, exchanges the code, verifies the ID token
// and userinfo, and hands the Identity to OnLogin.
func (rp *RP) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	ev := AuditEvent{StateHash: tokenHash(state), CodeHash: tokenHash(q.Get("code"))}
	if state == "" {
		rp.fail(w, r, ev, fmt.Errorf("%w: no state", ErrInvalidResponse))
		return
	}
	// Take before anything else: whatever follows, this state is spent,
	// so a replayed or leaked callback URL never works twice.
	a, err := rp.deps.Store.Take(ctx, state)
	if err != nil {
		rp.fail(w, r, ev, err)
		return
	}
	ev.Provider, ev.ACR = a.Provider, a.ACR.String()
	http.SetCookie(w, &http.Cookie{Name: bindingCookie(state), Value: "", Path: rp.callbackPath(), MaxAge: -1, HttpOnly: true, Secure: rp.secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(bindingCookie(state))
	if err != nil || subtle.ConstantTimeCompare([]byte(sha256Hex(c.Value)), []byte(a.BrowserHash)) != 1 {
		rp.fail(w, r, ev, ErrWrongBrowser)
		return
	}
	o, ok := rp.ops[a.Provider]
	if !ok { // the configuration changed while the citizen was at the OP
		rp.fail(w, r, ev, fmt.Errorf("%w %q", ErrUnknownProvider, a.Provider))
		return
	}
	meta, err := o.metadata(ctx)
	if err != nil {
		rp.fail(w, r, ev, fmt.Errorf("%w: %v", ErrOP, err))
		return
	}
	// RFC 9207: an OP that names itself in the response must be the one
	// this attempt went to (defence against mix-up between OPs).
	if iss := q.Get("iss"); iss != "" && iss != meta.Issuer {
		rp.fail(w, r, ev, fmt.Errorf("%w: iss %q, the attempt went to %q", ErrInvalidResponse, iss, meta.Issuer))
		return
	}
	if code := q.Get("error"); code != "" {
		rp.fail(w, r, ev, &OPError{Code: code, Description: q.Get("error_description")})
		return
	}
	code := q.Get("code")
	if code == "" {
		rp.fail(w, r, ev, fmt.Errorf("%w: no code", ErrInvalidResponse))
		return
	}
	rp.audit(ctx, AuditEvent{Event: EventCallbackReceived, Provider: a.Provider, ACR: ev.ACR, StateHash: ev.StateHash, CodeHash: ev.CodeHash})

	tok, idt, err := rp.exchange(ctx, o, meta, a, code, &ev)
	if err != nil {
		rp.fail(w, r, ev, err)
		return
	}
	attrs, err := rp.userinfo(ctx, o, meta, tok.AccessToken, idt.Subject)
	if err != nil {
		rp.fail(w, r, ev, err)
		return
	}
	id, err := identityFrom(attrs, idt, a.Provider)
	if err != nil {
		rp.fail(w, r, ev, err)
		return
	}
	rp.audit(ctx, AuditEvent{Event: EventUserinfo, Provider: a.Provider, ACR: id.ACR, StateHash: ev.StateHash, Subject: id.Subject})
	if err := rp.deps.OnLogin(ctx, w, r, id, tok); err != nil {
		rp.fail(w, r, ev, fmt.Errorf("spid: OnLogin: %w", err))
		return
	}
	rp.audit(ctx, AuditEvent{Event: EventLogin, Provider: a.Provider, ACR: id.ACR, StateHash: ev.StateHash, Subject: id.Subject, AccessTokenHash: ev.AccessTokenHash, IDTokenHash: ev.IDTokenHash})
}
