// The peer: panva's oidc-provider (npm), configured like the kontor-idp the
// benchmark runs, so both answer the same requests.
//
//   NODE_ENV=production PEER_MODULE=.../oidc-provider/lib/index.js \
//   PEER_PORT=N PEER_SECRET=S PEER_REDIRECT=URI PEER_EMAIL=E \
//   PEER_PASSWORD=P node server.mjs
//
// One process, oidc-provider's in-memory adapter (without its 1000-entry
// cap, see below). Clients: "bench"
// (client_secret_basic; authorization_code with PKCE S256 and
// client_credentials; access tokens are ES256 JWTs for one resource server,
// as kontor's) and "bench-ui" (same, but opaque access tokens for the
// userinfo and introspection rows: oidc-provider accepts only those at
// /me, and cannot introspect JWT access tokens, which it does not store).
// RS256 ID tokens, as kontor's default. The first-party client skips
// consent (loadExistingGrant grants what was asked), like kontor's
// skip_consent. The login page is the minimal interaction every
// oidc-provider deployment has to write; the password check is a
// constant-time compare (oidc-provider ships no password storage).
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { pathToFileURL } from 'node:url';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};

const PORT = Number(env('PEER_PORT'));
const ISSUER = `http://127.0.0.1:${PORT}`;
const RESOURCE = 'urn:kontor:bench:api';
const SECRET = env('PEER_SECRET');
const REDIRECT = env('PEER_REDIRECT');
const EMAIL = env('PEER_EMAIL');
const PASSWORD_DIGEST = crypto.createHash('sha256').update(env('PEER_PASSWORD')).digest();
const ACCOUNT_ID = 'a1b2c3d4e5f6';

const { default: Provider } = await import(pathToFileURL(env('PEER_MODULE')).href);

// oidc-provider's in-memory adapter keeps at most 1000 entries (an LRU), so
// pre-generated codes and long runs would be evicted. Give it the same
// store without the cap: entries expire with their TTL, like kontor's Redis
// keys.
const { setStorage } = await import(
  pathToFileURL(new URL('adapters/memory_adapter.js', pathToFileURL(env('PEER_MODULE'))).pathname).href);
class ExpiringMap {
  constructor() {
    this.m = new Map();
    setInterval(() => {
      const now = Date.now();
      for (const [k, e] of this.m) if (e.exp && e.exp < now) this.m.delete(k);
    }, 10000).unref();
  }

  get(k) {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.exp && e.exp < Date.now()) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }

  set(k, v, maxAgeMs) {
    this.m.set(k, { v, exp: maxAgeMs ? Date.now() + maxAgeMs : 0 });
  }

  delete(k) {
    this.m.delete(k);
  }
}
setStorage(new ExpiringMap());

function jwk(type, opts, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, opts);
  const k = privateKey.export({ format: 'jwk' });
  return { ...k, alg, use: 'sig', kid: `${alg.toLowerCase()}-1` };
}

const client = (id, grants) => ({
  client_id: id,
  client_secret: SECRET,
  redirect_uris: [REDIRECT],
  grant_types: grants,
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(ISSUER, {
  clients: [
    client('bench', ['authorization_code', 'client_credentials']),
    client('bench-ui', ['authorization_code']),
  ],
  jwks: {
    keys: [
      jwk('rsa', { modulusLength: 2048 }, 'RS256'),
      jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 600,
    ClientCredentials: 3600,
    IdToken: 300,
    Interaction: 900,
    Session: 43200,
    Grant: 43200,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, cl, oneOf) => oneOf
        || (cl?.clientId === 'bench' ? RESOURCE : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: RESOURCE,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (id !== ACCOUNT_ID) return undefined;
    return {
      accountId: id,
      claims: async () => ({
        sub: id, email: EMAIL, email_verified: true, name: 'Bench Person',
      }),
    };
  },
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId
      || oidc.session.grantIdFor(oidc.client.clientId);
    if (grantId) {
      const found = await oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    // first-party client: grant what it may ask for, no consent page
    const grant = new oidc.provider.Grant({
      clientId: oidc.client.clientId, accountId: oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    if (oidc.client.clientId === 'bench') grant.addResourceScope(RESOURCE, 'api');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

const page = (uid, msg) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in</title></head><body><main><h1>Sign in</h1>${msg ? `<p>${msg}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="email">Email</label><input id="email" type="email" name="email" autocomplete="username">
<label for="password">Password</label><input id="password" type="password" name="password" autocomplete="current-password">
<button type="submit">Sign in</button></form></main></body></html>`;

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      body += c;
      if (body.length > 65536) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(req.url);
  if (!m) {
    callback(req, res);
    return;
  }
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET' && !m[2]) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page(details.uid));
      return;
    }
    if (req.method === 'POST' && m[2]) {
      const p = new URLSearchParams(await readBody(req));
      const digest = crypto.createHash('sha256').update(p.get('password') || '').digest();
      if (p.get('email') !== EMAIL || !crypto.timingSafeEqual(digest, PASSWORD_DIGEST)) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(page(details.uid, 'Wrong email or password.'));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT_ID } },
        { mergeWithLastSubmission: false });
      return;
    }
    res.writeHead(405);
    res.end();
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(String(e));
  }
});
server.keepAliveTimeout = 60000;
server.listen(PORT, '127.0.0.1', () => {
  process.stdout.write(`peer listening on ${ISSUER}\n`);
});
