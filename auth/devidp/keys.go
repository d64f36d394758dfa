package devidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sportello/sportello/auth/spid"
)

// keyBits is the size of the key New creates.
const keyBits = 2048

// opKey is the OP's signing key, with the kid it is published under.
type opKey struct {
	priv *rsa.PrivateKey
	kid  string // RFC 7638 thumbprint: the same in every process
	// pairwise keys the HMAC of pairwise subjects; derived from the
	// private key so that every process computes the same subjects.
	pairwise []byte
}

func newOPKey(priv *rsa.PrivateKey) (opKey, error) {
	if priv.N.BitLen() < keyBits {
		return opKey{}, fmt.Errorf("RSA key of %d bits, at least %d required", priv.N.BitLen(), keyBits)
	}
	tp, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return opKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return opKey{}, err
	}
	mac := hmac.New(sha256.New, []byte("sportello devidp pairwise subjects"))
	mac.Write(der)
	return opKey{priv: priv, kid: base64.RawURLEncoding.EncodeToString(tp), pairwise: mac.Sum(nil)}, nil
}

func (k opKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// sign serializes claims as a compact JWS (RS256) with typ in the header.
func (k opKey) sign(typ string, claims any) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
	)
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

// pairwiseSubject is the sub a SPID client sees for an identity: stable,
// different for each client, not the identity's ID.
func (k opKey) pairwiseSubject(clientID, identityID string) string {
	mac := hmac.New(sha256.New, k.pairwise)
	mac.Write([]byte(clientID))
	mac.Write([]byte{0})
	mac.Write([]byte(identityID))
	return fmt.Sprintf("%x", mac.Sum(nil))
}

// loadOrCreateKey reads the key at path, or creates it. Two processes
// starting at once must end up with the same key: the new key is written
// to a temporary file and linked into place, which fails with EEXIST if
// the other process won; then its key is read. Where hard links are not
// supported the file is created with O_EXCL and a reader that finds it
// half written retries for a moment.
func loadOrCreateKey(path string) (opKey, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		k, err := loadKey(path)
		switch {
		case err == nil:
			return k, nil
		case errors.Is(err, fs.ErrNotExist):
			created, err := createKey(path)
			if err == nil {
				return created, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return opKey{}, err
			}
			// Another process created it first: read theirs.
		case errors.Is(err, errPartialKey) && time.Now().Before(deadline):
			time.Sleep(50 * time.Millisecond)
		default:
			return opKey{}, err
		}
	}
}

var errPartialKey = errors.New("no complete PEM block")

// loadKey reads a PKCS#8 (or PKCS#1) RSA private key from a PEM file.
func loadKey(path string) (opKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return opKey{}, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return opKey{}, fmt.Errorf("devidp key %s: %w", path, errPartialKey)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return opKey{}, fmt.Errorf("devidp key %s: %w", path, err)
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return opKey{}, fmt.Errorf("devidp key %s: %T, want an RSA key", path, key)
	}
	k, err := newOPKey(priv)
	if err != nil {
		return opKey{}, fmt.Errorf("devidp key %s: %w", path, err)
	}
	return k, nil
}

// createKey writes a new key to path; it returns an error wrapping
// fs.ErrExist if path already exists.
func createKey(path string) (opKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return opKey{}, err
	}
	k, err := newOPKey(priv)
	if err != nil {
		return opKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return opKey{}, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return opKey{}, err
	}
	tmp, err := os.CreateTemp(dir, ".devidp-key-*") // 0600, O_EXCL
	if err != nil {
		return opKey{}, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return opKey{}, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return opKey{}, err
	}
	if err := tmp.Close(); err != nil {
		return opKey{}, err
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return k, err
	}
	// No hard links here: create in place, exclusively.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return opKey{}, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return opKey{}, err
	}
	return k, f.Close()
}

// SPIDClientJWKS reads the public halves of an auth/spid RP's signing and
// encryption keys from its key files, with the kids the RP puts in its
// headers (the JWK file's kid, else the RFC 7638 thumbprint, as
// auth/spid computes it): what Client.JWKS needs for a SPID client.
func SPIDClientJWKS(keys spid.Keys) (*jose.JSONWebKeySet, error) {
	sig, err := publicKeyFile(keys.Signing, "sig")
	if err != nil {
		return nil, fmt.Errorf("devidp: RP signing key: %w", err)
	}
	enc, err := publicKeyFile(keys.Encryption, "enc")
	if err != nil {
		return nil, fmt.Errorf("devidp: RP encryption key: %w", err)
	}
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{sig, enc}}, nil
}

func publicKeyFile(path, use string) (jose.JSONWebKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	var jwk jose.JSONWebKey
	if block, _ := pem.Decode(data); block != nil {
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			err = fmt.Errorf("PEM block %q is not a private key", block.Type)
		}
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("%s: %w", path, err)
		}
		jwk.Key = key
	} else if err := json.Unmarshal(data, &jwk); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("%s: neither PEM nor JWK: %w", path, err)
	}
	pub := jwk.Public()
	if !pub.Valid() {
		return jose.JSONWebKey{}, fmt.Errorf("%s: not an asymmetric key", path)
	}
	pub.Use = use
	pub.Algorithm = ""
	if use == "sig" {
		switch pub.Key.(type) {
		case *rsa.PublicKey:
			pub.Algorithm = string(jose.RS256)
		case *ecdsa.PublicKey:
			pub.Algorithm = string(jose.ES256)
		}
	}
	if pub.KeyID == "" {
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("%s: %w", path, err)
		}
		pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	return pub, nil
}
