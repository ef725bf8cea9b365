// Opaque access tokens on workerd: an oidc-provider issuing opaque tokens, mKit checking them at
// its RFC 7662 introspection endpoint through a recording proxy that can also stall, fail or
// answer nonsense. What mKit sends is compared with openid-client's own introspection request.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import * as oidc from "openid-client";
import { startStack } from "./stack.mjs";
import { freePort } from "./harness.mjs";
import { INTROSPECTOR_ID, INTROSPECTOR_SECRET } from "./issuer.mjs";

/** A loopback proxy in front of the issuer: records every request; `mode` pass, hang, 500 or garbage. */
async function startRecorder() {
  const port = await freePort();
  const state = { target: null, mode: "pass", requests: [] };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString("utf8");
    state.requests.push({ method: req.method, path: req.url, headers: req.headers, body });
    if (!state.target) return res.writeHead(503).end(); // the worker's startup probe, before the issuer is wired
    if (state.mode === "hang") return; // never answers: the worker's deadline must end it
    if (state.mode === "500") return res.writeHead(500, { "content-type": "application/json" }).end('{"error":"server_error"}');
    if (state.mode === "garbage") return res.writeHead(200, { "content-type": "application/json" }).end("<html>oops");
    const headers = { "content-type": req.headers["content-type"], authorization: req.headers.authorization, accept: "application/json" };
    const upstream = await fetch(new URL(req.url.slice(1), state.target), { method: req.method, headers, body });
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  return {
    state,
    url: `http://127.0.0.1:${port}/`,
    stop: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}

let stack;
let proxy;
before(async () => {
  proxy = await startRecorder();
  stack = await startStack({
    name: "introspection",
    issuerOptions: { opaque: true },
    vars: {
      OAUTH_INTROSPECTION_URL: `${proxy.url}token/introspection`,
      OAUTH_INTROSPECTION_CLIENT_ID: INTROSPECTOR_ID,
      OAUTH_INTROSPECTION_CLIENT_SECRET: INTROSPECTOR_SECRET,
      OAUTH_CLAIMS: "issued=iat,client=client_id",
    },
  });
  proxy.state.target = stack.issuer.url;
});
after(async () => {
  await stack?.stop();
  await proxy?.stop();
});

const whoami = (token) => fetch(`${stack.worker.url}/mcp`, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-11-25",
    authorization: `Bearer ${token}` },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } }),
});

/** Requests the proxy saw for `token`. */
const askedAbout = (token) => proxy.state.requests.filter((r) => new URLSearchParams(r.body).get("token") === token);

test("an opaque user token is introspected, accepted, and its claims reach tools", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "opal", scope: "openid mcp tools:read" });
  assert.ok(!token.includes("."), "the issuer's access tokens are opaque");
  const res = await whoami(token);
  assert.equal(res.status, 200);
  const me = (await res.json()).result.structuredContent;
  assert.equal(me.sub, "opal");
  assert.deepEqual(me.scopes, ["mcp", "tools:read"], "the resource's scopes (openid stays with the ID token)");
  assert.equal(me.client_id, "mkit-test");
  assert.equal(me.claims.client, "mkit-test");
  assert.equal(typeof me.claims.issued, "number", "iat, allowlisted as issued");
  assert.equal(askedAbout(token).length, 1);
  assert.ok(!stack.worker.logs().includes(`"issued"`), "claims for tools are never logged");
});

