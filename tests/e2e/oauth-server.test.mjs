// mKit as the authorization server (MKIT_AUTH_SERVER=on), end to end on workerd: the official MCP
// TypeScript SDK client runs its whole OAuth flow (discovery from the 401, then a Client ID
// Metadata Document or Dynamic Client Registration), a person signs in at the upstream OpenID
// provider (oidc-provider) and consents in Chromium, the client gets mKit's own tokens, calls a
// tool, refreshes and revokes. Then the attacks, each against the real endpoints.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError, refreshAuthorization, discoverAuthorizationServerMetadata } from "@modelcontextprotocol/sdk/client/auth.js";
import * as sdk2 from "@modelcontextprotocol/client";
import { execFile } from "node:child_process";
import { d1, startWorker, defaultVars, freePort, ROOT } from "./harness.mjs";
import { startIssuer, CLIENT_ID, CLIENT_SECRET } from "./issuer.mjs";
import { withBrowser, signInAtDevIssuer } from "./browser.mjs";

let worker;
let issuer;
let peer;
let origin;
let resource;
/** The test peer's documents: path → [status, body, delayMs]. */
const documents = new Map();
/** Every path the test peer was asked for. */
const peerSeen = [];

/** One local server for the client's side: its redirect URI, and its metadata documents. */
async function startPeer() {
  const port = await freePort();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    peerSeen.push(url.pathname);
    const doc = documents.get(url.pathname);
    if (doc) {
      const [status, body, delay = 0] = doc;
      if (delay) await new Promise((r) => setTimeout(r, delay));
      res.writeHead(status, { "content-type": "application/json" });
      return res.end(body);
    }
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>client callback</title><h1 id=\"done\">back in the client</h1>");
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  return { origin: `http://127.0.0.1:${port}`, redirect: `http://127.0.0.1:${port}/callback`,
    stop: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }) };
}

before(async () => {
  peer = await startPeer();
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  resource = `${origin}/mcp`;
  issuer = await startIssuer({ resource, redirectUris: [`${origin}/billing/callback`] });
  worker = await startWorker({ name: "oauth-server", script: "build-fixtures/index.js", port, testScheduled: true, vars: { ...defaultVars(),
    OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource, MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET,
    MKIT_AUTH_SERVER: "on", MKIT_TEST_CIMD_ORIGIN: peer.origin, MKIT_AUTH_CLAIMS: "email,iss,sub",
    // Users are known by their e-mail address here, not the provider's opaque sub.
    MKIT_AUTH_SUBJECT_CLAIM: "email",
    // Every call needs mcp, which every signed-in user may have (MKIT_AUTH_OPEN_SCOPES' default);
    // admin only the provider's mcp-admins (issue 28 item 1).
    OAUTH_REQUIRED_SCOPES: "mcp", MKIT_AUTH_SCOPE_RULES: "admin=groups=mcp-admins" } });
});
after(async () => {
  await worker?.stop();
  await issuer?.stop();
  await peer?.stop();
});

/**
 * An OAuthClientProvider kept in memory, as a client keeps its state. Its metadata states
 * `application_type: native`, as MCP 2026-07-28 (SEP-837) has clients do; `applicationType: null`
 * makes it a client written before, which states none.
 */
