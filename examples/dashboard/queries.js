// Every GraphQL document the dashboard sends, in one place. They follow the planned schema for
// people signed in with an OpenID access token; adjust them here when that schema changes.

// Who the signed-in person is to mailkeys, and the teams they belong to.
export const VIEWER = `query Viewer {
  viewer {
    kind
    person { id email }
    memberships { team { id name } role }
  }
}`;

// The API keys of the team named in the X-Team-Id header.
export const API_KEYS = `query ApiKeys {
  apiKeys(first: 20) {
    edges { node { id name type preset status displayToken } }
  }
}`;

// A read-only infrastructure key for the team named in the X-Team-Id header. `secret` is the
// key itself, shown once.
export const API_KEY_CREATE = `mutation ApiKeyCreate($name: String!) {
  apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly", name: $name}) {
    apiKey { id displayToken }
    secret
  }
}`;
