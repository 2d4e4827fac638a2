// A real OpenID Connect provider (npm oidc-provider) on loopback, for the test suite and the
// example dashboard. Never a production identity provider: anyone signs in with any email.
//
//   node tests/node/oidc_provider.mjs [config.json]      (or OIDC_PROVIDER_CONFIG=config.json)
//
// Configuration (JSON keys; each also read from the environment variable in brackets):
//   port (OIDC_PORT)                         default 0: any free port; the issuer is
//                                            http://127.0.0.1:<port>
//   jwks_file (OIDC_JWKS_FILE)               a private JWKS; the first key signs, the others
//                                            are only published. Default: a fresh RS256 key
//   alg (OIDC_ALG)                           access and ID token algorithm, default RS256
//   audience (OIDC_AUDIENCE)                 access token `aud`, default "mailkeys"
//   access_token_ttl (OIDC_ACCESS_TOKEN_TTL) seconds, default 900
//   dashboard_redirect_uri (OIDC_DASHBOARD_REDIRECT_URI)
//                                            the public client's redirect URI (PKCE S256)
//   clients                                  client metadata replacing the two defaults below
//
// Accounts: the login name is the person's email; `sub` is a stable id derived from it (the
// first 32 hex digits of its SHA-256), and `email_verified` is true except for emails whose
// local part starts with "unverified+" (e.g. unverified+bob@example.com).
//
// Once listening it prints one line, `oidc-provider ready {"issuer": ..., "kids": [...]}`, and
// it exits with 0 on SIGTERM or SIGINT.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { exportJWK, generateKeyPair } from 'jose';
import { Provider, errors } from 'oidc-provider';

const DASHBOARD_CLIENT_ID = 'mailkeys-dashboard';
const TEST_CLIENT_ID = 'mailkeys-tests';
const TEST_CLIENT_SECRET = 'mailkeys-tests-secret-not-for-production';
// RFC 8707 wants an absolute URI as the resource indicator; the token's `aud` is `audience`.
const RESOURCE = 'urn:mailkeys';
const SCOPE = 'openid email';

function loadConfig() {
  const path = process.argv[2] ?? process.env.OIDC_PROVIDER_CONFIG;
  const file = path ? JSON.parse(readFileSync(path, 'utf8')) : {};
  const env = process.env;
  const fromEnv = Object.fromEntries(
    [
      ['port', env.OIDC_PORT && Number(env.OIDC_PORT)],
      ['jwks_file', env.OIDC_JWKS_FILE],
      ['alg', env.OIDC_ALG],
      ['audience', env.OIDC_AUDIENCE],
      ['access_token_ttl', env.OIDC_ACCESS_TOKEN_TTL && Number(env.OIDC_ACCESS_TOKEN_TTL)],
      ['dashboard_redirect_uri', env.OIDC_DASHBOARD_REDIRECT_URI],
    ].filter(([, value]) => value !== undefined && value !== ''),
  );
  return {
    port: 0,
    alg: 'RS256',
    audience: 'mailkeys',
    access_token_ttl: 15 * 60,
    dashboard_redirect_uri: 'http://127.0.0.1:8765/',
    ...file,
    ...fromEnv,
  };
}

async function signingKeys(config) {
  if (config.jwks_file) {
    return JSON.parse(readFileSync(config.jwks_file, 'utf8'));
  }
  const { privateKey } = await generateKeyPair(config.alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, kid: randomBytes(8).toString('hex'), alg: config.alg, use: 'sig' }] };
}