class Provider {
  constructor({ metadataUrl, applicationType = "native" } = {}) {
    this.clientMetadataUrl = metadataUrl;
    this.applicationType = applicationType;
    this.store = {};
  }
  get redirectUrl() { return peer.redirect; }
  get clientMetadata() {
    const stated = this.applicationType ? { application_type: this.applicationType } : {};
    return { client_name: "mKit e2e client", redirect_uris: [peer.redirect], grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"], token_endpoint_auth_method: "none", ...stated };
  }
  clientInformation() { return this.store.client; }
  saveClientInformation(c) { this.store.client = c; }
  tokens() { return this.store.tokens; }
  saveTokens(t) { this.store.tokens = t; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(v) { this.store.verifier = v; }
  codeVerifier() { return this.store.verifier; }
}

/**
 * Runs the SDK's flow up to the browser, then the person's part in Chromium; returns the
 * connected client. `kind`: what the consent page says of the client's stated application_type
 * (SEP-837); the SDK (1.32.2) registers the provider's metadata as it is. `lib`: the SDK's client
 * classes, 1.32.2's by default.
 */
async function connectAs(provider, user, kind = /It says it is a native application/, lib = { Client, StreamableHTTPClientTransport, UnauthorizedError }) {
  const first = new lib.StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
  await assert.rejects(new lib.Client({ name: "e2e", version: "1" }).connect(first), lib.UnauthorizedError);
  assert.ok(provider.authorizationUrl, "the SDK asked to open the authorization URL");
  const authorize = new URL(provider.authorizationUrl);
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${origin}/oauth/authorize`, "mKit is the authorization server");
  let landed;
  await withBrowser(async (page) => {
    await page.goto(authorize.href);
    await signInAtDevIssuer(page, user);
    await page.locator("h1").waitFor();
    assert.match(await page.locator("h1").innerText(), /^Allow mKit e2e client to use /);
    assert.match(await page.locator("body").innerText(), /answer goes to 127\.0\.0\.1[\s\S]*a program on this device/);
    assert.match(await page.locator("body").innerText(), kind);
    await page.locator('button[value="allow"]').click();
    await page.locator("#done").waitFor().catch(async (e) => {
      throw new Error(`${e.message}\nat ${page.url()}: ${await page.locator("body").innerText().catch(() => "")}`);
    });
    landed = new URL(page.url());
  });
  assert.equal(`${landed.origin}${landed.pathname}`, peer.redirect);
  assert.equal(landed.searchParams.get("iss"), origin, "RFC 9207 iss");
  assert.equal(landed.searchParams.get("state"), authorize.searchParams.get("state"));
  // 2.x takes the callback's parameters and checks their RFC 9207 iss itself; 1.32.2 takes the code.
  await first.finishAuth(lib === sdk2 ? landed.searchParams : landed.searchParams.get("code"));
  const client = new lib.Client({ name: "e2e", version: "1" });
  await client.connect(new lib.StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }));
  return client;
}

test("metadata: PRM names mKit, RFC 8414 advertises PKCE, CIMD and registration; healthz shows the mode", async () => {
  const prm = await (await fetch(`${origin}/.well-known/oauth-protected-resource/mcp`)).json();
  assert.deepEqual(prm.authorization_servers, [origin]);
  const meta = await discoverAuthorizationServerMetadata(origin);
  assert.equal(meta.issuer, origin);
  assert.deepEqual(meta.code_challenge_methods_supported, ["S256"]);
  assert.equal(meta.client_id_metadata_document_supported, true);
  assert.equal(meta.registration_endpoint, `${origin}/oauth/register`);
  const jwks = await (await fetch(meta.jwks_uri)).json();
  assert.equal(jwks.keys[0].alg, "ES256");
  assert.ok(!("d" in jwks.keys[0]), "public keys only");
  const health = await (await fetch(`${origin}/healthz`)).json();
  assert.deepEqual(health.checks.auth, { mode: "authorization_server", registration: "on", client_credentials: "on",
    deprecated: ["dynamic_client_registration: deprecated by MCP 2026-07-28 in favour of Client ID Metadata Documents; " +
      "MKIT_AUTH_REGISTRATION=off turns it off"] });

  const check = await new Promise((ok) => execFile("make", ["-s", "check", `URL=${origin}`], { cwd: ROOT },
    (e, stdout, stderr) => ok({ code: e?.code ?? 0, out: stdout + stderr })));
  assert.equal(check.code, 0, check.out);
  for (const name of ["issuer.metadata", "issuer.jwks", "as.pkce", "as.registration"]) {
    assert.match(check.out, new RegExp(`^PASS ${name.replace(".", "\\.")} `, "m"), name);
  }
  assert.match(check.out, /as\.registration\s+registered mkit_/);
});

test("the SDK client connects through Dynamic Client Registration, calls a tool, refreshes and revokes", async () => {
  const provider = new Provider();
  const client = await connectAs(provider, "alice");
  assert.match(provider.store.client.client_id, /^mkit_c_/, "registered, never with a machine client's prefix");
  const [row] = await d1(worker, `SELECT granted_at FROM oauth_clients WHERE client_id = '${provider.store.client.client_id}'`);
  assert.ok(row.granted_at > 0, "its first code marks the registration granted (kept from the sweep)");
  const who = await client.callTool({ name: "whoami", arguments: {} });
  assert.equal(who.structuredContent.sub, "alice@example.test", "the subject is the configured upstream claim");
  const claims = JSON.parse(Buffer.from(provider.store.tokens.access_token.split(".")[1], "base64url"));
  assert.equal(claims.email, "alice@example.test", "MKIT_AUTH_CLAIMS carries the upstream e-mail");
  assert.equal(who.structuredContent.claims.email, "alice@example.test", "and tools read it (OAUTH_CLAIMS defaults to MKIT_AUTH_CLAIMS)");
  assert.deepEqual([claims.iss, claims.sub, claims.aud], [origin, "alice@example.test", resource], "reserved claims are mKit's own");
  assert.equal(who.structuredContent.client_id, provider.store.client.client_id);
  await client.close();

  const meta = await discoverAuthorizationServerMetadata(origin);
  const refresh = (refreshToken) => refreshAuthorization(origin, { metadata: meta, clientInformation: provider.store.client, refreshToken, resource: new URL(resource) });
  const first = provider.store.tokens.refresh_token;
  const second = await refresh(first);
  assert.ok(second.access_token && second.refresh_token && second.refresh_token !== first, "rotated");
  const again = await fetch(`${origin}/mcp`, { method: "POST", headers: { authorization: `Bearer ${second.access_token}`,
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }) });
  assert.equal(again.status, 200, "the refreshed access token works");

  const third = await refresh(second.refresh_token);
  const revoked = await fetch(`${origin}/oauth/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: third.refresh_token, client_id: provider.store.client.client_id }) });
  assert.equal(revoked.status, 200);
  await assert.rejects(refresh(third.refresh_token), /invalid_grant|revoked/i, "a revoked refresh token is refused");
});

