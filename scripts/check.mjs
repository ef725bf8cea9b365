// `make check URL=https://… [TOKEN=…]`: the runbook's checks against any mKit deployment.
// One line per check (PASS/FAIL, what was seen, the probe's latency), then a summary; the exit
// status is 1 when anything failed, 2 on bad usage. Read-only: nothing is written anywhere.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { pathToFileURL } from "node:url";

const TIMEOUT_MS = Number(process.env.CHECK_TIMEOUT_MS ?? 10_000);
const ALGS = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA", "Ed25519"]);

const results = [];
function report(ok, name, detail, ms) {
  results.push(ok);
  const time = ms === undefined ? "" : ` (${ms.toFixed(0)} ms)`;
  console.log(`${ok ? "PASS" : "FAIL"} ${name.padEnd(22)} ${detail}${time}`);
}

/** fetch with a timeout; resolves to { res, body, json, ms } or { error, ms }. */
async function probe(url, init = {}) {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { redirect: "manual", ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = await res.text();
    let json;
    try { json = JSON.parse(body); } catch { json = undefined; }
    return { res, body, json, ms: performance.now() - t0 };
  } catch (e) {
    const cause = e.cause?.code ?? e.cause?.message ?? e.name;
    return { error: `${e.name === "TimeoutError" ? `no answer within ${TIMEOUT_MS} ms` : `unreachable (${cause})`}`, ms: performance.now() - t0 };
  }
}

const isUrl = (s) => { try { return ["https:", "http:"].includes(new URL(s).protocol); } catch { return false; } };

/** RFC 6750 / RFC 9728 challenge: scheme and auth-params. */
export function parseChallenge(header) {
  const m = /^Bearer(?:\s+(.*))?$/i.exec(header?.trim() ?? "");
  if (!m) return null;
  const params = {};
  for (const p of (m[1] ?? "").matchAll(/([a-z_]+)="([^"]*)"/gi)) params[p[1].toLowerCase()] = p[2];
  return params;
}

/** Why a JWK cannot verify access tokens, or null when it can. */
export function unusableKey(k) {
  if (k.d !== undefined || k.p !== undefined) return "contains private key material";
  if (k.use !== undefined && k.use !== "sig") return `use=${k.use}`;
  if (k.alg !== undefined && !ALGS.has(k.alg)) return `alg=${k.alg} is not allowed`;
  if (k.kty === "RSA") {
    const bits = Buffer.from(k.n ?? "", "base64url").length * 8;
    return bits >= 2048 && k.e ? null : `RSA modulus of ${bits} bits`;
  }
  if (k.kty === "EC") return k.crv === "P-256" && k.x && k.y ? null : `EC curve ${k.crv}`;
  if (k.kty === "OKP") return k.crv === "Ed25519" && k.x ? null : `OKP curve ${k.crv}`;
  return `kty=${k.kty}`;
}

async function checkHealth(base) {
  const p = await probe(`${base}/healthz`);
  if (p.error) return report(false, "healthz", p.error, p.ms);
  const h = p.json ?? {};
  report(p.res.status === 200 && h.status !== "fail", "healthz",
    `HTTP ${p.res.status} status=${h.status ?? "?"} version=${h.version ?? "?"} commit=${h.commit ?? "?"}`, p.ms);
  const checks = h.checks ?? {};
  const config = Object.entries(checks.config ?? {});
  const bad = config.filter(([, s]) => s !== "ok");
  report(config.length > 0 && bad.length === 0, "healthz.config",
    bad.length ? bad.map(([n, s]) => `${n}=${s}`).join(" ") : `${config.length} variables ok`);
  report(checks.db === "ok", "healthz.db", `db=${JSON.stringify(checks.db)}`);
  const age = checks.jwks_age_seconds === undefined ? "" : `, keys ${checks.jwks_age_seconds} s old`;
  const meaning = { stale: " (issuer unreachable: serving cached keys)", unreachable: " (no keys: every token is refused)",
    undefined: " (not checked: the configuration is invalid)" };
  report(checks.jwks === "ok", "healthz.jwks", `jwks=${checks.jwks ?? "absent"}${meaning[checks.jwks] ?? ""}${age}`);
  if (checks.introspection) {
    const i = checks.introspection;
    report(i.state === "ok", "healthz.introspection", `${i.endpoint}: ${i.state}${i.state === "ok" ? "" : " (opaque tokens get 503)"}`);
  }
  const billing = checks.billing ?? {};
  const last = billing.last_event_at ? `last event ${new Date(billing.last_event_at).toISOString()}` : "no event processed yet";
  report(billing.webhook_secret === "ok", "healthz.billing", `webhook_secret=${billing.webhook_secret ?? "?"}, ${last}`);
}

