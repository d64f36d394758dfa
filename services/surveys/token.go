package surveys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// TokenLen is the length of a token: 32 random bytes, base64url.
const TokenLen = 43

// NewToken returns a single-use random token for a survey or opt-out link.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is what the store keeps of a token: hex SHA-256. Tokens carry
// 256 random bits, so no salt or slow hash is needed.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// WellFormedToken reports whether s could be a token: checked before any
// lookup so that junk never reaches the store.
func WellFormedToken(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
