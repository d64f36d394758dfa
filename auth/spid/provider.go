package spid

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// maxResponse bounds what is read from an OP: tokens, userinfo and
// metadata are a few kilobytes.
const maxResponse = 1 << 20

// opMetadata is what the RP needs of an OP's metadata.
type opMetadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

// op is one configured OP at run time. Its metadata is resolved on first
// use, not at start-up, so one unreachable identity provider among a dozen
// does not keep the server from starting; a failed discovery is retried on
// the next login.
type op struct {
	cfg      Provider
	acr      ACR
	algs     []string
	clientID string
	client   *http.Client
	now      func() time.Time

	mu       sync.Mutex
	meta     *opMetadata
	keys     *oidc.RemoteKeySet
	verifier *oidc.IDTokenVerifier
}

func newOP(p Provider, acr ACR, clientID string, client *http.Client, now func() time.Time) *op {
	o := &op{cfg: p, acr: acr, algs: p.signingAlgs(), clientID: clientID, client: client, now: now}
	if p.AuthorizationEndpoint != "" {
		o.setMetadata(&opMetadata{
			Issuer: p.Issuer, AuthorizationEndpoint: p.AuthorizationEndpoint, TokenEndpoint: p.TokenEndpoint,
			UserinfoEndpoint: p.UserinfoEndpoint, RevocationEndpoint: p.RevocationEndpoint, JWKSURI: p.JWKSURI,
		})
	}
	return o
}

// setMetadata builds the key set and the ID token verifier. go-oidc's
// remote key set caches the OP's keys and fetches them again when a token
// names a kid it does not hold: that is how the RP follows a key rotation.
func (o *op) setMetadata(m *opMetadata) {
	// The key set keeps this context for its fetches (go-oidc's
	// convention): it must carry the HTTP client and outlive any request.
	ctx := oidc.ClientContext(context.Background(), o.client)
	o.meta = m
	o.keys = oidc.NewRemoteKeySet(ctx, m.JWKSURI)
	o.verifier = oidc.NewVerifier(m.Issuer, o.keys, &oidc.Config{
		ClientID:             o.clientID,
		SupportedSigningAlgs: o.algs,
		Now:                  o.now,
	})
}

// metadata returns the OP's endpoints, reading its discovery document the
// first time if they were not configured.
func (o *op) metadata(ctx context.Context) (*opMetadata, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.meta != nil {
		return o.meta, nil
	}
	u := strings.TrimSuffix(o.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	var m opMetadata
	if _, err := getJSON(ctx, o.client, u, &m); err != nil {
		return nil, fmt.Errorf("OP %s discovery: %w", o.cfg.Name, err)
	}
	// The issuer in the document must be the configured one, or a
	// compromised document could make the RP accept another OP's tokens.
	if m.Issuer != o.cfg.Issuer {
		return nil, fmt.Errorf("OP %s discovery: issuer %q, configured %q", o.cfg.Name, m.Issuer, o.cfg.Issuer)
	}
	for name, v := range map[string]string{"authorization_endpoint": m.AuthorizationEndpoint, "token_endpoint": m.TokenEndpoint, "userinfo_endpoint": m.UserinfoEndpoint, "jwks_uri": m.JWKSURI} {
		if err := checkURL(v); err != nil {
			return nil, fmt.Errorf("OP %s discovery: %s: %w", o.cfg.Name, name, err)
		}
	}
	if m.RevocationEndpoint != "" {
		if err := checkURL(m.RevocationEndpoint); err != nil {
			return nil, fmt.Errorf("OP %s discovery: revocation_endpoint: %w", o.cfg.Name, err)
		}
	}
	o.setMetadata(&m)
	return o.meta, nil
}

// getJSON fetches and decodes a JSON document; it returns the status.
func getJSON(ctx context.Context, client *http.Client, url string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return resp.StatusCode, fmt.Errorf("GET %s: content type %q, want application/json", url, mt)
	}
	return resp.StatusCode, json.Unmarshal(body, v)
}
