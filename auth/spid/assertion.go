package spid

import (
	"net/url"
	"time"
)

// assertionLifetime is short: the assertion is used at once, and a
// captured one is worthless after it (the OP also refuses a reused jti).
const assertionLifetime = 2 * time.Minute

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientAuth returns the private_key_jwt parameters for a call to the OP
// endpoint aud (token or revocation) and the assertion's jti for the audit.
// There is no client secret anywhere in this package: the SPID/CIE rules
// allow private_key_jwt only.
func (rp *RP) clientAuth(aud string) (url.Values, string, error) {
	now := rp.deps.Now()
	jti := randomString(16)
	assertion, err := signJWT(rp.sig, "JWT", map[string]any{
		"iss": rp.cfg.ClientID,
		"sub": rp.cfg.ClientID,
		"aud": aud,
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
		"jti": jti,
	})
	if err != nil {
		return nil, "", err
	}
	return url.Values{
		"client_id":             {rp.cfg.ClientID},
		"client_assertion_type": {clientAssertionType},
		"client_assertion":      {assertion},
	}, jti, nil
}
