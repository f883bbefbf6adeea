// An OpenID Connect provider for preauth's interop tests (tests/oidc_interop.rs): panva's
// oidc-provider (OpenID Certified, independently written), configured strictly, on
// 127.0.0.1 only.
//
//   node provider.mjs PORT [REFRESHED_ACCESS_TOKEN_TTL]
//
// prints the issuer (`http://127.0.0.1:PORT`) on one line once it listens, and exits when
// its standard input closes, so a test that dies leaves no provider behind.
//
// What is strict here:
// - `offline_access`, and so a refresh token, only with `prompt=consent` (oidc-provider
//   drops the scope from any other authorization request; `issueRefreshToken` below is
//   its default policy, written out);
// - refresh tokens rotate on every use and are single use: a spent one sent again is
//   refused with invalid_grant and revokes the whole grant (replay detection);
// - PKCE (S256) required from every client;
// - each client authenticates only by the method it registered: oidc-provider itself
//   takes `client_secret_basic` and `client_secret_post` interchangeably, so the server
//   below refuses the other one before oidc-provider sees the request;
// - access tokens from a login live 30 s (inside preauth's 60 s refresh window, so the
//   first `preauth token` refreshes); those from a refresh live an hour, or as many
//   seconds as the second argument says.
//
// Test hooks: GET /test/counters answers JSON with the successful grants per grant type,
// the refused grants (error and oidc-provider's own detail) and the client
// authentications refused for the wrong method.

import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
/** Access tokens from a refresh live this long (seconds); from a login 30 s. */
const REFRESHED_ACCESS_TOKEN_TTL = Number(process.argv[3] ?? 3600);
const LOGIN_ACCESS_TOKEN_TTL = 30;
if (!Number.isInteger(port) || port <= 0 || port > 65535
    || !Number.isInteger(REFRESHED_ACCESS_TOKEN_TTL) || REFRESHED_ACCESS_TOKEN_TTL <= 0) {
  console.error('usage: node provider.mjs PORT [REFRESHED_ACCESS_TOKEN_TTL]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

/** Redirect URIs of both clients: loopback on any port (RFC 8252 7.3, native clients)
 * and a web one that nothing ever contacts (the paste route). */
const REDIRECT_URIS = ['http://127.0.0.1/callback', 'https://app.example.invalid/callback'];

/** The static clients. Their secrets hold characters that HTTP Basic must form-encode
 * (RFC 6749 2.3.1). tests/oidc_interop.rs uses the same values. */
const CLIENTS = [
  ['interop-basic', 'basic secret/with+special%chars&=', 'client_secret_basic'],
  ['interop-post', 'post secret/with+special%chars&=', 'client_secret_post'],
].map(([id, secret, method]) => ({
  client_id: id,
  client_secret: secret,
  token_endpoint_auth_method: method,
  application_type: 'native',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: REDIRECT_URIS,
}));

const counters = {
  grants: { authorization_code: 0, refresh_token: 0 },
  refused_grants: [],
  wrong_client_auth_method: 0,
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: CLIENTS,
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['preauth-interop-cookie-key'] },
  scopes: ['openid', 'offline_access'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  async issueRefreshToken(_ctx, client, code) {
    return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken(ctx) {
      return ctx?.oidc?.params?.grant_type === 'refresh_token'
        ? REFRESHED_ACCESS_TOKEN_TTL
        : LOGIN_ACCESS_TOKEN_TTL;
    },
    AuthorizationCode: 60,
    IdToken: 3600,
    Grant: 14 * 24 * 3600,
    Interaction: 600,
    RefreshToken: 14 * 24 * 3600,
    Session: 3600,
  },
});

provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params.grant_type;
  counters.grants[type] = (counters.grants[type] ?? 0) + 1;
});
provider.on('grant.error', (ctx, err) => {
  counters.refused_grants.push({
    grant_type: ctx.oidc.params?.grant_type,
    error: err.error,
    error_description: err.error_description,
    detail: err.error_detail,
  });
});

/** The endpoints where clients authenticate. */
const CLIENT_AUTH_ROUTES = new Set(['/token', '/token/introspection', '/token/revocation']);

/** The client id and method a token-endpoint request authenticates with, if any. */
function clientAuthentication(req, form) {
  const [scheme, value] = (req.headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    try {
      const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, '%20'));
      return { id, method: 'client_secret_basic' };
    } catch {
      return undefined; // oidc-provider explains a malformed header itself
    }
  }
  if (form.has('client_secret')) {
    return { id: form.get('client_id'), method: 'client_secret_post' };
  }
  return undefined;
}

/** Answers JSON with a Content-Length (the tests' HTTP client reads no chunked bodies). */
function sendJson(res, status, value, headers = {}) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  });
  res.end(body);
}

const handle = provider.callback();

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  if (req.method === 'GET' && path === '/test/counters') {
    sendJson(res, 200, counters);
    return;
  }
  if (req.method === 'POST' && CLIENT_AUTH_ROUTES.has(path)) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    // oidc-provider reads a body that was read before it from req.body.
    req.body = body;
    const used = clientAuthentication(req, new URLSearchParams(body));
    const client = CLIENTS.find((c) => c.client_id === used?.id);
    if (client && client.token_endpoint_auth_method !== used.method) {
      counters.wrong_client_auth_method += 1;
      const headers = { 'cache-control': 'no-store' };
      if (used.method === 'client_secret_basic') {
        headers['www-authenticate'] = `Basic realm="${issuer}"`;
      }
      sendJson(res, 401, {
        error: 'invalid_client',
        error_description: `client authentication failed: client '${client.client_id}' is registered for ${client.token_endpoint_auth_method}, not ${used.method}`,
      }, headers);
      return;
    }
  }
  handle(req, res);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${issuer}\n`);
});

// The test holds our standard input open; when it closes (the test ended or died), stop.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