test("mKit's introspection request is the one openid-client sends", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "olga" });
  assert.equal((await whoami(token)).status, 200);
  const [ours] = askedAbout(token);
  const config = new oidc.Configuration({ issuer: stack.issuer.url, introspection_endpoint: `${proxy.url}token/introspection` },
    INTROSPECTOR_ID, undefined, oidc.ClientSecretBasic(INTROSPECTOR_SECRET));
  oidc.allowInsecureRequests(config);
  const answer = await oidc.tokenIntrospection(config, token, { token_type_hint: "access_token" });
  assert.equal(answer.active, true);
  const theirs = askedAbout(token).at(-1);
  assert.notEqual(theirs, ours);
  for (const r of [ours, theirs]) assert.equal(r.method, "POST");
  assert.equal(ours.path, theirs.path);
  // RFC 6749 §2.3.1: id and secret are form-encoded, then Basic. openid-client also escapes "-"
  // (%2D) where mKit leaves unreserved characters alone; both decode to the same credentials.
  const credentials = (r) => Buffer.from(r.headers.authorization.replace(/^Basic /, ""), "base64").toString("utf8")
    .split(":").map((part) => decodeURIComponent(part.replaceAll("+", " ")));
  assert.deepEqual(credentials(ours), credentials(theirs), "client_secret_basic, the same credentials");
  assert.deepEqual(credentials(ours), [INTROSPECTOR_ID, INTROSPECTOR_SECRET]);
  assert.equal(ours.headers["content-type"].split(";")[0], theirs.headers["content-type"].split(";")[0]);
  assert.match(ours.headers.accept, /application\/json/);
  const form = (r) => Object.fromEntries(new URLSearchParams(r.body));
  assert.deepEqual(form(ours), form(theirs));
});

test("a positive answer is reused; inactive, foreign and refresh tokens are refused", async () => {
  const { access_token: token, refresh_token: refresh } =
    await stack.issuer.userTokens({ user: "oscar", scope: "openid offline_access mcp" });
  for (let i = 0; i < 3; i++) assert.equal((await whoami(token)).status, 200);
  assert.equal(askedAbout(token).length, 1, "asked once, then remembered");

  const refused = async (t, why) => {
    const res = await whoami(t);
    assert.equal(res.status, 401, why);
    assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/, why);
    return (await res.json()).error_description;
  };
  assert.ok(refresh, "the issuer gave a refresh token");
  assert.equal(await refused(refresh, "a refresh token"), "token not issued for this resource");
  const revoked = (await stack.issuer.userTokens({ user: "oscar" })).access_token;
  await stack.issuer.revoke(revoked);
  assert.equal(await refused(revoked, "a revoked token"), "token is not active");
  assert.equal(await refused("made-up-opaque-token", "an unknown token"), "token is not active");
  const foreign = (await stack.issuer.userTokens({ user: "oscar", forResource: "https://other.example.com/mcp" })).access_token;
  assert.equal(await refused(foreign, "a token for another resource"), "token not issued for this resource");
  const machine = await stack.token();
  assert.equal(await refused(machine, "a client credentials token names no user"), "required claim missing");
});

test("an endpoint that stalls, fails or answers nonsense fails closed with 503; /healthz says so", async () => {
  const health = async () => (await fetch(`${stack.worker.url}/healthz`)).json();
  // The startup probe (before the proxy was wired) may still be remembered for up to 5 s.
  let checked = (await health()).checks.introspection;
  for (let i = 0; i < 30 && checked.state !== "ok"; i++) {
    await new Promise((r) => setTimeout(r, 250));
    checked = (await health()).checks.introspection;
  }
  assert.deepEqual(checked, { endpoint: `${proxy.url}token/introspection`, state: "ok" });
  try {
    for (const [mode, code, ms] of [["500", "introspection_status", 0], ["garbage", "introspection_answer", 0], ["hang", "introspection_timeout", 4500]]) {
      proxy.state.mode = mode;
      const token = `fresh-token-for-${mode}`;
      const started = Date.now();
      const res = await whoami(token);
      assert.equal(res.status, 503, mode);
      assert.equal(res.headers.get("retry-after"), "30", mode);
      assert.equal((await res.json()).error, "authorization_unavailable", mode);
      assert.ok(Date.now() - started >= ms, `${mode}: waited for the deadline`);
      assert.ok(Date.now() - started < 15_000, `${mode}: within the deadline`);
      await new Promise((r) => setTimeout(r, 5_100)); // past the health check's reuse window
      const h = await health();
      assert.equal(h.status, "fail", mode);
      assert.equal(h.checks.introspection.state, `fail: ${code === "introspection_answer" ? "introspection_answer" : code}`, mode);
    }
  } finally {
    proxy.state.mode = "pass";
  }
});
