// Package devidp is the development OpenID Provider built into Sportello's
// embedded default (`make run`): real OIDC discovery, JWKS, authorization
// code flow with PKCE, and a page where a newcomer picks a test identity
// instead of typing a password. It must never run in production: New
// refuses an issuer that is not on loopback, and CheckEmbedded tells the
// server to keep it off when a PostgreSQL database or a non-loopback
// issuer is configured.
//
// It serves two kinds of client (Client.Profile):
//
//   - ProfileSPID: the citizens' Relying Party in auth/spid, with the
//     SPID/CIE OIDC profile enforced as a strict OP would: a signed request
//     object only (verified with the RP's keys in Client.JWKS), PKCE S256,
//     private_key_jwt at the token and revocation endpoints (single-use
//     jti), ID tokens with nonce, acr and at_hash, pairwise subjects, and
//     userinfo as a JWT signed by the OP and encrypted to the RP
//     (RSA-OAEP-256, A256CBC-HS512). Only citizens are offered.
//   - ProfileStaff: a plain OIDC client for staff single sign-on:
//     client_secret_basic, client_secret_post, or none for a public client;
//     PKCE S256 is required for every client. The ID token carries the
//     identity's groups under Config.GroupsClaim; userinfo is plain JSON.
//     Only staff identities are offered.
//
// Endpoints, relative to the issuer's path (Handler expects full request
// paths: mount it at Path()+"/" without stripping the prefix):
//
//	GET  /.well-known/openid-configuration
//	GET  /jwks
//	GET  /authorize   the identity picker (html/template, Italian)
//	POST /authorize   the pick; carries a form token bound to the request and to a browser cookie
//	POST /token       authorization_code grant only
//	GET  /userinfo    also POST
//	POST /revoke      RFC 7009
//
// Access tokens are JWTs (RS256, typ at+jwt, RFC 9068) with iss, sub, aud
// (Config.Audience), exp, iat, jti, client_id, scope and the identity's
// claims: for staff GroupsClaim, preferred_username (the identity's ID),
// name and email; for citizens spid.FiscalNumberClaim ("TINIT-" + fiscal
// code). The server verifies them with a go-oidc verifier on this issuer
// with ClientID set to the audience. MintAccessToken (for `sportello
// dev-token`) signs the same tokens from another process with the same key
// file. Revocation lives in the provider's memory: a restart forgets it.
//
// Codes, pending authorization requests, used client-assertion jtis and
// revocations are kept in memory only: one process, development only.
//
// Wiring, as the server does it in the embedded default:
//
//	if err := devidp.CheckEmbedded(dsn, configuredIssuers...); err != nil { /* keep the dev OP off */ }
//	rpJWKS, err := devidp.SPIDClientJWKS(spidCfg.Keys) // the RP's key files
//	op, err := devidp.New(devidp.Config{
//		Issuer:     "http://127.0.0.1:8080/dev-idp",
//		KeyFile:    filepath.Join(dataDir, "devidp", "op-signing.pem"),
//		Identities: devidp.DefaultIdentities(departmentCodes),
//		Clients: []devidp.Client{
//			{ID: spidCfg.ClientID, Profile: devidp.ProfileSPID, RedirectURIs: []string{spidRedirect}, JWKS: rpJWKS},
//			{ID: "sportello-web", Profile: devidp.ProfileStaff, RedirectURIs: []string{staffRedirect}, Secret: secret},
//		},
//	})
//	spidCfg.Providers = append(spidCfg.Providers, op.SPIDProvider("dev"))
//	mux.Handle(op.Path()+"/", op.Handler())
//
// and `sportello dev-token --as admin` builds the same Config and calls
// MintAccessToken(cfg, "admin", ttl).
package devidp
