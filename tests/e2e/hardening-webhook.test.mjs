// Hardening (issue 11): a chunked webhook body is cut off at 512 KiB while it is still being sent.
// One stalled upload per worker: see hardening.test.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { startStack } from "./stack.mjs";

let stack;
before(async () => {
  stack = await startStack({ name: "hardening-webhook" });
});
after(async () => {
  await stack?.stop();
});

test("a chunked webhook body over 512 KiB gets 413 while it is still being sent", async () => {
  const status = await new Promise((resolve) => {
    const req = request(new URL("/stripe/webhook", stack.worker.url), { method: "POST", agent: false,
      headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=00" } });
    const timer = setTimeout(() => {
      req.destroy();
      resolve("no answer");
    }, 8000);
    req.on("response", (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode);
    });
    req.on("error", () => {});
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let sent = 0; sent < 640 * 1024; sent += chunk.length) req.write(chunk);
    // The body never ends: a server that buffers it whole would never answer.
  });
  assert.equal(status, 413);
});
