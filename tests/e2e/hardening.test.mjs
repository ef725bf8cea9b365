// Hardening (issue 11) end to end: bodies are cut off at their cap while the client is still
// sending, the preflight trusts MCP_RESOURCE's own origin like POST does, and a batch is bounded.
//
// Under `wrangler dev`, the local proxy answers the next stalled upload after an aborted one with
// its own 503 (the worker never sees it; deployed Workers have no such proxy), so each worker
// here takes one stalled upload: the webhook's is in hardening-webhook.test.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { startStack } from "./stack.mjs";

let stack;
before(async () => {
  stack = await startStack({ name: "hardening" });
});
after(async () => {
  await stack?.stop();
});

/**
 * POSTs a chunked body (no Content-Length) that passes `bytes` and then never ends. Resolves
 * with the status as soon as the worker answers, or "no answer" after `ms`.
 */
function stalledUpload(path, bytes, headers = {}, ms = 8000) {
  return new Promise((resolve) => {
    const url = new URL(path, stack.worker.url);
    const req = request(url, { method: "POST", agent: false, headers: { "content-type": "application/json", ...headers } });
    const timer = setTimeout(() => {
      req.destroy();
      resolve("no answer");
    }, ms);
    req.on("response", (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode);
    });
    req.on("error", () => {});
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let sent = 0; sent < bytes; sent += chunk.length) req.write(chunk);
    // The body never ends: a server that buffers it whole would never answer.
  });
}

test("the preflight allows MCP_RESOURCE's own origin, as POST does", async () => {
  const origin = new URL(stack.resource).origin;
  const res = await fetch(`${stack.worker.url}/mcp`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), origin);
});

test("a 2025-03-26 batch is bounded", async () => {
  const token = await stack.token();
  const ping = (id) => ({ jsonrpc: "2.0", id, method: "ping" });
  const post = (n) => fetch(`${stack.worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(Array.from({ length: n }, (_, i) => ping(i + 1))),
  });
  assert.equal((await post(32)).status, 200);
  const res = await post(33);
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /at most 32/);
});

test("a release build without asking tools holds no sessions: GET and DELETE are 405, initialize gives no id", async () => {
  for (const method of ["GET", "DELETE"]) {
    const res = await fetch(`${stack.worker.url}/mcp`, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("allow"), "POST");
  }
  const res = await fetch(`${stack.worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await stack.token()}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25",
      capabilities: { sampling: {}, elicitation: {}, roots: {} }, clientInfo: { name: "c", version: "1" } } }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("mcp-session-id"), null);
  assert.equal((await res.json()).result.capabilities.resources.subscribe, undefined);
});

// Last: the request after an aborted upload may meet wrangler dev's proxy 503 (see the top).
test("a chunked /mcp body over 1 MiB gets 413 while it is still being sent", async () => {
  const token = await stack.token();
  assert.equal(await stalledUpload("/mcp", 1200 * 1024, { authorization: `Bearer ${token}` }), 413);
});