test("the SDK client connects with a Client ID Metadata Document", async () => {
  const url = "https://client.example.test/oauth/client.json";
  documents.set("/oauth/client.json", [200, JSON.stringify({ client_id: url, client_name: "mKit e2e client",
    redirect_uris: [peer.redirect], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
    token_endpoint_auth_method: "none", application_type: "native" })]);
  const provider = new Provider({ metadataUrl: url });
  const client = await connectAs(provider, "carol", /It says it is a native application/);
  assert.equal(provider.store.client.client_id, url, "no registration: the URL is the client id");
  const who = await client.callTool({ name: "whoami", arguments: {} });
  assert.deepEqual([who.structuredContent.sub, who.structuredContent.client_id], ["carol@example.test", url]);
  await client.close();
});

// ---- attacks --------------------------------------------------------------------------------

const register = async (redirectUris = [peer.redirect]) => (await fetch(`${origin}/oauth/register`, { method: "POST",
  headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: redirectUris, client_name: "attacker", grant_types: ["authorization_code", "refresh_token"],
    application_type: "native" }) })).json();
const authorizeUrl = (params) => `${origin}/oauth/authorize?${new URLSearchParams({ response_type: "code", redirect_uri: peer.redirect,
  code_challenge: createHash("sha256").update("v".repeat(43)).digest("base64url"), code_challenge_method: "S256", state: "st", resource, ...params })}`;
const get = (url) => fetch(url, { redirect: "manual" });
const token = (params) => fetch(`${origin}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(params) }).then(async (r) => ({ status: r.status, body: await r.json() }));

test("authorize never redirects on a request error: an unregistered or look-alike URI, or any error before sign-in (issue 28)", async () => {
  const { client_id } = await register();
  for (const redirect_uri of [`${peer.redirect}/../evil`, "https://evil.example.com/callback", `${peer.redirect}.evil.example.com`,
    `http://127.0.0.1@evil.example.com/callback`, `${peer.redirect}?next=https://evil.example.com`]) {
    const r = await get(authorizeUrl({ client_id, redirect_uri }));
    assert.equal(r.status, 400, redirect_uri);
    assert.equal(r.headers.get("location"), null, `no redirect to ${redirect_uri}`);
  }
  // An attacker's own registered URI: errors before anyone signed in would bounce visitors there.
  const { client_id: theirs } = await register(["https://evil.example.com/callback"]);
  for (const [params, says] of [[{ response_type: "x" }, /response_type must be code/], [{ code_challenge_method: "plain" }, /S256/],
    [{ code_challenge: "" }, /code_challenge/], [{ resource: "https://other.example.com/mcp" }, /issues tokens only for/]]) {
    for (const id of [client_id, theirs]) {
      const redirect_uri = id === theirs ? "https://evil.example.com/callback" : peer.redirect;
      const r = await get(authorizeUrl({ client_id: id, redirect_uri, ...params }));
      assert.deepEqual([r.status, r.headers.get("location")], [400, null], `${JSON.stringify(params)}: a page, no redirect`);
      assert.match(await r.text(), says);
    }
  }
  assert.equal((await get(authorizeUrl({ client_id: "mkit_never_registered" }))).status, 400);
});

test("a client name with invisible or direction-changing characters is refused at registration (issue 28)", async () => {
  for (const client_name of ["Claude\u202Eedoc lautsiV", "Cla\u200Bude", "\u2066Claude\u2069"]) {
    const r = await fetch(`${origin}/oauth/register`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [peer.redirect], client_name, application_type: "native" }) });
    assert.equal(r.status, 400, JSON.stringify(client_name));
    const refused = await r.json();
    assert.equal(refused.error, "invalid_client_metadata");
    assert.match(refused.error_description, /client_name/, "refused for its name");
  }
});