async function checkUnauthenticated(base) {
  const p = await probe(`${base}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25",
      capabilities: {}, clientInfo: { name: "mkit-check", version: "1" } } }),
  });
  if (p.error) return report(false, "mcp.unauthenticated", p.error, p.ms), null;
  const challenge = parseChallenge(p.res.headers.get("www-authenticate"));
  const ok = p.res.status === 401 && challenge && isUrl(challenge.resource_metadata);
  report(ok, "mcp.unauthenticated", `HTTP ${p.res.status}, WWW-Authenticate: ${p.res.headers.get("www-authenticate") ?? "(none)"}`, p.ms);
  return challenge?.resource_metadata ?? null;
}

async function checkMetadata(base, advertised) {
  const urls = [`${base}/.well-known/oauth-protected-resource/mcp`, `${base}/.well-known/oauth-protected-resource`];
  const docs = [];
  for (const url of urls) {
    const p = await probe(url);
    if (p.error) { report(false, "prm", `${url}: ${p.error}`, p.ms); continue; }
    const d = p.json ?? {};
    const problems = [];
    if (p.res.status !== 200) problems.push(`HTTP ${p.res.status}`);
    if (!isUrl(d.resource)) problems.push("resource is not a URL");
    if (!Array.isArray(d.authorization_servers) || !d.authorization_servers.length || !d.authorization_servers.every(isUrl)) {
      problems.push("authorization_servers is not a non-empty list of URLs");
    }
    report(problems.length === 0, "prm", `${new URL(url).pathname}: ${problems.join(", ") || `resource=${d.resource}`}`, p.ms);
    if (problems.length === 0) docs.push(d);
  }
  if (docs.length === 2) {
    const same = docs[0].resource === docs[1].resource
      && JSON.stringify(docs[0].authorization_servers) === JSON.stringify(docs[1].authorization_servers);
    const linked = advertised === null || urls.includes(advertised);
    report(same && linked, "prm.consistent", !same ? "the two documents disagree on resource or authorization_servers"
      : linked ? `both name ${docs[0].resource} and ${docs[0].authorization_servers.join(", ")}`
        : `the 401 challenge points at ${advertised}, not at this deployment's metadata`);
  }
  return docs[0]?.authorization_servers?.[0] ?? null;
}

async function checkIssuer(issuer, base) {
  if (!issuer) return report(false, "issuer.metadata", "no issuer named in the protected resource metadata");
  const u = new URL(issuer);
  const path = u.pathname === "/" ? "" : u.pathname.replace(/\/$/, "");
  const candidates = [`${u.origin}/.well-known/oauth-authorization-server${path}`, `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`];
  let meta;
  let last;
  for (const url of candidates) {
    last = await probe(url);
    if (!last.error && last.res.status === 200 && last.json) { meta = { url, doc: last.json, ms: last.ms }; break; }
  }
  if (!meta) return report(false, "issuer.metadata", `${issuer}: ${last.error ?? `HTTP ${last.res.status}`} for RFC 8414 and OIDC discovery`, last.ms);
  const issuerOk = meta.doc.issuer === issuer;
  report(issuerOk && isUrl(meta.doc.jwks_uri), "issuer.metadata",
    issuerOk ? `${meta.url} jwks_uri=${meta.doc.jwks_uri}` : `issuer ${JSON.stringify(meta.doc.issuer)} ≠ ${issuer} (tokens would fail the iss check)`, meta.ms);
  if (new URL(issuer).origin === new URL(base).origin) await checkAuthorizationServer(meta.doc);
  if (!isUrl(meta.doc.jwks_uri)) return;
  const p = await probe(meta.doc.jwks_uri);
  if (p.error) return report(false, "issuer.jwks", p.error, p.ms);
  const keys = Array.isArray(p.json?.keys) ? p.json.keys : [];
  const usable = keys.filter((k) => unusableKey(k) === null);
  const why = keys.map((k) => unusableKey(k)).filter(Boolean);
  report(p.res.status === 200 && usable.length > 0, "issuer.jwks",
    `HTTP ${p.res.status}, ${usable.length} usable of ${keys.length} keys${why.length ? ` (unusable: ${[...new Set(why)].join("; ")})` : ""}`, p.ms);
}

