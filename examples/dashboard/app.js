// The dashboard: sign in, ask mailkeys who you are, pick a team, list and create its keys.
// Everything shown comes from textContent (never innerHTML): server data is never markup.

import config from './config.js';
import { beginSignIn, completeSignIn, isSignInAnswer } from './oidc.js';
import { API_KEYS, API_KEY_CREATE, VIEWER } from './queries.js';

const $ = (selector) => document.querySelector(selector);
const ui = {
  status: $('#status'),
  error: $('#error'),
  issuer: $('#issuer'),
  signedOut: $('#signed-out'),
  signIn: $('#sign-in'),
  signedIn: $('#signed-in'),
  email: $('#email'),
  person: $('#person'),
  expires: $('#expires'),
  signOut: $('#sign-out'),
  teamSection: $('#team-section'),
  team: $('#team'),
  keysSection: $('#keys-section'),
  keys: $('#keys'),
  noKeys: $('#no-keys'),
  createKey: $('#create-key'),
  keyName: $('#key-name'),
  secretSection: $('#secret-section'),
  secret: $('#secret'),
};

// { accessToken, expiresAt, email, emailVerified }: in this variable only, never stored.
let session = null;

class MailkeysError extends Error {}

function announce(message) {
  ui.status.textContent = message;
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = '';
  ui.error.hidden = true;
}

// Runs a user action: one error message for whatever goes wrong, controls busy meanwhile.
async function run(control, action) {
  clearError();
  if (control) control.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(error.message);
  } finally {
    if (control) control.disabled = false;
  }
}

async function graphql(query, variables = {}, teamId = null) {
  if (!session || Date.now() >= session.expiresAt) {
    signOut();
    throw new MailkeysError('Your sign-in has expired. Sign in again.');
  }
  const headers = {
    'Content-Type': 'application/json',
    Authorization: `Bearer ${session.accessToken}`,
  };
  if (teamId) headers['X-Team-Id'] = teamId;
  let response;
  try {
    response = await fetch(`${config.mailkeysUrl}/graphql`, {
      method: 'POST',
      credentials: 'omit',
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new MailkeysError(
      `Could not reach mailkeys at ${config.mailkeysUrl}: it is down, or it does not allow ` +
        `this page's origin (${window.location.origin}) in MAILKEYS_CORS_ORIGINS.`,
    );
  }
  const result = await response.json().catch(() => null);
  if (!result) {
    throw new MailkeysError(`mailkeys answered HTTP ${response.status} without a result.`);
  }
  if (result.errors?.length) {
    const reasons = result.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`);
    throw new MailkeysError(`mailkeys refused: ${reasons.join('; ')}`);
  }
  return result.data;
}

function showSignedIn() {
  ui.signedOut.hidden = true;
  ui.signedIn.hidden = false;
  const unverified = session.emailVerified ? '' : ' (address not verified)';
  ui.email.textContent = `${session.email}${unverified}`;
  ui.expires.textContent = new Date(session.expiresAt).toLocaleTimeString();
  announce(`Signed in as ${session.email}.`);
}

function signOut() {
  session = null;
  for (const section of [ui.signedIn, ui.teamSection, ui.keysSection, ui.secretSection]) {
    section.hidden = true;
  }
  ui.signedOut.hidden = false;
  ui.person.textContent = '…';
  ui.secret.textContent = '';
  announce('Signed out.');
}

async function loadViewer() {
  ui.person.textContent = 'asking mailkeys…';
  let viewer;
  try {
    ({ viewer } = await graphql(VIEWER));
  } catch (error) {
    ui.person.textContent = 'unknown (see the error above)';
    throw error;
  }
  ui.person.textContent = `${viewer.person.email} (${viewer.kind})`;
  ui.team.replaceChildren(
    ...viewer.memberships.map(({ team, role }) => new Option(`${team.name} (${role})`, team.id)),
  );
  ui.teamSection.hidden = viewer.memberships.length === 0;
  if (viewer.memberships.length === 0) {
    announce(`Signed in as ${session.email}; you belong to no team yet.`);
    return;
  }
  await loadKeys();
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

async function loadKeys() {
  const teamId = ui.team.value;
  const { apiKeys } = await graphql(API_KEYS, {}, teamId);
  const rows = apiKeys.edges.map(({ node }) => {
    const tr = document.createElement('tr');
    const token = document.createElement('td');
    token.append(Object.assign(document.createElement('code'), { textContent: node.displayToken }));
    tr.append(cell(node.name), cell(node.type), cell(node.preset ?? '—'), cell(node.status), token);
    return tr;
  });
  ui.keys.replaceChildren(...rows);
  ui.noKeys.hidden = rows.length > 0;
  ui.keysSection.hidden = false;
  const teamName = ui.team.selectedOptions[0]?.textContent ?? teamId;
  announce(`${rows.length} API key${rows.length === 1 ? '' : 's'} in ${teamName}.`);
}

async function createKey() {
  const { apiKeyCreate } = await graphql(API_KEY_CREATE, { name: ui.keyName.value }, ui.team.value);
  ui.createKey.reset();
  ui.secret.textContent = apiKeyCreate.secret;
  ui.secretSection.hidden = false;
  await loadKeys();
  announce(`Key ${apiKeyCreate.apiKey.displayToken} created; its secret is shown once below.`);
  ui.secretSection.focus();
}

function start() {
  ui.issuer.textContent = config.issuer;
  ui.signIn.addEventListener('click', () =>
    run(ui.signIn, async () => {
      announce('Taking you to the sign-in page…');
      await beginSignIn(config);
    }),
  );
  ui.signOut.addEventListener('click', signOut);
  ui.team.addEventListener('change', () => {
    ui.secretSection.hidden = true;
    ui.secret.textContent = '';
    run(ui.team, loadKeys);
  });
  ui.createKey.addEventListener('submit', (event) => {
    event.preventDefault();
    run(ui.createKey.querySelector('button'), createKey);
  });

  if (isSignInAnswer(window.location)) {
    run(null, async () => {
      announce('Completing sign-in…');
      try {
        session = await completeSignIn(config, window.location);
      } catch (error) {
        announce('Not signed in.');
        throw error;
      }
      showSignedIn();
      await loadViewer();
    });
  } else {
    announce('Not signed in.');
  }
}

start();
