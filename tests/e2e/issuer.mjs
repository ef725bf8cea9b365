// A real OAuth 2.1 authorization server for the tests and `make dev`: npm `oidc-provider` on
// loopback, with resource indicators on and JWT access tokens whose `aud` is the resource asked
// for (opaque ones with `opaque: true`, checked at its RFC 7662 introspection endpoint). Signing
// keys (RS256 and ES256) are generated per run unless given (`make dev` keeps its own across
// restarts: scripts/dev-issuer.mjs); `rotate()` replaces the RS256 key.

import { createServer } from "node:http";
import Provider from "oidc-provider";
import { createHash, randomBytes } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { freePort } from "./harness.mjs";

export const CLIENT_ID = "mkit-test";
export const CLIENT_SECRET = "mkit-test-secret";
export const SCOPES = "mcp tools:read notes";
/** The resource server's own client at the introspection endpoint (it gets no tokens). */
export const INTROSPECTOR_ID = "mkit-introspector";
export const INTROSPECTOR_SECRET = "mkit-introspector-secret";

/** A private signing JWK; without `kid`, the key's own thumbprint (so a new key never reuses one). */
async function signingKey(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: kid ?? (await calculateJwkThumbprint(jwk)), alg, use: "sig" };
}

/** The issuer's signing keys (RS256 and ES256), new. */
export async function newSigningKeys() {
  return [await signingKey("RS256"), await signingKey("ES256")];
}

/**
 * Starts an issuer on 127.0.0.1. Options: port (default free), resource (the default `aud`),
 * alg (the access-token signing algorithm, RS256 or ES256), registration (dynamic client
 * registration, for `make dev`), redirectUris, opaque (opaque access tokens), keys (private signing
 * JWKs, one RS256 and one ES256; default new ones).
 */
export async function startIssuer({ port, resource, alg = "RS256", registration = false, redirectUris = [], opaque = false,
  keys } = {}) {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}/`;
  const state = { alg, keys: keys ?? (await newSigningKeys()), server: null };

  const build = () => {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ["client_credentials", "authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: redirectUris.length ? redirectUris : [`http://127.0.0.1:${port}/cb`],
        token_endpoint_auth_method: "client_secret_basic",
        scope: `openid email offline_access ${SCOPES}`,
      }, {
        client_id: INTROSPECTOR_ID,
        client_secret: INTROSPECTOR_SECRET,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      }],
      jwks: { keys: state.keys },
      scopes: ["openid", "email", "offline_access", ...SCOPES.split(" ")],
      // Each dev account has an e-mail address, released in the ID token with scope email (so a
      // test can see mKit carry an upstream claim into its own tokens); verified, except for an
      // account whose name starts with "unverified" (a self-service sign-up that never confirmed).
      // Groups ride with openid, as a provider's client configuration adds them (Okta, Entra): an
      // account whose name starts with "admin" is in mcp-admins (the scope-policy tests, issue 28).
      findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@example.test`,
        email_verified: !id.startsWith("unverified"), groups: id.startsWith("admin") ? ["staff", "mcp-admins"] : ["staff"] }) }),
      claims: { openid: ["sub", "groups"], email: ["email", "email_verified"] },
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      clientDefaults: { grant_types: ["authorization_code"], token_endpoint_auth_method: "none" },
      features: {
        devInteractions: { enabled: true },
        clientCredentials: { enabled: true },
        registration: { enabled: registration },
        // The resource server may introspect any token; a client only its own.
        introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => client.clientId === INTROSPECTOR_ID || client.clientId === token.clientId },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resourceIndicator) => ({
            scope: SCOPES,
            audience: resourceIndicator,
            accessTokenTTL: 3600,
            accessTokenFormat: opaque ? "opaque" : "jwt",
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
    /**
     * A user's tokens from the authorization code flow with PKCE, signing in and consenting
     * through the dev interactions: `{ access_token, refresh_token?, id_token }`. `redirect`: a
     * registered redirect URI (default: the issuer's own `/cb`, registered when none are given).
     */
    async userTokens({ user = "alice", scope = "openid mcp tools:read", forResource = resource, redirect } = {}) {
      const code = await authorizationCode({ issuer, port, user, scope, resource: forResource, redirect });
      const res = await fetch(`${issuer}token`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code: code.code, redirect_uri: code.redirect,
          code_verifier: code.verifier, resource: forResource }),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    /** Revokes a token at the issuer (RFC 7009). */
    async revoke(token) {
      const res = await fetch(`${issuer}token/revocation`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }),
      });
      if (!res.ok) throw new Error(`revocation: ${res.status}`);
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

/** Walks the authorization endpoint's redirects, signing `user` in and consenting. */
async function authorizationCode({ issuer, port, user, scope, resource, redirect = `http://127.0.0.1:${port}/cb` }) {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const jar = new Map();
  const go = async (url, init = {}) => {
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}),
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
  const auth = new URL(`${issuer}auth`);
  auth.search = new URLSearchParams({ client_id: CLIENT_ID, response_type: "code", redirect_uri: redirect, scope,
    resource, code_challenge: challenge, code_challenge_method: "S256", state: "s1",
    ...(scope.split(" ").includes("offline_access") ? { prompt: "consent" } : {}) }).toString();
  let res = await go(auth.href);
  for (let hops = 0; hops < 12; hops++) {
    const location = new URL(res.headers.get("location"), issuer);
    if (location.href.startsWith(redirect)) {
      const code = location.searchParams.get("code");
      if (!code) throw new Error(`authorization failed: ${location.search}`);
      return { code, redirect, verifier };
    }
    if (location.pathname.startsWith("/interaction/")) {
      const html = await (await go(location.href)).text();
      const prompt = html.includes('name="login"') ? { prompt: "login", login: user, password: "x" } : { prompt: "consent" };
      res = await go(location.href, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(prompt).toString() });
    } else {
      res = await go(location.href);
    }
  }
  throw new Error("the issuer never redirected back with a code");
}

/** Decodes a JWT's header and payload without checking anything (for assertions). */
export function peek(token) {
  const [h, p] = token.split(".");
  const dec = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  return { header: dec(h), payload: dec(p) };
}
