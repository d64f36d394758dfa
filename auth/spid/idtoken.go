package spid

import (
	"context"
	"crypto/subtle"
	"fmt"
	"math"
	"time"
)

// ClockSkew is the tolerance between the RP's and the OP's clocks for iat
// and nbf, as the SPID/CIE rules set it.
const ClockSkew = 3 * time.Minute

// idToken is what the RP keeps of a verified ID token.
type idToken struct {
	Subject string
	ACR     string
	Level   ACR
	JTI     string
}

// verifyIDToken checks raw in two steps. go-oidc verifies the signature
// against the OP's keys (fetching them again once for an unknown kid, which
// is how an OP's key rotation is followed) with this OP's algorithm
// allow-list (so "none" and HMAC with a public key as secret fail), and
// iss, aud and exp. Then what go-oidc leaves to the caller: nonce, iat and
// nbf within ClockSkew, sub, azp, acr at least the level asked for, and
// at_hash, which binds the access token to this ID token.
func (rp *RP) verifyIDToken(ctx context.Context, o *op, raw, accessToken string, a Attempt) (idToken, error) {
	t, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return idToken{}, fmt.Errorf("%w: %v", ErrIDToken, err)
	}
	var c struct {
		IAT    *float64 `json:"iat"`
		NBF    *float64 `json:"nbf"`
		ACR    string   `json:"acr"`
		ATHash string   `json:"at_hash"`
		JTI    string   `json:"jti"`
		AZP    string   `json:"azp"`
	}
	if err := t.Claims(&c); err != nil {
		return idToken{}, fmt.Errorf("%w: claims: %v", ErrIDToken, err)
	}
	now := rp.deps.Now()
	switch {
	case t.Subject == "":
		return idToken{}, fmt.Errorf("%w: no sub", ErrIDToken)
	case subtle.ConstantTimeCompare([]byte(t.Nonce), []byte(a.Nonce)) != 1:
		return idToken{}, fmt.Errorf("%w: nonce does not match the attempt's", ErrIDToken)
	case c.IAT == nil:
		return idToken{}, fmt.Errorf("%w: no iat", ErrIDToken)
	case math.Abs(now.Sub(unixTime(*c.IAT)).Seconds()) > ClockSkew.Seconds():
		// The token was issued for this very exchange: an iat far off in
		// either direction is a replay or a broken OP clock.
		return idToken{}, fmt.Errorf("%w: iat %s is more than %s from now", ErrIDToken, unixTime(*c.IAT).UTC().Format(time.RFC3339), ClockSkew)
	case c.NBF != nil && unixTime(*c.NBF).After(now.Add(ClockSkew)):
		return idToken{}, fmt.Errorf("%w: not valid before %s", ErrIDToken, unixTime(*c.NBF).UTC().Format(time.RFC3339))
	case len(t.Audience) > 1 && c.AZP != rp.cfg.ClientID:
		return idToken{}, fmt.Errorf("%w: several audiences and azp %q is not this RP", ErrIDToken, c.AZP)
	}
	level, err := parseACRClaim(c.ACR)
	if err != nil {
		return idToken{}, fmt.Errorf("%w: %v", ErrIDToken, err)
	}
	if level < a.ACR {
		return idToken{}, fmt.Errorf("%w: acr %s is below the requested %s", ErrIDToken, c.ACR, a.ACR)
	}
	if c.ATHash == "" {
		return idToken{}, fmt.Errorf("%w: no at_hash", ErrIDToken)
	}
	// go-oidc hashes with the digest of the token's signing algorithm.
	if err := t.VerifyAccessToken(accessToken); err != nil {
		return idToken{}, fmt.Errorf("%w: at_hash: %v", ErrIDToken, err)
	}
	return idToken{Subject: t.Subject, ACR: c.ACR, Level: level, JTI: c.JTI}, nil
}

func unixTime(secs float64) time.Time {
	s, frac := math.Modf(secs)
	return time.Unix(int64(s), int64(frac*1e9))
}
