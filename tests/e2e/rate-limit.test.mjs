// The abuse limits (Workers Rate Limiting bindings, which Miniflare runs locally): per caller
// (MKIT_RATE_LIMIT) and per caller and tool (MKIT_TOOL_RATE_LIMIT). Past a limit: 429 with
// Retry-After; another caller, or another tool, is not affected.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { startStack } from "./stack.mjs";
import { configCopy, d1 } from "./harness.mjs";
import { CLIENT_ID, CLIENT_SECRET } from "./issuer.mjs";

const LIMIT = 5;
const TOOL_LIMIT = 3;
const REGISTRATION_LIMIT = 4;
let stack;
let perTool;
let registering;

/**
 * wrangler.jsonc binds the limiters in staging and production only (make dev and the other tests
 * run unlimited); this copy binds `name` at the top level, without the build step (built already).
 */
function limitedConfig(label, name, limit) {
  const path = configCopy(label);
  const text = readFileSync(path, "utf8")
    .replace(/"build": \{[^}]*\},/, "")
    .replace('"vars": {},', `"vars": {}, "ratelimits": [{ "name": "${name}", "namespace_id": "1001", "simple": { "limit": ${limit}, "period": 60 } }],`);
  assert.match(text, /"ratelimits"/);
  writeFileSync(path, text);
  return path;
}

before(async () => {
  [stack, perTool, registering] = await Promise.all([
    startStack({ name: "ratelimit", config: limitedConfig("ratelimit", "MKIT_RATE_LIMIT", LIMIT) }),
    startStack({ name: "ratelimit-tool", config: limitedConfig("ratelimit-tool", "MKIT_TOOL_RATE_LIMIT", TOOL_LIMIT) }),
    // mKit as the authorization server, with Dynamic Client Registration (its default).
    startStack({ name: "ratelimit-register", config: limitedConfig("ratelimit-register", "MKIT_REGISTRATION_RATE_LIMIT", REGISTRATION_LIMIT),
      vars: { MKIT_AUTH_SERVER: "on", MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET } }),
  ]);
});
after(async () => {
  await Promise.all([stack?.stop(), perTool?.stop(), registering?.stop()]);
});

const post = (s, token, method, params) => fetch(`${s.worker.url}/mcp`, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-11-25",
    authorization: `Bearer ${token}` },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, ...(params ? { params } : {}) }),
});
const ping = (token) => post(stack, token, "ping");

test("past the limit a caller gets 429 with Retry-After; another caller is not affected", async () => {
  const token = await stack.token();
  const statuses = [];
  let limited;
  for (let i = 0; i < LIMIT + 3; i++) {
    const res = await ping(token);
    statuses.push(res.status);
    if (res.status === 429) limited ??= { retry: res.headers.get("retry-after"), body: await res.json() };
  }
  assert.deepEqual(statuses.slice(0, LIMIT), Array(LIMIT).fill(200), statuses.join(" "));
  assert.ok(statuses.slice(LIMIT).every((s) => s === 429), statuses.join(" "));
  assert.equal(limited.retry, "60");
  assert.equal(limited.body.error.code, -32000);
  assert.match(limited.body.error.message, /too many requests .* retry after 60 seconds/);
  const { access_token: other } = await stack.issuer.userTokens({ user: "rita" });
  assert.equal((await ping(other)).status, 200, "limits are per caller");
  const lines = stack.worker.requestLogs().filter((l) => l.error === "rate_limited");
  assert.equal(lines.length, 3);
  assert.match(lines[0].subject, /^[0-9a-f]{16}$/, "the caller is named by a keyed hash only");
  assert.ok(!stack.worker.logs().includes("mkit-test"), "never the subject in clear");
});

test("the per-tool limit counts each tool apart; other methods are not counted", async () => {
  const token = await perTool.token();
  const call = (name) => post(perTool, token, "tools/call", { name, arguments: {} });
  const statuses = [];
  for (let i = 0; i < TOOL_LIMIT + 2; i++) statuses.push((await call("whoami")).status);
  assert.deepEqual(statuses, [...Array(TOOL_LIMIT).fill(200), 429, 429]);
  assert.equal((await call("remember")).status, 200, "another tool has its own count");
  assert.equal((await post(perTool, token, "tools/list", {})).status, 200, "not a tool call");
  const batch = await fetch(`${perTool.worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-06-18",
      authorization: `Bearer ${token}` },
    body: JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "ping" }, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "whoami" } }]),
  });
  assert.equal(batch.status, 429, "a batch naming a tool over its limit");
  const { access_token: other } = await perTool.issuer.userTokens({ user: "tom" });
  assert.equal((await post(perTool, other, "tools/call", { name: "whoami", arguments: {} })).status, 200, "per caller");
});

test("the per-tool limit counts every call a batch can carry (32), not only the first 16 (#28 item 10)", async () => {
  const { access_token: token } = await perTool.issuer.userTokens({ user: "uma" });
  // Sixteen calls of sixteen tools (one count each, under the limit), then one tool past its limit.
  const names = [...Array.from({ length: 16 }, (_, i) => `no_such_tool_${i}`), ...Array(TOOL_LIMIT + 1).fill("whoami")];
  const batch = names.map((name, i) => ({ jsonrpc: "2.0", id: i + 1, method: "tools/call", params: { name, arguments: {} } }));
  const res = await fetch(`${perTool.worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-03-26",
      authorization: `Bearer ${token}` },
    body: JSON.stringify(batch),
  });
  assert.equal(res.status, 429, `the 17th to 20th calls are counted: ${res.status} ${await res.text()}`);
});

test("registration is limited per client address: 429 with Retry-After past it, nothing stored (#28 item 5)", async () => {
  const register = (address) => fetch(`${registering.worker.url}/oauth/register`, { method: "POST",
    headers: { "content-type": "application/json", ...(address ? { "cf-connecting-ip": address } : {}) },
    body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], client_name: "flood", token_endpoint_auth_method: "none",
      application_type: "native" }) });
  const statuses = [];
  let limited;
  for (let i = 0; i < REGISTRATION_LIMIT + 2; i++) {
    const r = await register("198.51.100.7");
    statuses.push(r.status);
    if (r.status === 429) limited ??= { retry: r.headers.get("retry-after"), body: await r.json() };
  }
  assert.deepEqual(statuses, [...Array(REGISTRATION_LIMIT).fill(201), 429, 429]);
  assert.equal(limited.retry, "60");
  assert.equal(limited.body.error, "temporarily_unavailable");
  const logged = await registering.worker.requestLogsAtLeast((l) => l.error === "registration_rate_limited", 2);
  assert.equal(logged.length, 2);
  assert.equal((await register("203.0.113.9")).status, 201, "another address is not affected");
  const rows = await d1(registering.worker, "SELECT COUNT(*) AS n FROM oauth_clients WHERE client_name = 'flood'");
  assert.equal(rows[0].n, REGISTRATION_LIMIT + 1, "a refused registration stores nothing");
});
