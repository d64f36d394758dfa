package spid

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestEntityConfiguration fetches /.well-known/openid-federation and checks
// it as a trust anchor would: self-signed with the key in its own jwks,
// typ entity-statement+jwt, iss = sub = client_id, and the RP metadata.
func TestEntityConfiguration(t *testing.T) {
	s := newRPServer(t)
	rec := &recorder{}
	rp := s.start(t, testConfig(t, s.srv.URL, Provider{Name: "x", Issuer: "https://op.example.it"}), rec.deps())

	resp, body := get(t, http.DefaultClient, s.srv.URL+"/.well-known/openid-federation")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/entity-statement+jwt" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	jws, err := jose.ParseSignedCompact(body, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	if h.ExtraHeaders["typ"] != EntityStatementType || h.KeyID != rp.fed.jwk.KeyID {
		t.Errorf("header typ %v kid %q", h.ExtraHeaders["typ"], h.KeyID)
	}
	var ec struct {
		Iss, Sub       string
		Iat, Exp       int64
		JWKS           jose.JSONWebKeySet `json:"jwks"`
		AuthorityHints []string           `json:"authority_hints"`
		TrustMarks     []TrustMark        `json:"trust_marks"`
		Metadata       struct {
			RP struct {
				ClientID                     string             `json:"client_id"`
				RedirectURIs                 []string           `json:"redirect_uris"`
				ResponseTypes                []string           `json:"response_types"`
				GrantTypes                   []string           `json:"grant_types"`
				TokenEndpointAuthMethod      string             `json:"token_endpoint_auth_method"`
				ClientRegistrationTypes      []string           `json:"client_registration_types"`
				JWKS                         jose.JSONWebKeySet `json:"jwks"`
				UserinfoEncryptedResponseAlg string             `json:"userinfo_encrypted_response_alg"`
				UserinfoEncryptedResponseEnc string             `json:"userinfo_encrypted_response_enc"`
				IDTokenSignedResponseAlg     string             `json:"id_token_signed_response_alg"`
			} `json:"openid_relying_party"`
			Fed map[string]any `json:"federation_entity"`
		} `json:"metadata"`
	}
	// Verify with the key the statement itself publishes: that is what
	// "self-signed" means, and what the trust anchor checks against the
	// keys it registered.
	if len(jws.UnsafePayloadWithoutVerification()) == 0 {
		t.Fatal("empty payload")
	}
	_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &ec)
	if len(ec.JWKS.Keys) != 1 {
		t.Fatalf("jwks %+v", ec.JWKS)
	}
	payload, err := jws.Verify(ec.JWKS.Keys[0])
	if err != nil {
		t.Fatalf("not signed by its own federation key: %v", err)
	}
	_ = json.Unmarshal(payload, &ec)
	now := time.Now().Unix()
	if ec.Iss != s.srv.URL || ec.Sub != s.srv.URL || ec.Iat > now+1 || ec.Exp-ec.Iat != 24*3600 {
		t.Errorf("iss %q sub %q iat %d exp %d", ec.Iss, ec.Sub, ec.Iat, ec.Exp)
	}
	m := ec.Metadata.RP
	if m.ClientID != s.srv.URL || !slices.Equal(m.RedirectURIs, []string{s.srv.URL + "/spid/callback"}) ||
		!slices.Equal(m.ResponseTypes, []string{"code"}) || !slices.Equal(m.GrantTypes, []string{"authorization_code"}) ||
		m.TokenEndpointAuthMethod != "private_key_jwt" || !slices.Equal(m.ClientRegistrationTypes, []string{"automatic"}) ||
		m.UserinfoEncryptedResponseAlg != "RSA-OAEP" || m.UserinfoEncryptedResponseEnc != "A128CBC-HS256" || m.IDTokenSignedResponseAlg != "RS256" {
		t.Errorf("openid_relying_party %+v", m)
	}
	var uses []string
	for _, k := range m.JWKS.Keys {
		if !k.IsPublic() {
			t.Errorf("private key %s published", k.KeyID)
		}
		uses = append(uses, k.Use+":"+k.KeyID)
	}
	if !slices.Equal(uses, []string{"sig:" + rp.sig.jwk.KeyID, "enc:" + rp.enc.jwk.KeyID}) {
		t.Errorf("RP jwks %v", uses)
	}
	if pub := ec.JWKS.Keys[0]; !pub.IsPublic() || pub.KeyID == rp.sig.jwk.KeyID {
		t.Errorf("federation key %s must be public and distinct from the OIDC keys", pub.KeyID)
	}
	if ec.Metadata.Fed["organization_name"] != "Comune di Prova" || !slices.Equal(ec.AuthorityHints, []string{"https://registry.spid.example.it"}) ||
		len(ec.TrustMarks) != 1 || ec.TrustMarks[0].TrustMark != "eyJhbGciOiJSUzI1NiJ9.e30.c2ln" {
		t.Errorf("federation_entity %v hints %v marks %v", ec.Metadata.Fed, ec.AuthorityHints, ec.TrustMarks)
	}
}
