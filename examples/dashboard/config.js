// Where the dashboard signs people in and which mailkeys it calls. `serve.py` answers
// /config.js with the values given on its command line instead of this file; edit this file
// when you serve the directory some other way. (Not query parameters: a link could otherwise
// send a person's access token to any server.)
export default {
  // the OpenID provider (its /.well-known/openid-configuration is read at sign-in)
  issuer: 'http://127.0.0.1:9400',
  // this page's client at the provider: public, authorization code flow with PKCE
  clientId: 'mailkeys-dashboard',
  // registered at the provider for this client; this page handles the answer itself
  redirectUri: `${window.location.origin}/`,
  scope: 'openid email',
  // the mailkeys server: its MAILKEYS_CORS_ORIGINS must list this page's origin
  mailkeysUrl: 'http://127.0.0.1:8000',
};
