package spid

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithms the RP accepts for the userinfo JWE, as the SPID/CIE rules
// list them. RSA1_5 is left out (padding oracle), and so are "dir" and key
// wrapping with shared secrets: only the RP's RSA key may open userinfo.
var (
	userinfoKeyAlgs = []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256}
	userinfoEncs    = []jose.ContentEncryption{jose.A128CBC_HS256, jose.A256CBC_HS512}
)

// userinfo fetches the citizen's attributes: a JWT signed by the OP and
// encrypted to the RP's encryption key. A plain JSON answer, a signed but
// unencrypted JWT, or a JWE for another key or with another algorithm is
// rejected. go-jose's jwt helpers refuse RSA-OAEP, so the JWE is opened
// with the lower-level API with explicit algorithm allow-lists.
func (rp *RP) userinfo(ctx context.Context, o *op, meta *opMetadata, accessToken, subject string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.UserinfoEndpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOP, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/jwt")
	resp, err := rp.deps.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %v", ErrOP, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %v", ErrOP, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: userinfo answered %s", ErrOP, resp.Status)
	}
	return rp.openUserinfo(ctx, o, meta.Issuer, string(bytes.TrimSpace(body)), subject)
}

// openUserinfo decrypts and verifies a userinfo JWT and returns its claims.
func (rp *RP) openUserinfo(ctx context.Context, o *op, issuer, body, subject string) (map[string]any, error) {
	if strings.HasPrefix(body, "{") {
		return nil, fmt.Errorf("%w: plain JSON, want a signed and encrypted JWT", ErrUserinfo)
	}
	if strings.Count(body, ".") != 4 {
		return nil, fmt.Errorf("%w: not an encrypted JWT (compact JWE)", ErrUserinfo)
	}
	jwe, err := jose.ParseEncryptedCompact(body, userinfoKeyAlgs, userinfoEncs)
	if err != nil {
		return nil, fmt.Errorf("%w: JWE: %v", ErrUserinfo, err)
	}
	if kid := jwe.Header.KeyID; kid != rp.enc.jwk.KeyID {
		return nil, fmt.Errorf("%w: JWE kid %q is not the RP's encryption key %q", ErrUserinfo, kid, rp.enc.jwk.KeyID)
	}
	plain, err := jwe.Decrypt(rp.enc.jwk.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: decrypting: %v", ErrUserinfo, err)
	}
	// The payload must be a JWS (nested JWT), signed with an allowed
	// algorithm by one of the OP's keys.
	inner := string(plain)
	algs := make([]jose.SignatureAlgorithm, 0, len(o.algs))
	for _, a := range o.algs {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	if _, err := jose.ParseSignedCompact(inner, algs); err != nil {
		return nil, fmt.Errorf("%w: inner JWS: %v", ErrUserinfo, err)
	}
	payload, err := o.keys.VerifySignature(ctx, inner)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrUserinfo, err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrUserinfo, err)
	}
	if iss, _ := claims["iss"].(string); iss != issuer {
		return nil, fmt.Errorf("%w: iss %q, want %q", ErrUserinfo, iss, issuer)
	}
	if !audienceHas(claims["aud"], rp.cfg.ClientID) {
		return nil, fmt.Errorf("%w: aud %v does not name this RP", ErrUserinfo, claims["aud"])
	}
	if sub, _ := claims["sub"].(string); sub != subject {
		return nil, fmt.Errorf("%w: sub %q is not the ID token's", ErrUserinfo, sub)
	}
	if exp, ok := claims["exp"].(json.Number); ok {
		secs, err := exp.Float64()
		if err != nil || !rp.deps.Now().Before(unixTime(secs).Add(ClockSkew)) {
			return nil, fmt.Errorf("%w: expired", ErrUserinfo)
		}
	}
	return claims, nil
}

// audienceHas reads aud as a string or a list of strings.
func audienceHas(aud any, want string) bool {
	switch v := aud.(type) {
	case string:
		return v == want
	case []any:
		return slices.ContainsFunc(v, func(x any) bool { s, _ := x.(string); return s == want })
	}
	return false
}
