// `make idp-check ISSUER=… [TOKEN=…] [RESOURCE=…]`: what an identity provider offers MCP clients,
// and the mKit settings for it. Reads the provider's metadata (RFC 8414, then OpenID Connect
// discovery) and, when given, decodes a sample access token WITHOUT trusting it (no signature is
// checked: it only shows the token's shape). Prints one line per requirement, then the settings,
// or says to turn on mKit's own authorization server. Exit 0 when the metadata was read, 1 when it
// could not be, 2 on bad usage. Read-only.

import { Refusal, parseOptions, runMain } from "./cloudflare.mjs";

const TIMEOUT_MS = 10_000;

/** RFC 8414 §3.1 (the well-known path goes before the issuer's path), then OIDC discovery. */
export function metadataUrls(issuer) {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/$/, "");
  return [`${u.origin}/.well-known/oauth-authorization-server${path}`, `${u.origin}${path}/.well-known/openid-configuration`];
}

async function fetchMetadata(issuer) {
  const tried = [];
  for (const url of metadataUrls(issuer)) {
    try {
      const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: "application/json" } });
      if (!res.ok) {
        tried.push(`${url}: HTTP ${res.status}`);
        continue;
      }
      return { url, doc: await res.json() };
    } catch (e) {
      tried.push(`${url}: ${e.name === "TimeoutError" ? "no answer" : e.cause?.code ?? e.message}`);
    }
  }
  throw new Error(`no metadata document: ${tried.join("; ")}`);
}

/** A token's header and claims, decoded and not trusted; `null` for an opaque token. */
export function decodeToken(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const dec = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    return { header: dec(parts[0]), claims: dec(parts[1]) };
  } catch {
    return null;
  }
}

const CLIENT_CLAIMS = ["client_id", "azp", "appid", "cid"];

/**
 * The findings about a provider: `checks` ({ ok, name, detail }) and the mKit `settings` to use,
 * from its metadata document and, if given, a decoded sample token.
 */
export function assess({ issuer, doc, token, resource }) {
  const checks = [];
  const settings = { OAUTH_ISSUER: doc.issuer ?? issuer };
  const check = (ok, name, detail) => checks.push({ ok, name, detail });
  check(doc.issuer === issuer, "issuer", doc.issuer === issuer ? doc.issuer
    : `metadata names ${JSON.stringify(doc.issuer)}: use it exactly as OAUTH_ISSUER (tokens carry it in iss)`);
  const pkce = (doc.code_challenge_methods_supported ?? []).includes("S256");
  check(pkce, "pkce", pkce ? "S256 advertised" : "code_challenge_methods_supported lacks S256: MCP clients refuse such a server");
  const dcr = typeof doc.registration_endpoint === "string";
  const cimd = doc.client_id_metadata_document_supported === true;
  check(dcr || cimd, "client registration",
    `${dcr ? "Dynamic Client Registration" : "no registration_endpoint"}; ${cimd ? "Client ID Metadata Documents" : "no Client ID Metadata Documents"}` +
    (dcr || cimd ? "" : ": MCP clients cannot register themselves"));
  check(typeof doc.jwks_uri === "string", "jwks", doc.jwks_uri ?? "no jwks_uri: JWT access tokens cannot be verified");
  const introspection = doc.introspection_endpoint;
  check(true, "introspection", introspection ?? "no introspection_endpoint (opaque tokens cannot be checked)");

  let opaque = false;
  if (token !== undefined) {
    const t = decodeToken(token);
    if (!t) {
      opaque = true;
      check(Boolean(introspection), "token", introspection ? "opaque: checked by introspection" : "opaque, and no introspection endpoint");
      if (introspection) {
        Object.assign(settings, { OAUTH_INTROSPECTION_URL: introspection, OAUTH_INTROSPECTION_CLIENT_ID: "<a client allowed to introspect>",
          OAUTH_INTROSPECTION_CLIENT_SECRET: "<its secret, as a Worker secret>" });
      }
    } else {
      tokenSettings(t, { issuer: settings.OAUTH_ISSUER, resource, check, settings });
    }
  }
  const usable = pkce && (dcr || cimd) && (typeof doc.jwks_uri === "string" || (opaque && introspection));
  return { checks, settings, authServer: !usable };
}

