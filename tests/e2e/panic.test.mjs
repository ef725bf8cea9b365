// What a panic does to the isolate: worker-build's shim marks the Wasm instance as failed and
// re-initialises it on the next request, so the panicking request fails and the next one is served.
// Uses the fixtures build (build-fixtures/), which is never deployed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack } from "./stack.mjs";

let stack;
let worker;
before(async () => {
  stack = await startStack({ name: "panic", script: "build-fixtures/index.js" });
  worker = stack.worker;
});
after(async () => {
  await stack?.stop();
});

test("a panic fails only its own request; the next request is served", async () => {
  const before = await fetch(`${worker.url}/healthz`);
  assert.equal(before.status, 200);

  const boom = await fetch(`${worker.url}/__fixtures/panic`);
  assert.equal(boom.status, 500);
  await boom.arrayBuffer();

  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${worker.url}/healthz`);
    assert.equal(res.status, 200, `request ${i} after the panic`);
    assert.equal((await res.json()).status, "ok");
  }
  let logs = "";
  for (let i = 0; i < 40 && !logs.includes("Reinitializing Wasm application"); i++) {
    await new Promise((r) => setTimeout(r, 100));
    logs = worker.logs();
  }
  assert.match(logs, /panicked at [\s\S]*fixture panic/, "console_error_panic_hook logged the panic");
  assert.match(logs, /Reinitializing Wasm application/, "the shim re-initialised the Wasm instance");
});