/** The deployment is its own authorization server (MKIT_AUTH_SERVER=on): what MCP clients need. */
async function checkAuthorizationServer(doc) {
  const pkce = Array.isArray(doc.code_challenge_methods_supported) && doc.code_challenge_methods_supported.includes("S256");
  report(pkce, "as.pkce", pkce ? "S256 advertised" : "code_challenge_methods_supported lacks S256: MCP clients refuse to proceed");
  if (!isUrl(doc.registration_endpoint)) {
    const cimd = doc.client_id_metadata_document_supported === true;
    return report(cimd, "as.registration", cimd ? "registration off; Client ID Metadata Documents only" : "no registration and no metadata documents: no client can register");
  }
  // A real registration (a public client named "mkit check"): it stays in D1 like any other.
  const p = await probe(doc.registration_endpoint, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "mkit check", redirect_uris: ["http://127.0.0.1/mkit-check/callback"], application_type: "native" }) });
  if (p.error) return report(false, "as.registration", p.error, p.ms);
  const ok = p.res.status === 201 && typeof p.json?.client_id === "string";
  report(ok, "as.registration", ok ? `registered ${p.json.client_id}` : `HTTP ${p.res.status} ${p.body.slice(0, 120)}`, p.ms);
}

async function checkWebhook(base) {
  const p = await probe(`${base}/stripe/webhook`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  if (p.error) return report(false, "webhook.unsigned", p.error, p.ms);
  report(p.res.status === 400 && p.json?.error === "signature_invalid", "webhook.unsigned", `HTTP ${p.res.status} ${p.body.slice(0, 120)}`, p.ms);
}

async function checkWithToken(base, token) {
  const client = new Client({ name: "mkit-check", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  let t0 = performance.now();
  try {
    await client.connect(transport, { timeout: TIMEOUT_MS });
    const v = client.getServerVersion();
    report(true, "mcp.initialize", `${v?.name ?? "?"} ${v?.version ?? "?"}, protocol ${transport.protocolVersion ?? "?"}`, performance.now() - t0);
    t0 = performance.now();
    const { tools } = await client.listTools(undefined, { timeout: TIMEOUT_MS });
    report(tools.length > 0, "mcp.tools/list", `${tools.length} tools: ${tools.map((t) => t.name).join(", ")}`, performance.now() - t0);
  } catch (e) {
    report(false, results.length && client.getServerVersion() ? "mcp.tools/list" : "mcp.initialize", e.message.slice(0, 200), performance.now() - t0);
  } finally {
    await client.close().catch(() => {});
  }
}

async function main() {
  const url = (process.argv[2] ?? process.env.URL ?? "").replace(/\/+$/, "");
  if (!isUrl(url)) {
    console.error("usage: make check URL=https://<deployment> [TOKEN=<access token>]");
    return 2;
  }
  console.log(`mkit check against ${url}${process.env.TOKEN ? " (with a token)" : ""}`);
  // A check that throws (an answer of a shape nobody expected) is a FAIL, and the others still run.
  const guarded = async (name, f) => {
    try {
      return await f();
    } catch (e) {
      report(false, name, `unexpected answer: ${e.message}`);
      return null;
    }
  };
  await guarded("healthz", () => checkHealth(url));
  const advertised = await guarded("mcp.unauthenticated", () => checkUnauthenticated(url));
  const issuer = await guarded("prm", () => checkMetadata(url, advertised));
  await guarded("issuer.metadata", () => checkIssuer(issuer, url));
  await guarded("webhook.unsigned", () => checkWebhook(url));
  if (process.env.TOKEN) await guarded("mcp.initialize", () => checkWithToken(url, process.env.TOKEN));
  const failed = results.filter((r) => !r).length;
  console.log(`\n${failed ? "FAILED" : "OK"}: ${results.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.exit(await main());
