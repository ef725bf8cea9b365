// Key rotation at the issuer and an issuer outage, in real time: the worker refetches keys on an
// unknown kid (at most every 30 s), and keeps serving cached keys while the issuer is down,
// with /healthz saying so. This file waits twice for the 30 s refetch bound.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack } from "./stack.mjs";
import { peek } from "./issuer.mjs";

const REFETCH_BOUND_MS = 31_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let stack;
before(async () => {
  stack = await startStack({ name: "rotation", vars: { OAUTH_TOKEN_CACHE: "off" } });
});
after(async () => {
  await stack?.stop();
});

const whoami = (token) =>
  fetch(`${stack.worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "mcp-protocol-version": "2025-11-25" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } }),
  });
const health = async () => (await fetch(`${stack.worker.url}/healthz`)).json();

test("a new kid at the issuer is picked up; an issuer outage is survived and reported", { timeout: 120_000 }, async () => {
  const first = await stack.token();
  assert.equal((await whoami(first)).status, 200);

  // Rotation: a token signed by a key the worker has never seen.
  await sleep(REFETCH_BOUND_MS);
  const kid = await stack.issuer.rotate();
  const rotated = await stack.token();
  assert.equal(peek(rotated).header.kid, kid);
  assert.equal((await whoami(rotated)).status, 200, "accepted after one refetch");
  const unknown = await whoami(rotated.replace(/^[^.]+/, Buffer.from(JSON.stringify({ ...peek(rotated).header, kid: "never-issued" })).toString("base64url")));
  assert.equal(unknown.status, 401, "and an unknown kid right after is refused without another fetch");

  // Outage: the issuer stops; keys already fetched keep working.
  await stack.issuer.stop();
  await sleep(REFETCH_BOUND_MS);
  const h = await health();
  assert.equal(h.checks.jwks, "stale", JSON.stringify(h));
  assert.equal(h.status, "degraded");
  assert.equal((await whoami(rotated)).status, 200, "cached keys still verify while the issuer is down");

  // Recovery.
  await stack.issuer.start();
  await sleep(REFETCH_BOUND_MS);
  const back = await health();
  assert.equal(back.checks.jwks, "ok", JSON.stringify(back));
  assert.equal(back.status, "ok");
});
