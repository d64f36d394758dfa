package spid

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenResponse is the token endpoint's answer (RFC 6749 §5).
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	IDToken          string `json:"id_token"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// exchange trades the code for tokens at the OP's token endpoint
// (private_key_jwt, PKCE verifier) and verifies the ID token. ev collects
// the token hashes for the audit.
func (rp *RP) exchange(ctx context.Context, o *op, meta *opMetadata, a Attempt, code string, ev *AuditEvent) (Tokens, idToken, error) {
	form, jti, err := rp.clientAuth(meta.TokenEndpoint)
	if err != nil {
		return Tokens{}, idToken{}, err
	}
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", rp.redirectURI)
	form.Set("code_verifier", a.Verifier)
	var tr tokenResponse
	status, err := postForm(ctx, rp.deps.HTTPClient, meta.TokenEndpoint, form, &tr)
	ev.Status, ev.JTI = status, jti
	if err != nil {
		return Tokens{}, idToken{}, err
	}
	if tr.Error != "" {
		return Tokens{}, idToken{}, &OPError{Code: tr.Error, Description: tr.ErrorDescription}
	}
	if status != http.StatusOK {
		return Tokens{}, idToken{}, fmt.Errorf("%w: token endpoint answered %d", ErrOP, status)
	}
	ev.AccessTokenHash, ev.IDTokenHash = tokenHash(tr.AccessToken), tokenHash(tr.IDToken)
	if tr.AccessToken == "" || tr.IDToken == "" {
		return Tokens{}, idToken{}, fmt.Errorf("%w: token response without access_token or id_token", ErrOP)
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		return Tokens{}, idToken{}, fmt.Errorf("%w: token_type %q, want Bearer", ErrOP, tr.TokenType)
	}
	idt, err := rp.verifyIDToken(ctx, o, tr.IDToken, tr.AccessToken, a)
	if err != nil {
		return Tokens{}, idToken{}, err
	}
	ev.IDTokenJTI, ev.Subject, ev.ACR = idt.JTI, idt.Subject, idt.ACR
	rp.audit(ctx, AuditEvent{
		Event: EventTokenResponse, Provider: a.Provider, ACR: idt.ACR, StateHash: ev.StateHash, JTI: jti,
		AccessTokenHash: ev.AccessTokenHash, IDTokenHash: ev.IDTokenHash, IDTokenJTI: idt.JTI, Subject: idt.Subject, Status: status,
	})
	tok := Tokens{Provider: a.Provider, AccessToken: tr.AccessToken, IDToken: tr.IDToken}
	if tr.ExpiresIn > 0 {
		tok.Expiry = rp.deps.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return tok, idt, nil
}

// postForm POSTs form to an OP endpoint and decodes a JSON answer into v
// (if v is not nil and the body is JSON); it returns the status.
func postForm(ctx context.Context, client *http.Client, endpoint string, form url.Values, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrOP, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrOP, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%w: %v", ErrOP, err)
	}
	if v != nil && len(body) > 0 {
		if err := json.Unmarshal(body, v); err != nil && resp.StatusCode == http.StatusOK {
			return resp.StatusCode, fmt.Errorf("%w: %s answered with malformed JSON", ErrOP, endpoint)
		}
	}
	return resp.StatusCode, nil
}
