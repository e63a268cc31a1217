// Signing in: with an API key, or by OIDC (authorization code with PKCE) when the platform
// has an OIDC provider and a console client configured (GET /console/config.json). Either
// way the credential ends in api.js's store: this tab's sessionStorage, never a URL.

import { setCredential } from "./api.js";

const PENDING = "agentic.console.oidc";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

function randomText() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function redirectUri() {
  return `${location.origin}/console/`;
}

async function discovery(issuer) {
  const response = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the OIDC provider answered ${response.status}`);
  return response.json();
}

/** Leave for the provider's sign-in page; it comes back to /console/?code=...&state=... */
export async function startOidc(oidc) {
  const provider = await discovery(oidc.issuer);
  const verifier = randomText();
  const state = randomText();
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, token: provider.token_endpoint }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: oidc.scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${provider.authorization_endpoint}?${query}`);
}

/** On the way back: trade the code for tokens, then take the code out of the address bar. */
export async function finishOidc(oidc) {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return false;
  history.replaceState(null, "", "/console/");
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (query.has("error")) throw new Error(query.get("error_description") || query.get("error"));
  if (!pending || pending.state !== query.get("state")) throw new Error("the sign-in answer does not match the request: sign in again");
  const response = await fetch(pending.token, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: query.get("code"),
      redirect_uri: redirectUri(),
      client_id: oidc.client_id,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`the OIDC provider refused the code (${response.status})`);
  const tokens = await response.json();
  setCredential(tokens.access_token || tokens.id_token);
  return true;
}
