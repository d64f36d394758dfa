package spid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"
)

// minRSABits is the SPID/CIE rules' floor for RSA keys.
const minRSABits = 2048

// rpKey is one of the RP's private keys with the algorithm it is used with.
type rpKey struct {
	jwk jose.JSONWebKey // private; KeyID set
	alg string          // signing: RS256 or ES256; encryption: empty (the OP picks RSA-OAEP or RSA-OAEP-256)
}

// public is the JWK published in the entity configuration.
func (k rpKey) public() jose.JSONWebKey {
	p := k.jwk.Public()
	p.Algorithm = k.alg
	return p
}

// signingKey is what go-jose signs with; the kid goes in the header.
func (k rpKey) signingKey() jose.SigningKey {
	return jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.jwk}
}

type keyUse string

const (
	useSig keyUse = "sig"
	useEnc keyUse = "enc"
)

// loadKey reads a private key from a PEM or JWK file. The kid is the JWK
// file's, or else the RFC 7638 thumbprint, so it stays the same across
// restarts and replicas without being configured.
func loadKey(path string, use keyUse) (rpKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return rpKey{}, err
	}
	var jwk jose.JSONWebKey
	if block, _ := pem.Decode(data); block != nil {
		key, err := parsePrivatePEM(block)
		if err != nil {
			return rpKey{}, fmt.Errorf("%s: %w", path, err)
		}
		jwk.Key = key
	} else if err := json.Unmarshal(data, &jwk); err != nil {
		return rpKey{}, fmt.Errorf("%s: neither a PEM private key nor a JWK: %w", path, err)
	}
	if jwk.IsPublic() {
		return rpKey{}, fmt.Errorf("%s: a private key is required", path)
	}
	k := rpKey{jwk: jwk}
	switch key := jwk.Key.(type) {
	case *rsa.PrivateKey:
		if key.N.BitLen() < minRSABits {
			return rpKey{}, fmt.Errorf("%s: RSA key of %d bits, at least %d required", path, key.N.BitLen(), minRSABits)
		}
		if use == useSig {
			k.alg = string(jose.RS256)
		}
	case *ecdsa.PrivateKey:
		if use == useEnc {
			return rpKey{}, fmt.Errorf("%s: the encryption key must be RSA (userinfo is encrypted with RSA-OAEP)", path)
		}
		if key.Curve != elliptic.P256() {
			return rpKey{}, fmt.Errorf("%s: EC keys must be on P-256 (ES256)", path)
		}
		k.alg = string(jose.ES256)
	default:
		return rpKey{}, fmt.Errorf("%s: unsupported key type %T (want RSA or EC P-256)", path, jwk.Key)
	}
	k.jwk.Use = string(use)
	k.jwk.Algorithm = k.alg
	if k.jwk.KeyID == "" {
		tp, err := k.jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			return rpKey{}, fmt.Errorf("%s: %w", path, err)
		}
		k.jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	return k, nil
}

func parsePrivatePEM(block *pem.Block) (any, error) {
	switch block.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
}

// Key file names written by GenerateKeyFiles.
const (
	SigningKeyFile    = "spid-signing.pem"
	EncryptionKeyFile = "spid-encryption.pem"
	FederationKeyFile = "spid-federation.pem"
)

// GenerateKeyFiles writes three new RSA private keys (signing, encryption,
// federation) as PKCS#8 PEM files into dir, readable by the owner only, and
// returns the Keys section that points at them. It refuses to overwrite: a
// replaced key breaks the RP's registration with the federation. For
// development and tests; production keys follow the administration's key
// management.
func GenerateKeyFiles(dir string, bits int) (Keys, error) {
	if bits < minRSABits {
		return Keys{}, fmt.Errorf("RSA keys of %d bits: at least %d required", bits, minRSABits)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Keys{}, err
	}
	keys := Keys{
		Signing:    filepath.Join(dir, SigningKeyFile),
		Encryption: filepath.Join(dir, EncryptionKeyFile),
		Federation: filepath.Join(dir, FederationKeyFile),
	}
	var errs []error
	for _, path := range []string{keys.Signing, keys.Encryption, keys.Federation} {
		if _, err := os.Stat(path); err == nil {
			errs = append(errs, fmt.Errorf("%s exists; remove it first if it really should be replaced", path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Keys{}, err
	}
	for _, path := range []string{keys.Signing, keys.Encryption, keys.Federation} {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return Keys{}, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return Keys{}, err
		}
		data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return Keys{}, err
		}
	}
	return keys, nil
}
