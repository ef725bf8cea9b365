// A real OAuth 2.1 authorization server for the tests and `make dev`: npm `oidc-provider` on
// loopback, with resource indicators on and JWT access tokens whose `aud` is the resource asked
// for (opaque ones with `opaque: true`, checked at its RFC 7662 introspection endpoint). Signing
// keys (RS256 and ES256) are generated per run unless given (`make dev` keeps its own across
// restarts: scripts/dev-issuer.mjs); `rotate()` replaces the RS256 key. With `idJag`, it also
// plays an enterprise identity provider of Enterprise-Managed Authorization (the MCP extension
// io.modelcontextprotocol/enterprise-managed-authorization): RFC 8693 token exchange of an ID token
// for an Identity Assertion JWT Authorization Grant (ID-JAG).

import { createServer } from "node:http";
import Provider, { errors } from "oidc-provider";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, jwtVerify } from "jose";
import { freePort } from "./harness.mjs";

export const CLIENT_ID = "mkit-test";
export const CLIENT_SECRET = "mkit-test-secret";
export const SCOPES = "mcp tools:read notes";
/** The resource server's own client at the introspection endpoint (it gets no tokens). */
export const INTROSPECTOR_ID = "mkit-introspector";
export const INTROSPECTOR_SECRET = "mkit-introspector-secret";
/** RFC 8693 token exchange (§2.1), and the token types of Enterprise-Managed Authorization §4. */
export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
/** How long an ID-JAG lives (the extension's §4.2 example: 300 s). */
export const ID_JAG_TTL = 300;

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
 * JWKs, one RS256 and one ES256; default new ones), idJag (the enterprise IdP's token exchange for
 * ID-JAGs; see `idJagGrant`): `{ audience, resource, clientMap, scope }`.
 */