test("metadata documents on private addresses, too large or too slow are refused", async () => {
  assert.equal((await get(authorizeUrl({ client_id: "https://127.0.0.1/oauth/client.json" }))).status, 400);
  assert.equal((await get(authorizeUrl({ client_id: "https://169.254.169.254/latest/meta-data" }))).status, 400);
  documents.set("/huge.json", [200, JSON.stringify({ client_id: "https://client.example.test/huge.json", client_name: "x".repeat(9000), redirect_uris: [peer.redirect] })]);
  const huge = await get(authorizeUrl({ client_id: "https://client.example.test/huge.json" }));
  assert.equal(huge.status, 400);
  assert.match(await huge.text(), /fetch_too_large/);
  documents.set("/slow.json", [200, "{}", 8000]);
  const t0 = Date.now();
  const slow = await get(authorizeUrl({ client_id: "https://client.example.test/slow.json" }));
  assert.equal(slow.status, 400);
  assert.ok(Date.now() - t0 < 7500, "the fetch deadline (5 s) ends the wait");
  assert.match(await slow.text(), /fetch_timeout/);
  documents.set("/liar.json", [200, JSON.stringify({ client_id: "https://client.example.test/other.json", client_name: "liar", redirect_uris: [peer.redirect] })]);
  assert.equal((await get(authorizeUrl({ client_id: "https://client.example.test/liar.json" }))).status, 400);
});

test("a metadata document's host is judged as fetch reads it: 0x7f.1, 0177.0.0.1, localhost. are refused, never fetched (#28 item 4)", async () => {
  // This stack sends every metadata-document fetch to the peer, so a fetch would show there.
  for (const [i, host] of ["0x7f.1", "0177.0.0.1", "localhost.", "0x7f000001"].entries()) {
    const path = `/spelled-${i}.json`;
    const client_id = `https://${host}${path}`;
    documents.set(path, [200, JSON.stringify({ client_id, client_name: "spelled", redirect_uris: [peer.redirect] })]);
    const r = await get(authorizeUrl({ client_id }));
    assert.equal(r.status, 400, client_id);
    // Refused as the host fetch would reach: not public, or written otherwise than 127.0.0.1.
    assert.match(await r.text(), /public host|that is &quot;https:\/\/127\.0\.0\.1\//, client_id);
    assert.ok(!peerSeen.includes(path), `${client_id} was fetched`);
  }
  // A deploy-like stack (the release build, no test origin): a fetch would connect to 127.0.0.1.
  const connections = [];
  const listener = createTcpServer((s) => { connections.push(s.remotePort); s.destroy(); });
  const port = await freePort();
  await new Promise((ok) => listener.listen(port, "127.0.0.1", ok));
  const deployed = await startWorker({ name: "oauth-cimd-ssrf", vars: { ...defaultVars(), OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource,
    MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET, MKIT_AUTH_SERVER: "on" } });
  try {
    for (const host of ["0x7f.1", "0177.0.0.1", "localhost.", "127.1"]) {
      const client_id = `https://${host}:${port}/c.json`;
      const r = await get(`${deployed.url}/oauth/authorize?${new URLSearchParams({ client_id })}`);
      assert.equal(r.status, 400, client_id);
      assert.match(await r.text(), /Unknown client/, client_id);
    }
    assert.deepEqual(connections, [], "the worker never connected to the loopback listener");
  } finally {
    await deployed.stop();
    await new Promise((ok) => listener.close(ok));
  }
});

test("consent cannot be forged: no session, another origin, or a request sealed for someone else", async () => {
  const form = { request: "x.y", decision: "allow" };
  const post = (headers) => fetch(`${origin}/oauth/consent`, { method: "POST", redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(form) });
  assert.equal((await post({})).status, 403, "no session cookie");
  assert.equal((await post({ origin: "https://evil.example.com" })).status, 403, "another origin");
  const r = await post({ origin });
  assert.equal(r.status, 403);
  assert.equal(r.headers.get("location"), null);

  // Bob's consent form, posted from Mallory's own signed-in browser: refused, nothing issued.
  const { client_id } = await register();
  let bobs;
  await withBrowser(async (page) => {
    await page.goto(authorizeUrl({ client_id }));
    await signInAtDevIssuer(page, "bob");
    bobs = await page.locator('input[name="request"]').getAttribute("value");
  });
  await withBrowser(async (page) => {
    await page.goto(authorizeUrl({ client_id }));
    await signInAtDevIssuer(page, "mallory");
    await page.locator('input[name="request"]').evaluate((el, v) => { el.value = v; }, bobs);
    await page.locator('button[value="allow"]').click();
    await page.locator("h1").filter({ hasText: "This consent is not valid" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/oauth/consent", "no redirect to the client");
  });
});

test("the session cookie is __Host- prefixed, so a sibling subdomain cannot plant one (issue 28)", async () => {
  const { client_id } = await register();
  let session;
  await withBrowser(async (page) => {
    await page.goto(authorizeUrl({ client_id }));
    await signInAtDevIssuer(page, "frank");
    await page.locator('button[value="allow"]').waitFor();
    const cookies = await page.context().cookies(origin);
    session = cookies.find((c) => c.name === "__Host-mkit_session");
    assert.ok(session, `the session cookie is prefixed: ${cookies.map((c) => c.name)}`);
    assert.deepEqual([session.path, session.secure, session.httpOnly, session.sameSite], ["/", true, true, "Lax"]);
    assert.ok(!cookies.some((c) => c.name.startsWith("mkit_")), "no unprefixed cookie");
  });
  // The same sealed value under the unprefixed name (what a sibling subdomain could set) is no session.
  const r = await fetch(authorizeUrl({ client_id }), { redirect: "manual", headers: { cookie: `mkit_session=${session.value}` } });
  assert.equal(r.status, 303);
  assert.notEqual(new URL(r.headers.get("location"), origin).origin, origin, "sent to sign in at the provider, not consent");
  const ok = await fetch(authorizeUrl({ client_id }), { redirect: "manual", headers: { cookie: `__Host-mkit_session=${session.value}` } });
  assert.equal(ok.status, 200, "the prefixed cookie is the session");
});

/** A code for `client_id` from a person's sign-in and consent in Chromium, with PKCE `verifier`. */
async function codeInBrowser(user, client_id, verifier, extra = {}) {
  let landed;
  await withBrowser(async (page) => {
    await page.goto(authorizeUrl({ client_id, code_challenge: createHash("sha256").update(verifier).digest("base64url"), ...extra }));
    await signInAtDevIssuer(page, user);
    await page.locator('button[value="allow"]').click();
    await page.locator("#done").waitFor();
    landed = new URL(page.url());
  });
  return landed.searchParams.get("code");
}

test("a registration's stated application_type is kept and shown on the consent page (SEP-837, #31)", async () => {
  const r = await fetch(`${origin}/oauth/register`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [peer.redirect], client_name: "native cli", application_type: "native" }) });
  const registered = await r.json();
  assert.equal(registered.application_type, "native");
  await withBrowser(async (page) => {
    await page.goto(authorizeUrl({ client_id: registered.client_id }));
    await signInAtDevIssuer(page, "gina");
    await page.locator('button[value="deny"]').waitFor();
    assert.match(await page.locator("body").innerText(), /It says it is a native application \(desktop, command line or mobile\)/);
  });
});

