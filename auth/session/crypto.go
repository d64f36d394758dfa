package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sportello/sportello/auth"
)

// tokenBytes is the entropy of a session token: 256 bits.
const tokenBytes = 32

// HKDF "info" strings: one key per purpose, all from the cookie token.
const (
	infoData = "sportello web session data v1"
	infoCSRF = "sportello web session csrf v1"
)

// sealVersion prefixes sealed data, so the format can change.
const sealVersion = 1

var b64 = base64.RawURLEncoding

// newToken returns a fresh token and its cookie value.
func newToken() ([]byte, string) {
	t := make([]byte, tokenBytes)
	_, _ = rand.Read(t) // never fails (crypto/rand since Go 1.24)
	return t, b64.EncodeToString(t)
}

// parseToken decodes a cookie value; ok is false for anything that cannot
// be a token this package issued, which then never reaches the store.
func parseToken(v string) ([]byte, bool) {
	if len(v) != b64.EncodedLen(tokenBytes) {
		return nil, false
	}
	t, err := b64.DecodeString(v)
	if err != nil || len(t) != tokenBytes {
		return nil, false
	}
	return t, true
}

// idHash is the store key of a token: auth.HashToken of the cookie value.
func idHash(token []byte) string { return auth.HashToken(b64.EncodeToString(token)) }

func derive(token []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, token, nil, info, 32)
	if err != nil {
		panic(err) // only for lengths out of range: 32 is not
	}
	return k
}

func csrfToken(token []byte) string { return b64.EncodeToString(derive(token, infoCSRF)) }

// validCSRF compares a submitted token in constant time.
func validCSRF(token []byte, got string) bool {
	want := csrfToken(token)
	return len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func gcm(token []byte) cipher.AEAD {
	block, err := aes.NewCipher(derive(token, infoData))
	if err != nil {
		panic(err) // 32-byte key
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return a
}

// seal encrypts secrets with AES-256-GCM under HKDF(token); the id hash is
// additional data, so a blob only opens in its own row. A random nonce is
// safe: each key seals once, at Start.
func seal(token []byte, id string, secrets map[string]string) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	a := gcm(token)
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:])
	return a.Seal(out, out[1:], plain, []byte(id)), nil
}

func unseal(token []byte, id string, data []byte) (map[string]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	a := gcm(token)
	if data[0] != sealVersion || len(data) < 1+a.NonceSize()+a.Overhead() {
		return nil, errors.New("session: malformed sealed data")
	}
	plain, err := a.Open(nil, data[1:1+a.NonceSize()], data[1+a.NonceSize():], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("session: open sealed data: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, err
	}
	return m, nil
}
