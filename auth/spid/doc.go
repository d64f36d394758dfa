// Package spid is the Relying Party for citizens' login with SPID and CIE,
// over OpenID Connect as the Italian technical rules profile it (the "SPID
// OIDC" and "CIE OIDC" federations): authorization code flow with PKCE
// S256, a signed request object, private_key_jwt at the token endpoint, ID
// tokens checked for nonce, acr level and at_hash, userinfo as a JWT signed
// by the OP and encrypted to the RP, and the RP's entity configuration at
// /.well-known/openid-federation.
//
// The package ends at an Identity: it hands the verified citizen to the
// caller's OnLogin hook and never writes to the contacts store or sets a
// web session itself; those belong to the server that mounts it. Every
// exchange with an OP is reported to an audit hook with token identifiers
// and hashes, never with the tokens.
//
// OP metadata comes from configuration (explicit endpoints or the OP's
// discovery document); trust-chain resolution through the federation's
// trust anchor is not done here.
//
// Keys for development: `go run ./cmd/spid-keygen -dir ./data/spid` writes
// the signing, encryption and federation keys as PKCS#8 PEM files (see
// GenerateKeyFiles); production keys come from the administration's own
// key management and are referenced by path in the spid section of the
// configuration.
package spid