test("MCP 2026-07-28 registration states application_type: a client that states none is told what to state; SDK 2.4.0 states it (#31)", async () => {
  // A client written before 2026-07-28 on SDK 1.32.2, whose metadata states no type.
  const old = new Provider({ applicationType: null });
  const first = new StreamableHTTPClientTransport(new URL(resource), { authProvider: old });
  await assert.rejects(new Client({ name: "e2e", version: "1" }).connect(first),
    /application_type is required \(MCP 2026-07-28, SEP-837\): state "native"/, "the SDK surfaces the reason");
  assert.equal(old.store.client, undefined, "nothing registered");
  const raw = await fetch(`${origin}/oauth/register`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [peer.redirect], client_name: "unstated" }) });
  assert.equal(raw.status, 400);
  assert.equal((await raw.json()).error, "invalid_client_metadata", "RFC 7591 §3.2.2");

  // The same provider on the current SDK (@modelcontextprotocol/client 2.4.0): it derives native
  // from the loopback redirect URI and signs in.
  const current = new Provider({ applicationType: null });
  const client = await connectAs(current, "hana", /It says it is a native application/, sdk2);
  const [row] = await d1(worker, `SELECT application_type FROM oauth_clients WHERE client_id = '${current.store.client.client_id}'`);
  assert.equal(row.application_type, "native");
  const who = await client.callTool({ name: "whoami", arguments: {} });
  assert.equal(who.structuredContent.sub, "hana@example.test");
  await client.close();
});

test("MKIT_AUTH_REGISTRATION=legacy also answers the clients that state no application_type; healthz names the setting", async () => {
  const legacy = await startWorker({ name: "oauth-legacy", script: "build-fixtures/index.js", vars: { ...defaultVars(),
    OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource, MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET,
    MKIT_AUTH_SERVER: "on", MKIT_AUTH_REGISTRATION: "legacy" } });
  try {
    const register = (body) => fetch(`${legacy.url}/oauth/register`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [peer.redirect], client_name: "old client", ...body }) });
    const unstated = await register({});
    assert.equal(unstated.status, 201);
    assert.equal((await unstated.json()).application_type, undefined, "unstated, and said so on the consent page");
    const misfit = await register({ application_type: "web" });
    assert.equal((await misfit.json()).error, "invalid_redirect_uri", "a stated type is still held to the redirect URIs");
    const health = await (await fetch(`${legacy.url}/healthz`)).json();
    assert.equal(health.checks.auth.registration, "legacy");
  } finally {
    await legacy.stop();
  }
  const strict = await (await fetch(`${origin}/healthz`)).json();
  assert.equal(strict.checks.auth.registration, "on", "on by default");
});

