package spid

import (
	"fmt"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// EntityStatementType is the typ header and the media type of an entity
// configuration.
const EntityStatementType = "entity-statement+jwt"

// EntityConfiguration is the RP's self-signed entity statement (OpenID
// Federation, as the SPID/CIE rules profile it): its OIDC metadata with the
// public signing and encryption keys, its organisation, authority hints and
// trust marks, signed with the federation key whose public half is the
// top-level jwks. The federation's trust anchor reads it to register the
// RP; OPs read it to learn the RP's keys.
func (rp *RP) EntityConfiguration() (string, error) {
	now := rp.deps.Now()
	rpMeta := map[string]any{
		"client_id":                       rp.cfg.ClientID,
		"client_registration_types":       []string{"automatic"},
		"application_type":                "web",
		"redirect_uris":                   []string{rp.redirectURI},
		"response_types":                  []string{"code"},
		"grant_types":                     []string{"authorization_code"},
		"token_endpoint_auth_method":      "private_key_jwt",
		"jwks":                            jwks(rp.sig, rp.enc),
		"id_token_signed_response_alg":    "RS256",
		"userinfo_signed_response_alg":    "RS256",
		"userinfo_encrypted_response_alg": string(jose.RSA_OAEP),
		"userinfo_encrypted_response_enc": string(jose.A128CBC_HS256),
		"request_object_signing_alg":      rp.sig.alg,
		"token_endpoint_auth_signing_alg": rp.sig.alg,
		"subject_type":                    "pairwise",
	}
	if rp.cfg.ClientName != "" {
		rpMeta["client_name"] = rp.cfg.ClientName
	}
	f := rp.cfg.Federation
	if len(f.Contacts) > 0 {
		rpMeta["contacts"] = f.Contacts
	}
	fedMeta := map[string]any{}
	for k, v := range map[string]string{"organization_name": f.OrganizationName, "homepage_uri": f.HomepageURI, "policy_uri": f.PolicyURI, "logo_uri": f.LogoURI} {
		if v != "" {
			fedMeta[k] = v
		}
	}
	if len(f.Contacts) > 0 {
		fedMeta["contacts"] = f.Contacts
	}
	claims := map[string]any{
		"iss":  rp.cfg.ClientID,
		"sub":  rp.cfg.ClientID,
		"iat":  now.Unix(),
		"exp":  now.Add(rp.lifetime).Unix(),
		"jwks": jwks(rp.fed),
		"metadata": map[string]any{
			"openid_relying_party": rpMeta,
			"federation_entity":    fedMeta,
		},
		"authority_hints": nonNil(f.AuthorityHints),
	}
	if len(f.TrustMarks) > 0 {
		claims["trust_marks"] = f.TrustMarks
	}
	return signJWT(rp.fed, EntityStatementType, claims)
}

func jwks(keys ...rpKey) map[string]any {
	out := make([]jose.JSONWebKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.public())
	}
	return map[string]any{"keys": out}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// handleEntityConfiguration serves /.well-known/openid-federation. It is
// signed anew on each request (a few per day from the federation): the iat
// and exp stay current without a cache to expire.
func (rp *RP) handleEntityConfiguration(w http.ResponseWriter, r *http.Request) {
	jwt, err := rp.EntityConfiguration()
	if err != nil {
		http.Error(w, "entity configuration unavailable", http.StatusInternalServerError)
		rp.deps.Logger.ErrorContext(r.Context(), "spid: signing the entity configuration", "err", err)
		return
	}
	w.Header().Set("Content-Type", "application/"+EntityStatementType)
	w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", int(min(rp.lifetime, time.Hour)/time.Second)))
	_, _ = w.Write([]byte(jwt))
}
