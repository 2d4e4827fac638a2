// Signing in with the OpenID provider: the authorization code flow with PKCE (S256), all in
// the browser, with no client secret (this page is a public client).
//
// For the round trip to the provider, the state, nonce and PKCE code verifier wait in
// sessionStorage (this tab only) and are removed as soon as the answer comes back. The tokens
// are handed to the caller, which keeps them in memory only: a reload signs in again (quickly,
// as the provider remembers the person).

const PENDING = 'mailkeys-dashboard:pending-sign-in';

export class SignInError extends Error {}

function base64url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(byteCount) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

async function s256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return base64url(new Uint8Array(digest));
}

// The claims of a JWT, read without checking its signature: for display only.
function unverifiedClaims(jwt) {
  const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function discover(issuer) {
  let response;
  try {
    response = await fetch(`${issuer}/.well-known/openid-configuration`, { credentials: 'omit' });
  } catch {
    throw new SignInError(`Could not reach the sign-in provider at ${issuer}.`);
  }
  if (!response.ok) {
    throw new SignInError(`The sign-in provider at ${issuer} answered ${response.status}.`);
  }
  const metadata = await response.json();
  if (metadata.issuer !== issuer) {
    throw new SignInError(`The provider at ${issuer} calls itself ${metadata.issuer}.`);
  }
  return metadata;
}

// Leaves the page for the provider's sign-in page.
export async function beginSignIn(config) {
  const metadata = await discover(config.issuer);
  const pending = { state: randomString(16), nonce: randomString(16), verifier: randomString(48) };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await s256(pending.verifier),
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.toString());
}

// Whether this page load is the provider's answer to a sign-in.
export function isSignInAnswer(location) {
  const params = new URLSearchParams(location.search);
  return params.has('state') && (params.has('code') || params.has('error'));
}

// Checks the provider's answer, trades the code for tokens, and cleans the address bar.
// Returns { accessToken, expiresAt (ms), email, emailVerified }.
export async function completeSignIn(config, location) {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  // the code is single-use: keep it out of the history and of anything copied from the bar
  window.history.replaceState(null, '', location.pathname);

  if (!pending || params.get('state') !== pending.state) {
    throw new SignInError('This sign-in answer was not started from this tab. Sign in again.');
  }
  if (params.has('error')) {
    const reason = params.get('error_description') ?? params.get('error');
    throw new SignInError(`The provider did not sign you in: ${reason}`);
  }
  if (params.get('iss') !== config.issuer) {
    // RFC 9207: an answer from another provider than the one we sent the person to
    throw new SignInError('The sign-in answer came from another provider. Sign in again.');
  }
  const metadata = await discover(config.issuer);
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    credentials: 'omit',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: config.redirectUri,
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.access_token) {
    const reason = tokens.error_description ?? tokens.error ?? `HTTP ${response.status}`;
    throw new SignInError(`The provider did not issue tokens: ${reason}`);
  }
  const identity = unverifiedClaims(tokens.id_token);
  if (identity.nonce !== pending.nonce || identity.iss !== config.issuer) {
    throw new SignInError('The identity token does not belong to this sign-in.');
  }
  return {
    accessToken: tokens.access_token,
    expiresAt: Date.now() + Number(tokens.expires_in) * 1000,
    email: identity.email,
    emailVerified: identity.email_verified === true,
  };
}