test("an unverified e-mail address is no identity: the sign-in is refused and nothing is issued (issue 28)", async () => {
  const { client_id } = await register();
  await withBrowser(async (page) => {
    await page.goto(authorizeUrl({ client_id, code_challenge: createHash("sha256").update("v".repeat(43)).digest("base64url") }));
    await signInAtDevIssuer(page, "unverified-mallory");
    await page.locator("h1").filter({ hasText: "Sign-in failed" }).waitFor();
    assert.match(await page.locator("body").innerText(), /not verified your e-mail address/);
    assert.equal(await page.locator('button[value="allow"]').count(), 0, "no consent page");
  });
  const line = worker.requestLogs().filter((l) => l.error === "signin_email_unverified");
  assert.equal(line.length, 1, "the refusal is logged with its reason");
});

test("a scope is granted only to whom a rule gives it: the admin tool is hidden and refused for everyone else (issue 28)", async () => {
  const { client_id } = await register();
  const rpc = (accessToken, method, params) => fetch(resource, { method: "POST", headers: { authorization: `Bearer ${accessToken}`,
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const signIn = async (user) => {
    const verifier = randomBytes(32).toString("base64url");
    const code = await codeInBrowser(user, client_id, verifier, { scope: "mcp admin" });
    const t = await token({ grant_type: "authorization_code", code, client_id, redirect_uri: peer.redirect, code_verifier: verifier, resource });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return t.body;
  };
  const names = async (accessToken) => (await (await rpc(accessToken, "tools/list", {})).json()).result.tools.map((t) => t.name);
  // dave is staff only: he asks for admin by name and is not given it.
  const dave = await signIn("dave");
  assert.equal(dave.scope, "mcp", "asked for mcp admin, granted only the open scope");
  assert.ok(!(await names(dave.access_token)).includes("test_scoped_admin"), "hidden from tools/list");
  const refused = await rpc(dave.access_token, "tools/call", { name: "test_scoped_admin", arguments: {} });
  assert.equal(refused.status, 403, "calling it is refused");
  assert.match(refused.headers.get("www-authenticate") ?? "", /insufficient_scope/);
  const wider = await token({ grant_type: "refresh_token", refresh_token: dave.refresh_token, client_id, scope: "mcp admin" });
  assert.notEqual(wider.body.scope, "mcp admin", "a refresh cannot widen it");
  // admin-ann is in mcp-admins at the provider: the same request is granted.
  const ann = await signIn("admin-ann");
  assert.deepEqual(ann.scope.split(" ").sort(), ["admin", "mcp"]);
  assert.ok((await names(ann.access_token)).includes("test_scoped_admin"));
  assert.equal((await rpc(ann.access_token, "tools/call", { name: "test_scoped_admin", arguments: {} })).status, 200);
});

test("token endpoint: wrong verifier, code reuse (revokes), refresh reuse (revokes the family)", async () => {
  const { client_id } = await register();
  const verifier = randomBytes(32).toString("base64url");
  const code = await codeInBrowser("erin", client_id, verifier);
  const exchange = (v) => token({ grant_type: "authorization_code", code, client_id, redirect_uri: peer.redirect, code_verifier: v, resource });
  const wrong = await exchange(randomBytes(32).toString("base64url"));
  assert.deepEqual([wrong.status, wrong.body.error], [400, "invalid_grant"], "wrong PKCE verifier");
  assert.equal((await exchange(undefined)).body.error, "invalid_grant", "missing verifier");
  const ok = await exchange(verifier);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual([ok.body.token_type, ok.body.expires_in], ["Bearer", 900]);
  const reuse = await exchange(verifier);
  assert.deepEqual([reuse.status, reuse.body.error], [400, "invalid_grant"], "a code works once");
  assert.ok(ok.body.refresh_token, "a client registered for refresh_token gets one");
  const afterReuse = await token({ grant_type: "refresh_token", refresh_token: ok.body.refresh_token, client_id });
  assert.equal(afterReuse.body.error, "invalid_grant", "the replay revoked what the first redemption issued");

  const provider = new Provider();
  const client = await connectAs(provider, "dave");
  await client.close();
  const id = provider.store.client.client_id;
  const meta = await discoverAuthorizationServerMetadata(origin);
  const refresh = (refreshToken) => refreshAuthorization(origin, { metadata: meta, clientInformation: provider.store.client, refreshToken, resource: new URL(resource) });
  const first = provider.store.tokens.refresh_token;
  const next = await refresh(first);
  await assert.rejects(refresh(first), /invalid_grant|already used/i, "a rotated token is refused");
  await assert.rejects(refresh(next.refresh_token), /invalid_grant|revoked/i, "and its whole family is revoked");

  const bad = await token({ grant_type: "authorization_code", code: randomBytes(32).toString("base64url"), client_id: id,
    redirect_uri: peer.redirect, code_verifier: "v".repeat(43) });
  assert.deepEqual([bad.status, bad.body.error], [400, "invalid_grant"]);
  const noGrant = await token({ client_id: id });
  assert.deepEqual([noGrant.status, noGrant.body.error], [400, "invalid_request"]);
  const implicit = await token({ grant_type: "password", client_id: id });
  assert.equal(implicit.body.error, "unsupported_grant_type");
  const huge = await fetch(`${origin}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a".repeat(20000) });
  assert.equal(huge.status, 400);
});

test("two installations of one CIMD client are two grants: revoking one's leaves the other refreshing (#28 item 9)", async () => {
  // One metadata document, so one client_id, on two devices: each installation its own redirect URI.
  const client_id = "https://client.example.test/oauth/installed.json";
  const [laptop, desktop] = [`${peer.origin}/laptop/callback`, `${peer.origin}/desktop/callback`];
  documents.set("/oauth/installed.json", [200, JSON.stringify({ client_id, client_name: "mKit e2e client",
    redirect_uris: [laptop, desktop], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
    token_endpoint_auth_method: "none" })]);
  const install = async (redirect_uri) => {
    const verifier = randomBytes(32).toString("base64url");
    const code = await codeInBrowser("grace", client_id, verifier, { redirect_uri });
    const t = await token({ grant_type: "authorization_code", code, client_id, redirect_uri, code_verifier: verifier, resource });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.ok(t.body.refresh_token, redirect_uri);
    return t.body;
  };
  const onLaptop = await install(laptop);
  const onDesktop = await install(desktop);
  const grants = await d1(worker, `SELECT redirect_uri, sub FROM oauth_families WHERE client_id = '${client_id}'`);
  assert.deepEqual(grants.map((g) => `${g.sub} ${g.redirect_uri}`).sort(),
    [`grace@example.test ${desktop}`, `grace@example.test ${laptop}`], "each grant records its installation");
  const revoked = await fetch(`${origin}/oauth/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: onLaptop.refresh_token, client_id }) });
  assert.equal(revoked.status, 200);
  const laptopAgain = await token({ grant_type: "refresh_token", refresh_token: onLaptop.refresh_token, client_id });
  assert.equal(laptopAgain.body.error, "invalid_grant", "the revoked installation is signed out");
  const desktopAgain = await token({ grant_type: "refresh_token", refresh_token: onDesktop.refresh_token, client_id });
  assert.equal(desktopAgain.status, 200, `the other installation keeps refreshing: ${JSON.stringify(desktopAgain.body)}`);
});

