// The per-caller abuse limit (the Workers Rate Limiting binding MKIT_RATE_LIMIT, which Miniflare
// runs locally): past the limit a caller gets 429 with Retry-After; another caller does not.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { startStack } from "./stack.mjs";
import { configCopy } from "./harness.mjs";

const LIMIT = 5;
let stack;
before(async () => {
  // wrangler.jsonc binds the limiter in staging and production only (make dev and the other tests
  // run unlimited); this copy binds it at the top level, without the build step (built already).
  const path = configCopy("ratelimit");
  const text = readFileSync(path, "utf8")
    .replace(/"build": \{[^}]*\},/, "")
    .replace('"vars": {},', `"vars": {}, "ratelimits": [{ "name": "MKIT_RATE_LIMIT", "namespace_id": "1001", "simple": { "limit": ${LIMIT}, "period": 60 } }],`);
  assert.match(text, /"ratelimits"/);
  writeFileSync(path, text);
  stack = await startStack({ name: "ratelimit", config: path });
});
after(async () => {
  await stack?.stop();
});

const ping = (token) => fetch(`${stack.worker.url}/mcp`, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-11-25",
    authorization: `Bearer ${token}` },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
});

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
