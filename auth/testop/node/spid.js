// A SPID/CIE-profile OpenID Provider for the SPID/CIE relying party tests,
// built on panva's oidc-provider (an independent, certified implementation).
// The Go test (auth/testop) starts it as `node spid.js <config.json>`; it listens on a
// random port of 127.0.0.1 and prints one JSON line {"issuer": ...} when
// ready. It is never deployed.
//
// config.json: {"client_id", "redirect_uris": [...], "jwks": {"keys": [the
// RP's public signing and encryption keys]}}.
//
// Profile (as the SPID/CIE OIDC rules ask of an OP):
//   - private_key_jwt is the only client authentication;
//   - signed request objects are required, PKCE S256 too;
//   - acr values SpidL1..L3; the login page lets the test pick the level;
//   - userinfo is a JWT signed by the OP, then encrypted to the RP's key
//     (RSA-OAEP, A128CBC-HS256);
//   - the fiscal_number attribute, pairwise subjects, token revocation.
//
// Test-only endpoints: POST /test/rotate switches to a new signing key (the
// old one disappears from the JWKS), to check that the RP refreshes the OP's
// keys; GET /test/stats counts JWKS fetches.
import { createServer } from 'node:http';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const conf = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const FISCAL = 'https://attributes.eid.gov.it/fiscal_number';
const ACR = [1, 2, 3].map((n) => `https://www.spid.gov.it/SpidL${n}`);

// The one test citizen.
const ACCOUNT = {
  accountId: 'citizen-1',
  claims: {
    given_name: 'Mario',
    family_name: 'Rossi',
    email: 'mario.rossi@example.org',
    phone_number: '+393331234567',
    [FISCAL]: 'TINIT-RSSMRA80A01H501U',
  },
};

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `op-${randomBytes(6).toString('hex')}`, use: 'sig', alg: 'RS256' };
}

const pairwiseSalt = randomBytes(16).toString('hex');
const cookieKey = randomBytes(32).toString('hex');

function configuration() {
  return {
    clients: [{
      client_id: conf.client_id,
      redirect_uris: conf.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      jwks: conf.jwks,
      require_signed_request_object: true,
      request_object_signing_alg: 'RS256',
      id_token_signed_response_alg: 'RS256',
      userinfo_signed_response_alg: 'RS256',
      userinfo_encrypted_response_alg: 'RSA-OAEP',
      userinfo_encrypted_response_enc: 'A128CBC-HS256',
      subject_type: 'pairwise',
    }],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [cookieKey] },
    acrValues: ACR,
    claims: {
      openid: ['sub'],
      acr: null,
      auth_time: null,
      given_name: null,
      family_name: null,
      email: null,
      phone_number: null,
      [FISCAL]: null,
    },
    clientAuthMethods: ['private_key_jwt'],
    pkce: { required: () => true },
    subjectTypes: ['pairwise'],
    pairwiseIdentifier: async (ctx, accountId, client) => createHash('sha256')
      .update(`${client.sectorIdentifier}|${accountId}|${pairwiseSalt}`).digest('hex'),
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      requestObjects: { enabled: true, requireSignedRequestObject: true },
      encryption: { enabled: true },
      jwtUserinfo: { enabled: true },
      revocation: { enabled: true },
    },
    issueRefreshToken: () => false,
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (ctx, id) => {
      if (id !== ACCOUNT.accountId) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...ACCOUNT.claims }) };
    },
  };
}

// oidc-provider puts at_hash only in ID tokens issued by the authorization
// endpoint (hybrid flows); the SPID rules require it in the token
// endpoint's ID token as well. Opaque access tokens' value is their jti, and
// IdToken.issue hashes at_hash itself, so this only supplies the value.
function withAtHash(provider) {
  const { issue } = provider.IdToken.prototype;
  provider.IdToken.prototype.issue = async function issueWithAtHash(opts) {
    const at = this.ctx?.oidc?.entities?.AccessToken;
    if (opts?.use === 'idtoken' && at?.jti) this.set('at_hash', at.jti);
    return issue.call(this, opts);
  };
  return provider;
}

function html(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><body>${body}</body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// interaction is the IdP's login page: a form (as a browser would see it)
// whose only choice is the authentication level; it logs in the test
// citizen and consents to the requested scope and claims in one step.
async function interaction(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return html(res, 400, 'wrong interaction');
  if (req.method === 'GET') {
    const requested = (details.params.acr_values || ACR[1]).split(' ')[0];
    return html(res, 200, `<form method="post" action="/interaction/${uid}">
      <input type="hidden" name="acr" value="${requested}">
      <button type="submit">Entra con SPID</button></form>`);
  }
  const form = await readForm(req);
  const acr = form.get('acr');
  if (!ACR.includes(acr)) return html(res, 400, 'unknown acr');
  const { accountId } = ACCOUNT;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const claims = details.params.claims ? JSON.parse(details.params.claims) : {};
  grant.addOIDCClaims([...Object.keys(claims.userinfo || {}), ...Object.keys(claims.id_token || {})]);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, {
    login: { accountId, acr, amr: ['pwd'] },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  // One provider per key generation, same issuer and clients; /test/rotate
  // moves to the next. Their in-memory stores are shared (module-level).
  const providers = [withAtHash(new Provider(issuer, configuration()))];
  let current = 0;
  let jwksFetches = 0;
  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (url.pathname === '/test/rotate' && req.method === 'POST') {
        providers.push(withAtHash(new Provider(issuer, configuration())));
        current += 1;
        res.writeHead(204).end();
        return;
      }
      if (url.pathname === '/test/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jwks_fetches: jwksFetches }));
        return;
      }
      const provider = providers[current];
      const m = url.pathname.match(/^\/interaction\/([\w-]+)$/);
      if (m) {
        await interaction(provider, req, res, m[1]);
        return;
      }
      if (url.pathname === '/jwks') jwksFetches += 1;
      provider.callback()(req, res);
    } catch (err) {
      console.error(err);
      if (!res.headersSent) html(res, 500, 'error');
    }
  });
  console.log(JSON.stringify({ issuer }));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
