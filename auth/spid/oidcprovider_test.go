package spid

import (
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sportello/sportello/auth/testop"
)

// The integration tests run panva's oidc-provider with the SPID/CIE
// profile (auth/testop/node/spid.js) under Node.

// nodeOP is a running test OP.
type nodeOP struct {
	*testop.OP
	issuer string
}

// startNodeOP starts the test OP for an RP with this client_id, redirect
// URI and public keys, and stops it when the test ends.
func startNodeOP(t *testing.T, clientID, redirectURI string, rpJWKS jose.JSONWebKeySet) *nodeOP {
	t.Helper()
	op := testop.Start(t, "spid.js", map[string]any{"client_id": clientID, "redirect_uris": []string{redirectURI}, "jwks": rpJWKS})
	return &nodeOP{OP: op, issuer: op.Issuer}
}

func (o *nodeOP) rotate(t *testing.T)          { o.Rotate(t) }
func (o *nodeOP) jwksFetches(t *testing.T) int { return o.JWKSFetches(t) }