function defaultClients(config) {
  return [
    {
      // the example dashboard: a browser app, so a public client with PKCE
      client_id: DASHBOARD_CLIENT_ID,
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      redirect_uris: [config.dashboard_redirect_uri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    {
      // the test suite's own client (tests/oidc.py), which also gets client-credentials tokens
      client_id: TEST_CLIENT_ID,
      client_secret: TEST_CLIENT_SECRET,
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code'],
    },
  ];
}

// --- accounts ------------------------------------------------------------------------------

const emails = new Map(); // sub -> email, filled when someone signs in

function subjectOf(email) {
  return createHash('sha256').update(email).digest('hex').slice(0, 32);
}

function signIn(login) {
  const email = login.trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) return undefined;
  const sub = subjectOf(email);
  emails.set(sub, email);
  return sub;
}

function personClaims(sub) {
  const email = emails.get(sub);
  if (email === undefined) return undefined;
  return { sub, email, email_verified: !email.startsWith('unverified+') };
}

// --- interaction pages (sign-in and consent) -----------------------------------------------

const escape = (value) =>
  String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escape(title)} – local test provider</title>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; }
    label, input, button { display: block; font-size: 1rem; margin-top: .5rem; }
    input { width: 100%; padding: .4rem; box-sizing: border-box; }
    button { padding: .5rem 1rem; margin-top: 1rem; }
    .note { color: #555; font-size: .9rem; }
    [role=alert] { color: #a00; }
  </style>
</head>
<body>
  <main>
    <h1>${escape(title)}</h1>
    ${body}
  </main>
</body>
</html>`;
}

function loginPage(uid, clientId, error) {
  return page(
    'Sign in',
    `<p class="note">Local test provider: any email signs in, no password. An email starting
    with <code>unverified+</code> signs in with an unverified address.</p>
    ${error ? `<p role="alert">${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${escape(uid)}">
      <input type="hidden" name="prompt" value="login">
      <label for="login">Email</label>
      <input id="login" name="login" type="email" autocomplete="username" required autofocus>
      <button type="submit">Sign in to ${escape(clientId)}</button>
    </form>`,
  );
}

function consentPage(uid, clientId, details) {
  const scopes = [...(details.missingOIDCScope ?? []), ...Object.values(details.missingResourceScopes ?? {}).flat()];
  const items = [...new Set(scopes)].map((s) => `<li>${escape(s)}</li>`).join('');
  return page(
    'Authorize',
    `<p><strong>${escape(clientId)}</strong> asks to act for you with:</p>
    <ul>${items || '<li>the access you granted before</li>'}</ul>
    <form method="post" action="/interaction/${escape(uid)}">
      <input type="hidden" name="prompt" value="consent">
      <button type="submit">Continue</button>
    </form>`,
  );
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new errors.InvalidRequest('form too large');
  }
  return new URLSearchParams(body);
}

async function grantConsent(provider, { grantId, session, params, prompt }) {
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { details } = prompt;
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

// Our own small version of oidc-provider's devInteractions: those take the login name as the
// account id (so `sub` would be the email) and load a web font from the internet.
function interactions(provider) {
  return async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
    if (!match) return next();
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== match[1]) ctx.throw(400, 'interaction mismatch');
    const { prompt, params } = interaction;
    ctx.type = 'html';
    if (ctx.method === 'GET') {
      ctx.body = prompt.name === 'login'
        ? loginPage(interaction.uid, params.client_id)
        : consentPage(interaction.uid, params.client_id, prompt.details);
      return undefined;
    }
    if (ctx.method !== 'POST') ctx.throw(405);
    const form = await readForm(ctx.req);
    let result;
    if (prompt.name === 'login' && form.get('prompt') === 'login') {
      const accountId = signIn(form.get('login') ?? '');
      if (!accountId) {
        ctx.status = 400;
        ctx.body = loginPage(interaction.uid, params.client_id, 'Enter an email address.');
        return undefined;
      }
      result = { login: { accountId } };
    } else if (prompt.name === 'consent' && form.get('prompt') === 'consent') {
      result = { consent: { grantId: await grantConsent(provider, interaction) } };
    } else {
      ctx.throw(400, 'unexpected form');
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: prompt.name !== 'login',
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
    return undefined;
  };
}

// --- the provider --------------------------------------------------------------------------

function configuration(config, jwks) {
  const resourceServer = {
    scope: SCOPE,
    audience: config.audience,
    accessTokenTTL: config.access_token_ttl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: config.alg } },
  };
  return {
    jwks,
    clients: config.clients ?? defaultClients(config),
    clientDefaults: { id_token_signed_response_alg: config.alg },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    scopes: SCOPE.split(' '),
    responseTypes: ['code'],
    async findAccount(ctx, sub) {
      const claims = personClaims(sub);
      return claims && { accountId: sub, claims: async () => claims };
    },
    async extraTokenClaims(ctx, token) {
      if (!token.accountId) return undefined; // client-credentials tokens name no person
      const { email, email_verified } = personClaims(token.accountId) ?? {};
      return { email, email_verified };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    // CORS on the token endpoint for public (browser) clients, from their redirect origins.
    clientBasedCORS(ctx, origin, client) {
      return client.clientAuthMethod === 'none'
        && client.redirectUris.some((uri) => new URL(uri).origin === origin);
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // no `resource` parameter needed from clients: every access token is for mailkeys
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
    ttl: {
      AccessToken: config.access_token_ttl,
      ClientCredentials: config.access_token_ttl,
      AuthorizationCode: 60,
      IdToken: config.access_token_ttl,
      Interaction: 10 * 60,
      Session: 60 * 60,
      Grant: 60 * 60,
    },
  };
}

async function main() {
  const config = loadConfig();
  const jwks = await signingKeys(config);
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '127.0.0.1', resolve); // loopback only, always
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration(config, jwks));
  provider.use(interactions(provider));
  server.on('request', provider.callback());

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const kids = jwks.keys.map((key) => key.kid);
  process.stdout.write(`oidc-provider ready ${JSON.stringify({ issuer, kids })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