test("a sign-in refreshes for MKIT_AUTH_SIGNIN_DAYS (default 7) from when it began, then the client must sign in again (#28 item 12)", async () => {
  // Sign-ins backdated in D1 (no clock to move): one began 7 days and a minute ago, one 6 days ago.
  // Both refresh tokens are fresh, as after a recent rotation: rotating never restarts a sign-in.
  const now = Math.floor(Date.now() / 1000);
  const { client_id } = await register();
  const grant = JSON.stringify({ client_id, sub: "ivan@example.test", scope: "mcp", resource, claims: {} });
  const secret = (name) => `${name}-${randomBytes(8).toString("hex")}`;
  const [stale, recent] = [secret("stale"), secret("recent")];
  const hash = (s) => createHash("sha256").update(s).digest("hex");
  for (const [family, rt, began] of [[`f-${stale}`, stale, now - 7 * 86400 - 60], [`f-${recent}`, recent, now - 6 * 86400]]) {
    await d1(worker, `INSERT INTO oauth_families (family, client_id, redirect_uri, sub, signed_in_at, expires_at)
      VALUES ('${family}', '${client_id}', '${peer.redirect}', 'ivan@example.test', ${began}, ${began + 90 * 86400})`);
    await d1(worker, `INSERT INTO oauth_refresh (token_hash, family, grant_json, expires_at)
      VALUES ('${hash(rt)}', '${family}', '${grant}', ${now + 30 * 86400})`);
  }
  const old = await token({ grant_type: "refresh_token", refresh_token: stale, client_id });
  assert.deepEqual([old.status, old.body.error], [400, "invalid_grant"]);
  assert.match(old.body.error_description, /run the authorization flow again/);
  const fresh = await token({ grant_type: "refresh_token", refresh_token: recent, client_id });
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
  const next = await token({ grant_type: "refresh_token", refresh_token: fresh.body.refresh_token, client_id });
  assert.equal(next.status, 200, "the rotated token refreshes too, within the same sign-in's age");
});

