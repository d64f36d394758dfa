package spid

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	pkcs8 := func(k any) string { der, _ := x509.MarshalPKCS8PrivateKey(k); return pemOf("PRIVATE KEY", der) }
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	jwkJSON, _ := json.Marshal(jose.JSONWebKey{Key: rsaKey, KeyID: "my-kid"})
	pubJWK, _ := json.Marshal(jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "pub"})

	for _, tc := range []struct {
		name, content string
		use           keyUse
		alg, kid      string // kid "" means the thumbprint
		err           string
	}{
		{"PKCS#8 RSA", pkcs8(rsaKey), useSig, "RS256", "", ""},
		{"PKCS#1 RSA", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), useEnc, "", "", ""},
		{"SEC 1 EC", pemOf("EC PRIVATE KEY", ecDER), useSig, "ES256", "", ""},
		{"JWK with its kid", string(jwkJSON), useSig, "RS256", "my-kid", ""},
		{"RSA under 2048 bits", pkcs8(small), useSig, "", "", "at least 2048"},
		{"EC for encryption", pkcs8(ecKey), useEnc, "", "", "must be RSA"},
		{"EC P-384", pkcs8(p384), useSig, "", "", "P-256"},
		{"public key PEM", pemOf("PUBLIC KEY", pubDER), useSig, "", "", "not a private key"},
		{"public JWK", string(pubJWK), useSig, "", "", "private key is required"},
		{"garbage", "hello", useSig, "", "", "neither a PEM private key nor a JWK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := loadKey(writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_"), tc.content), tc.use)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.alg != tc.alg || k.jwk.Use != string(tc.use) {
				t.Errorf("alg %q use %q", k.alg, k.jwk.Use)
			}
			if pub := k.public(); !pub.IsPublic() {
				t.Error("public() holds the private key")
			}
			if tc.kid != "" && k.jwk.KeyID != tc.kid || tc.kid == "" && len(k.jwk.KeyID) != 43 {
				t.Errorf("kid %q", k.jwk.KeyID)
			}
		})
	}
	// The thumbprint kid does not depend on the file format.
	a, _ := loadKey(writeFile(t, dir, "a", pkcs8(rsaKey)), useSig)
	b, _ := loadKey(writeFile(t, dir, "b", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))), useSig)
	if a.jwk.KeyID != b.jwk.KeyID {
		t.Errorf("kids differ: %s %s", a.jwk.KeyID, b.jwk.KeyID)
	}
}

func TestGenerateKeyFiles(t *testing.T) {
	if _, err := GenerateKeyFiles(t.TempDir(), 1024); err == nil {
		t.Error("1024-bit keys generated")
	}
	keys := rpKeys(t) // GenerateKeyFiles, shared by the package's tests
	for _, p := range []string{keys.Signing, keys.Encryption, keys.Federation} {
		if _, err := loadKey(p, useSig); err != nil {
			t.Error(err)
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, SigningKeyFile, "precious")
	if _, err := GenerateKeyFiles(dir, 2048); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("overwrote an existing key: %v", err)
	}
}
