// A real OAuth 2.1 authorization server for the tests and `make dev`: npm `oidc-provider` on
// loopback, with resource indicators on and JWT access tokens whose `aud` is the resource asked
// for. Signing keys (RS256 and ES256) are generated per run; `rotate()` replaces the RS256 key.

import { createServer } from "node:http";
import Provider from "oidc-provider";
import { generateKeyPair, exportJWK } from "jose";
import { freePort } from "./harness.mjs";

export const CLIENT_ID = "mkit-test";
export const CLIENT_SECRET = "mkit-test-secret";
export const SCOPES = "mcp tools:read notes";

async function signingKey(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg, use: "sig" };
}

/**
 * Starts an issuer on 127.0.0.1. Options: port (default free), resource (the default `aud`),
 * alg (the access-token signing algorithm, RS256 or ES256), registration (dynamic client
 * registration, for `make dev`), redirectUris.
 */
export async function startIssuer({ port, resource, alg = "RS256", registration = false, redirectUris = [] } = {}) {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}/`;
  const state = { alg, keys: [await signingKey("RS256", "rsa-1"), await signingKey("ES256", "ec-1")], server: null };

  const build = () => {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ["client_credentials", "authorization_code"],
        response_types: ["code"],
        redirect_uris: redirectUris.length ? redirectUris : [`http://127.0.0.1:${port}/cb`],
        token_endpoint_auth_method: "client_secret_basic",
        scope: `openid email ${SCOPES}`,
      }],
      jwks: { keys: state.keys },
      scopes: ["openid", "email", ...SCOPES.split(" ")],
      // Each dev account has an e-mail address, released in the ID token with scope email (so a
      // test can see mKit carry an upstream claim into its own tokens).
      findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@example.test`, email_verified: true }) }),
      claims: { openid: ["sub"], email: ["email", "email_verified"] },
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      clientDefaults: { grant_types: ["authorization_code"], token_endpoint_auth_method: "none" },
      features: {
        devInteractions: { enabled: true },
        clientCredentials: { enabled: true },
        registration: { enabled: registration },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resourceIndicator) => ({
            scope: SCOPES,
            audience: resourceIndicator,
            accessTokenTTL: 3600,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: state.alg } },
          }),
        },
      },
      ttl: { AccessToken: 3600, ClientCredentials: 3600 },
    });
    provider.proxy = false;
    return provider;
  };

  const listen = () => new Promise((ok, fail) => {
    const server = createServer(build().callback());
    server.on("error", fail);
    server.listen(port, "127.0.0.1", () => ok(server));
  });
  const close = () => new Promise((ok) => {
    if (!state.server) return ok();
    state.server.closeAllConnections();
    state.server.close(() => ok());
    state.server = null;
  });
  state.server = await listen();

  return {
    url: issuer,
    port,
    /** A client_credentials access token for `forResource` (default: the issuer's default resource). */
    async clientCredentialsToken({ forResource = resource, scope = SCOPES } = {}) {
      const body = new URLSearchParams({ grant_type: "client_credentials", scope, resource: forResource });
      const res = await fetch(`${issuer}token`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      const json = await res.json();
      if (!res.ok) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(json)}`);
      return json.access_token;
    },
    /** Replaces the RS256 signing key with a new one (new `kid`), restarting the server. */
    async rotate(kid = `rsa-${Date.now()}`) {
      state.keys = [await signingKey("RS256", kid), ...state.keys.filter((k) => k.alg !== "RS256")];
      await close();
      state.server = await listen();
      return kid;
    },
    setAlg(a) {
      state.alg = a;
    },
    async stop() {
      await close();
    },
    async start() {
      if (!state.server) state.server = await listen();
    },
  };
}

/** Decodes a JWT's header and payload without checking anything (for assertions). */
export function peek(token) {
  const [h, p] = token.split(".");
  const dec = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  return { header: dec(h), payload: dec(p) };
}