test("the cron sweeps expired codes and sign-ins, and keeps live ones", async () => {
  const now = Math.floor(Date.now() / 1000);
  await d1(worker, `INSERT INTO oauth_codes (code_hash, grant_json, redirect_uri, code_challenge, family, expires_at) VALUES
    ('sweep-old', '{}', 'u', 'c', 'f-old', ${now - 7200}), ('sweep-live', '{}', 'u', 'c', 'f-live', ${now + 300})`);
  await d1(worker, `INSERT INTO oauth_families (family, client_id, sub, expires_at) VALUES ('f-gone', 'c', 's', ${now - 1}), ('f-kept', 'c', 's', ${now + 3600})`);
  await d1(worker, `INSERT INTO oauth_refresh (token_hash, family, grant_json, expires_at) VALUES ('rt-gone', 'f-gone', '{}', ${now + 3600}), ('rt-kept', 'f-kept', '{}', ${now + 3600})`);
  // Registrations: one never granted a code for over a day goes; a granted one and a young one stay.
  await d1(worker, `INSERT INTO oauth_clients (client_id, redirect_uris, refresh, created_at, granted_at) VALUES
    ('sweep-pending-old', '[]', 0, ${now - 86400 - 60}, NULL), ('sweep-granted-old', '[]', 0, ${now - 86400 - 60}, ${now - 86400}),
    ('sweep-pending-young', '[]', 0, ${now - 3600}, NULL)`);
  const r = await fetch(`${origin}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
  assert.equal(r.status, 200, await r.text());
  const codes = (await d1(worker, "SELECT code_hash FROM oauth_codes WHERE code_hash LIKE 'sweep-%'")).map((x) => x.code_hash);
  assert.deepEqual(codes, ["sweep-live"]);
  const families = (await d1(worker, "SELECT family FROM oauth_families WHERE family IN ('f-gone', 'f-kept')")).map((x) => x.family);
  assert.deepEqual(families, ["f-kept"]);
  const tokens = (await d1(worker, "SELECT token_hash FROM oauth_refresh WHERE token_hash IN ('rt-gone', 'rt-kept')")).map((x) => x.token_hash);
  assert.deepEqual(tokens, ["rt-kept"]);
  const clients = (await d1(worker, "SELECT client_id FROM oauth_clients WHERE client_id LIKE 'sweep-%' ORDER BY client_id")).map((x) => x.client_id);
  assert.deepEqual(clients, ["sweep-granted-old", "sweep-pending-young"]);
  assert.match(readFileSync(worker.logPath, "utf8"), /"event":"sweep","changed":[1-9]/);
});

test("signing keys rotate with MKIT_SECRET: a listed old key still validates, a removed one is refused; registration can be off", async () => {
  const provider = new Provider();
  const client = await connectAs(provider, "frank");
  await client.close();
  const token = provider.store.tokens.access_token;
  const call = (base) => fetch(`${base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${token}`,
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }) });
  const NEW = "rotated-deployment-secret-0123456789abcdef";
  // The same deployment (same MCP_RESOURCE, so the same issuer and audience) after a rotation:
  // first with the new secret ahead of the old one, then with the old one removed.
  const as = (secret, extra = {}) => startWorker({ name: "oauth-rotated", script: "build-fixtures/index.js", vars: { ...defaultVars(),
    OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource, MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET,
    MKIT_AUTH_SERVER: "on", MKIT_SECRET: secret, ...extra } });
  const rotating = await as(`${NEW},${defaultVars().MKIT_SECRET}`, { MKIT_AUTH_REGISTRATION: "off" });
  try {
    assert.equal((await call(rotating.url)).status, 200, "the old key is still published while listed");
    const keys = (await (await fetch(`${rotating.url}/oauth/jwks.json`)).json()).keys;
    assert.equal(keys.length, 2);
    const meta = await (await fetch(`${rotating.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(meta.registration_endpoint, undefined, "registration off");
    assert.equal(meta.client_id_metadata_document_supported, true);
    assert.equal((await fetch(`${rotating.url}/oauth/register`, { method: "POST", body: "{}" })).status, 404);
  } finally {
    await rotating.stop();
  }
  const rotated = await as(NEW);
  try {
    const r = await call(rotated.url);
    assert.equal(r.status, 401, "a token signed by a removed key is refused");
    assert.match(r.headers.get("www-authenticate") ?? "", /invalid_token/);
  } finally {
    await rotated.stop();
  }
});
