package follow

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// TokenPrefix starts every follow token, so that the authenticator chain
// recognises one without a lookup and never confuses it with a session or
// an API token.
const TokenPrefix = "fl1_"

// tokenLen is the length of a token: the prefix and 32 random bytes in
// base64url.
const tokenLen = len(TokenPrefix) + 43

// NewToken returns a new random follow token.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseToken reports whether s is a well-formed follow token and returns
// the hash the store keeps of it; checked before any lookup so that junk
// never reaches the store.
func ParseToken(s string) (hash string, ok bool) {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s[len(TokenPrefix):])
	if err != nil || len(b) != 32 {
		return "", false
	}
	return HashToken(s), true
}

// HashToken is what the store keeps of a token: hex SHA-256. Tokens carry
// 256 random bits, so no salt or slow hash is needed.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// FormToken is the anti-forgery value of the reply form of a follow page:
// derived from the link's token, so only who holds the link can post.
func FormToken(token string) string {
	s := sha256.Sum256([]byte("follow-form\x00" + token))
	return base64.RawURLEncoding.EncodeToString(s[:])
}
