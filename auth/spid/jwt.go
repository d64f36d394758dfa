package spid

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"

	jose "github.com/go-jose/go-jose/v4"
)

// randomString is n random bytes, base64url: 32 bytes give the 43
// characters the rules' "at least 32" asks of state and nonce, and a valid
// PKCE verifier.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("spid: crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signJWT signs claims as a compact JWS with key, typ in the header.
func signJWT(key rpKey, typ string, claims any) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	signer, err := jose.NewSigner(key.signingKey(), opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