export async function startIssuer({ port, resource, alg = "RS256", registration = false, redirectUris = [], opaque = false,
  keys, idJag } = {}) {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}/`;
  const state = { alg, keys: keys ?? (await newSigningKeys()), server: null };

  const build = () => {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ["client_credentials", "authorization_code", "refresh_token", ...(idJag ? [TOKEN_EXCHANGE] : [])],
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
    if (idJag) {
      // RFC 8693 §2.1's parameters; actor_token and actor_token_type are read only to refuse them
      // (the extension §4 does not use them).
      provider.registerGrantType(TOKEN_EXCHANGE, idJagGrant({ issuer, state, policy: idJag }), ["requested_token_type",
        "subject_token", "subject_token_type", "audience", "resource", "scope", "actor_token", "actor_token_type"]);
    }
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
    /**
     * Leg 1 of Enterprise-Managed Authorization as the MCP client performs it (§4): the token
     * exchange of `idToken` for an ID-JAG, authenticated as the issuer's client (client_secret_basic).
     * Resolves with `{ status, body }` (the RFC 8693 §2.2.1 response, or the RFC 6749 §5.2 error).
     */
    async exchange({ idToken, audience = idJag?.audience, resource: forResource = idJag?.resource, scope,
      requestedTokenType = ID_JAG_TYPE, subjectTokenType = ID_TOKEN_TYPE, clientId = CLIENT_ID, clientSecret = CLIENT_SECRET } = {}) {
      const body = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, requested_token_type: requestedTokenType,
        subject_token: idToken, subject_token_type: subjectTokenType });
      if (audience) body.set("audience", audience);
      if (forResource) body.set("resource", forResource);
      if (scope) body.set("scope", scope);
      const res = await fetch(`${issuer}token`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      return { status: res.status, body: await res.json() };
    },
    /**
     * A JWT signed with this issuer's RS256 key, as `idJagGrant` signs an ID-JAG, but with the
     * claims and header given (a test's misaddressed or mistyped grant from a trusted provider).
     */
    signIdJag(claims, header = { typ: "oauth-id-jag+jwt" }) {
      return signWith(state, claims, header);
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

/** Signs `claims` with the issuer's current RS256 key (its `kid`), with `header` added. */
async function signWith(state, claims, header) {
  const jwk = state.keys.find((k) => k.alg === "RS256");
  return new SignJWT(claims).setProtectedHeader({ ...header, alg: "RS256", kid: jwk.kid })
    .sign(await importJWK(jwk, "RS256"));
}

/** The public half of the issuer's signing keys (what its jwks_uri publishes). */
function publicKeys(state) {
  return createLocalJWKSet({ keys: state.keys.map(({ d, p, q, dp, dq, qi, ...pub }) => pub) });
}

/**
 * The enterprise IdP's side of Enterprise-Managed Authorization (the MCP extension
 * io.modelcontextprotocol/enterprise-managed-authorization, draft), registered as an oidc-provider
 * grant type: RFC 8693 token exchange of an OpenID Connect ID token for an ID-JAG
 * (draft-ietf-oauth-identity-assertion-authz-grant). `policy` is what an IT administrator
 * configures for one MCP server (§4.1 "administrator-defined policies", §6.1):
 *   audience   the issuer identifier of the MCP server's authorization server (the ID-JAG's aud)
 *   resource   the MCP server's RFC 9728 resource identifier (the ID-JAG's resource)
 *   clientMap  { <client_id here>: <the same MCP client's client_id at that authorization server> }
 *              (§6.1: the mapping "happens outside of the protocol", in the IdP's configuration)
 *   scope      the scopes the IdP lets the client have there (space-separated; none: as requested)
 * The client authenticated before the handler runs (oidc-provider's token endpoint; the extension
 * §4: client authentication is required when the client's SSO requires it). Errors are RFC 6749
 * §5.2 token error responses (the extension §4.2.1).
 */
function idJagGrant({ issuer, state, policy }) {
  const refuse = (error, description) => new errors.CustomOIDCProviderError(error, description);
  return async function tokenExchange(ctx) {
    const { client, params } = ctx.oidc;
    // §4: requested_token_type is REQUIRED and names an ID-JAG.
    if (params.requested_token_type !== ID_JAG_TYPE) {
      throw refuse("invalid_request", `requested_token_type must be ${ID_JAG_TYPE}`);
    }
    // §4: subject_token and subject_token_type are REQUIRED; this IdP takes OpenID Connect ID tokens.
    if (!params.subject_token) throw refuse("invalid_request", "subject_token (the ID token) is required");
    if (params.subject_token_type !== ID_TOKEN_TYPE) {
      throw refuse("invalid_request", `subject_token_type must be ${ID_TOKEN_TYPE}`);
    }
    // §4: actor_token and actor_token_type (RFC 8693 §2.1) are not used.
    if (params.actor_token || params.actor_token_type) throw refuse("invalid_request", "actor_token is not used here");
    // §4: audience (the authorization server's issuer) and resource (the MCP server) are REQUIRED.
    if (!params.audience) throw refuse("invalid_request", "audience (the authorization server's issuer) is required");
    if (!params.resource) throw refuse("invalid_request", "resource (the MCP server) is required");
    // §4.1: the IdP MUST validate the subject token (here: its signature by this issuer's keys,
    // its iss and expiry), and MUST check that its aud is the client making this request.
    let idToken;
    try {
      ({ payload: idToken } = await jwtVerify(params.subject_token, publicKeys(state), { issuer, audience: client.clientId }));
    } catch (e) {
      throw refuse("invalid_grant", `the subject token is not an ID token this provider issued to ${client.clientId}: ${e.message}`);
    }
    // §4.1: the administrator's policy for this client at this MCP server; RFC 8693 §2.2.2:
    // invalid_target when the audience or resource is not one the IdP will issue for.
    if (params.audience !== policy.audience || params.resource !== policy.resource) {
      throw refuse("invalid_target", "no policy allows this audience and resource");
    }
    const mapped = policy.clientMap?.[client.clientId];
    if (!mapped) throw refuse("unauthorized_client", `${client.clientId} is not mapped to a client at ${params.audience}`);
    const requested = params.scope ? params.scope.split(" ").filter(Boolean) : null;
    const allowed = policy.scope ? policy.scope.split(" ") : null;
    const scopes = (requested ?? allowed ?? []).filter((s) => !allowed || allowed.includes(s));
    if (requested && !scopes.length) throw refuse("invalid_scope", "none of the requested scopes is allowed");
    const scope = scopes.join(" ") || undefined;
    // §4.3: the ID-JAG, typ oauth-id-jag+jwt, signed by the IdP. The user's email and groups ride
    // along as additional claims (§4.3 "Implementation notes"), for the server's own policy.
    const iat = Math.floor(Date.now() / 1000);
    const extra = Object.fromEntries(["email", "email_verified", "groups"].filter((k) => k in idToken)
      .map((k) => [k, idToken[k]]));
    const grant = await signWith(state, { ...extra, iss: issuer, sub: idToken.sub, aud: params.audience,
      resource: params.resource, client_id: mapped, jti: randomUUID(), iat, exp: iat + ID_JAG_TTL,
      ...(scope ? { scope } : {}) }, { typ: "oauth-id-jag+jwt" });
    // §4.2: the RFC 8693 §2.2.1 response; token_type N_A (not an access token); scope always sent.
    ctx.body = { issued_token_type: ID_JAG_TYPE, access_token: grant, token_type: "N_A", expires_in: ID_JAG_TTL,
      ...(scope ? { scope } : {}) };
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