/** What a decoded sample token says about the settings. */
function tokenSettings({ header, claims }, { issuer, resource, check, settings }) {
  const auds = claims.aud === undefined ? [] : [claims.aud].flat();
  const scopeless = !["scope", "scp", "permissions", "roles"].some((c) => c in claims);
  const idToken = ["nonce", "at_hash", "c_hash"].some((c) => c in claims) || claims.token_use === "id" || claims.typ === "ID" ||
    (scopeless && resource !== undefined && auds.length > 0 && !auds.includes(resource));
  check(!idToken, "token kind", idToken ? "this is an ID token (or looks like one: no scopes, aud names a client): send an access token" : "an access token");
  check(claims.iss === issuer, "token iss", claims.iss === issuer ? "matches" : `iss is ${JSON.stringify(claims.iss)}: set OAUTH_ISSUER to it`);
  if (claims.iss !== issuer && typeof claims.iss === "string") settings.OAUTH_ISSUER = claims.iss;
  const typ = String(header.typ ?? "").toLowerCase().replace(/^application\//, "");
  check(true, "token typ", header.typ ? `"${header.typ}"` : "absent");
  if (typ !== "at+jwt") settings.OAUTH_ACCEPT_JWT_TYP = "true";
  const client = CLIENT_CLAIMS.find((c) => typeof claims[c] === "string");
  if (auds.length === 0) {
    check(Boolean(client), "token aud", client ? `absent: the client (${client}) stands in` : "absent, and no client claim: cannot be bound to this server");
    if (client) settings.OAUTH_CLIENT_IDS = claims[client];
  } else if (resource && auds.includes(resource)) {
    check(true, "token aud", `names ${resource} (RFC 8707)`);
  } else {
    const mine = auds.find((a) => a !== claims[client] && !a.endsWith("/userinfo")) ?? auds[0];
    check(mine !== claims[client], "token aud", `${JSON.stringify(claims.aud)}${mine === claims[client] ? ": only the client id, which an ID token has too" : ""}`);
    settings.OAUTH_AUDIENCE = mine;
  }
  const sources = ["scope", "scp", "permissions", "roles"].filter((c) => c in claims);
  check(sources.length > 0, "token scopes", sources.length ? `in ${sources.join(", ")}` : "none found");
  const entra = /^https:\/\/(sts\.windows\.net|login\.microsoftonline\.com)\//.test(claims.iss ?? "");
  // Auth0 with RBAC: the API's permissions, while scope holds only OpenID Connect's own.
  const oidcOnly = String(claims.scope ?? "").split(" ").every((s) => ["", "openid", "profile", "email", "offline_access"].includes(s));
  if (entra) settings.OAUTH_SCOPE_CLAIMS = "scp,roles";
  else if (Array.isArray(claims.permissions) && oidcOnly) settings.OAUTH_SCOPE_CLAIMS = "permissions";
  if (entra) {
    const uri = auds.find((a) => a.startsWith("api://"));
    const app = (uri ?? `api://${auds[0] ?? "<application id>"}`).replace(/\/$/, "");
    settings.OAUTH_SCOPE_PREFIX = `${app}/`;
    // v1.0 tokens carry the App ID URI or the bare id, depending on how the client asked.
    if (uri && settings.OAUTH_AUDIENCE === uri) settings.OAUTH_AUDIENCE = `${uri},${uri.slice("api://".length)}`;
  }
  // Cognito names custom scopes <resource server>/<scope>, asked for and carried alike.
  const slashed = String(claims.scope ?? "").split(" ").find((s) => s.includes("/") && !s.includes("://"));
  if (/^https:\/\/cognito-idp\./.test(claims.iss ?? "") && slashed) settings.OAUTH_SCOPE_PREFIX = slashed.slice(0, slashed.lastIndexOf("/") + 1);
}

async function main(argv) {
  const opts = parseOptions(argv);
  const issuer = opts.issuer;
  if (!issuer) throw new Refusal("usage: make idp-check ISSUER=https://… [TOKEN=<a sample access token>] [RESOURCE=<MCP_RESOURCE>]");
  try {
    if (!["https:", "http:"].includes(new URL(issuer).protocol)) throw new Error();
  } catch {
    throw new Refusal(`ISSUER must be an http(s) URL, not ${JSON.stringify(issuer)}`);
  }
  const { url, doc } = await fetchMetadata(issuer);
  console.log(`metadata: ${url}`);
  const { checks, settings, authServer } = assess({ issuer, doc, token: opts.token || undefined, resource: opts.resource || undefined });
  for (const c of checks) console.log(`${c.ok ? "ok  " : "MISS"} ${c.name.padEnd(20)} ${c.detail}`);
  console.log("\nmKit settings (wrangler.jsonc vars; secrets with wrangler secret put):");
  for (const [k, v] of Object.entries(settings)) console.log(`  ${k}=${v}`);
  if (opts.token === undefined || opts.token === "") console.log("  (give TOKEN=<a sample access token> for typ, aud and scope settings)");
  if (authServer) {
    console.log("\nMCP clients cannot use this provider directly (see MISS above). Turn on mKit's own authorization server:");
    console.log("  MKIT_AUTH_SERVER=on, MKIT_WEB_CLIENT_ID / MKIT_WEB_CLIENT_SECRET = a web client at this provider");
    console.log("  (docs/configuration.md#bring-your-own-identity-provider-mkit-as-the-authorization-server)");
  }
}

await runMain(import.meta, main);
