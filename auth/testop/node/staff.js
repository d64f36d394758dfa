// A plain enterprise OpenID Provider for staff single sign-on tests, built
// on panva's oidc-provider: what an administration's Keycloak, Entra ID or
// ADFS offers Sportello. The Go test starts it as `node staff.js
// <config.json>`; it listens on a random port of 127.0.0.1 and prints one
// JSON line {"issuer": ...} when ready. It is never deployed.
//
// config.json: {
//   "console": {"client_id", "client_secret", "redirect_uris": [...]},
//   "service": {"client_id", "client_secret", "scope"},  // client credentials
//   "resource": "the API's audience"
// }
//
// Profile:
//   - the console client: authorization code flow, PKCE S256,
//     client_secret_basic; claims profile, email and groups come from
//     userinfo (the ID token carries only sub, as by default in
//     oidc-provider and in many OPs that keep ID tokens small);
//   - the service client: client credentials, JWT access tokens for the
//     resource with the granted scopes and a groups claim
//     ["sportello:service"];
//   - the accounts below; the login page lists them.
//
// Test-only endpoints: POST /test/down makes every other endpoint answer
// 503 until POST /test/up (an identity provider outage); POST /test/rotate
// switches to a new signing key; GET /test/stats counts JWKS fetches.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const conf = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const ACCOUNTS = {
  'anna.bianchi': {
    name: 'Anna Bianchi',
    preferred_username: 'anna.bianchi@comune.example',
    email: 'anna.bianchi@comune.example',
    groups: ['Tutti i dipendenti', 'sportello:operator', 'sportello:dept:statistics'],
  },
  'carlo.verdi': {
    name: 'Carlo Verdi',
    preferred_username: 'carlo.verdi@comune.example',
    email: 'carlo.verdi@comune.example',
    groups: ['sportello:operator', 'sportello:supervisor', 'sportello:dept:it', 'sportello:dept:communication'],
  },
  // Signs in to the OP but has no Sportello group.
  'ugo.neri': {
    name: 'Ugo Neri',
    preferred_username: 'ugo.neri@comune.example',
    email: 'ugo.neri@comune.example',
    groups: ['Tutti i dipendenti'],
  },
};

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `staff-${randomBytes(6).toString('hex')}`, use: 'sig', alg: 'RS256' };
}

const cookieKey = randomBytes(32).toString('hex');

function configuration() {
  return {
    clients: [{
      client_id: conf.console.client_id,
      client_secret: conf.console.client_secret,
      redirect_uris: conf.console.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }, {
      client_id: conf.service.client_id,
      client_secret: conf.service.client_secret,
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: conf.service.scope,
    }],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [cookieKey] },
    scopes: ['openid', 'profile', 'email', 'groups', ...conf.service.scope.split(' ')],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
      groups: ['groups'],
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Only the service client's tokens are for the API; the console's
        // stay opaque tokens for userinfo.
        defaultResource: (ctx, client) => (client.clientId === conf.service.client_id ? conf.resource : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== conf.resource) throw new errors.InvalidTarget();
          return {
            scope: conf.service.scope,
            audience: conf.resource,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: async (ctx, token) => (token.kind === 'ClientCredentials' ? { groups: ['sportello:service'] } : undefined),
    issueRefreshToken: () => false,
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (ctx, id) => {
      if (!ACCOUNTS[id]) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...ACCOUNTS[id] }) };
    },
  };
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

// interaction is the login page: one button per account; it signs the
// chosen one in and consents to the requested scopes in one step.
async function interaction(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return html(res, 400, 'wrong interaction');
  if (req.method === 'GET') {
    const buttons = Object.keys(ACCOUNTS)
      .map((id) => `<button type="submit" name="account" value="${id}">${id}</button>`).join('\n');
    return html(res, 200, `<form method="post" action="/interaction/${uid}">${buttons}</form>`);
  }
  const accountId = (await readForm(req)).get('account');
  if (!ACCOUNTS[accountId]) return html(res, 400, 'unknown account');
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, {
    login: { accountId },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const providers = [new Provider(issuer, configuration())];
  let current = 0;
  let down = false;
  let jwksFetches = 0;
  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (req.method === 'POST' && ['/test/down', '/test/up', '/test/rotate'].includes(url.pathname)) {
        if (url.pathname === '/test/rotate') {
          providers.push(new Provider(issuer, configuration()));
          current += 1;
        } else {
          down = url.pathname === '/test/down';
        }
        res.writeHead(204).end();
        return;
      }
      if (url.pathname === '/test/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jwks_fetches: jwksFetches }));
        return;
      }
      if (down) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('down for maintenance');
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
