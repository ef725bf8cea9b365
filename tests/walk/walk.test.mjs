// The walk: the README's path run as written, in a clean clone, with the defaults a newcomer gets.
// Every command comes from a README block marked `<!-- walk: NAME -->`; nothing is set that the
// README does not set. A person's part (signing in, allowing) is done in Chromium.
//
//   1. `make dev` (mKit as the authorization server), the official SDK client's OAuth sign-in,
//      `make token` with curl, the paid tool refused, granted and revoked with signed test
//      events, then paid through its pay link on the local checkout simulation and run;
//   2. Ctrl-C and `make dev` again: signing in still works;
//   3. the README's tool added as shown, the unit and lint parts of `make test`, the tool called;
//   4. the other auth mode, one setting away (`make dev AUTH_SERVER=off`), signed in the same way.
//
// `make test-walk` runs it; it owns 127.0.0.1:8787 and :9400, as `make dev` does.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { block, command, commands } from "./docs.mjs";
import { undeployable } from "../../scripts/bundle-check.mjs";
import { lastJson, pay, runClient } from "./person.mjs";
import { canListen, cleanClone, removeClone, ROOT, sh, startForeground } from "./stranger.mjs";

const README = "README.md";
const READY = "mKit is running";
const USER = "mkit-test"; // the README's sign-in name, which its grant commands name
let dir;
let dev;

const readme = (name) => block(dir, README, name);

before(() => {
  dir = cleanClone();
  console.log(`walk: clean clone in ${dir}`);
});
after(async () => {
  await dev?.stop();
  removeClone(dir);
});

async function makeDev(name = "two-commands") {
  dev = await startForeground(dir, command(readme(name), "make dev"), { ready: READY });
}

/** Ctrl-C on `make dev`: it ends, and everything it started with it (its ports are free). */
async function stopDev() {
  if (!dev) return;
  const code = await dev.stop();
  dev = null;
  assert.ok(code === 0 || code === "SIGINT", `make dev ended with ${code}`);
  for (const port of [8787, 9400]) assert.ok(await canListen(port), `port ${port} still taken after Ctrl-C`);
}

/** whoami's result in a JSON-RPC reply (structured content, or the JSON text of older versions). */
function whoamiOf(reply) {
  const result = JSON.parse(reply).result ?? {};
  return result.structuredContent ?? JSON.parse(result.content?.[0]?.text ?? "{}");
}

/** The README's client command, run with a person signing in. */
async function connect(blockName) {
  const run = await runClient(dir, command(readme(blockName), "npm run client"), USER);
  assert.equal(run.code, 0, `client failed:\n${run.out}\n${run.err}`);
  return { ...run, result: lastJson(run.out) };
}

test("make dev, then the official SDK client signs in through a browser", { timeout: 20 * 60_000 }, async () => {
  await makeDev();
  const { result, steps } = await connect("connect");
  assert.equal(result.sub, USER, JSON.stringify(result));
  assert.ok(steps.includes("allow"), `mKit's consent page was shown: ${steps}`);
});

test("make token and the README's curl", { timeout: 120_000 }, async () => {
  const run = await sh(dir, commands(readme("curl")).join("\n"));
  assert.equal(run.code, 0, run.err);
  assert.equal(whoamiOf(run.out).sub, USER, run.out);
});

test("the paid tool: refused with a pay link; granted and revoked by events; paid on the local checkout", { timeout: 300_000 }, async () => {
  const refused = await connect("paid-call");
  assert.equal(refused.result.error, "payment_required", JSON.stringify(refused.result));
  const [grant, revoke] = commands(readme("grant"));
  assert.equal((await sh(dir, grant)).code, 0, grant);
  assert.ok((await connect("paid-call")).result.words > 0, "granted");
  assert.equal((await sh(dir, revoke)).code, 0, revoke);
  const again = await connect("paid-call");
  assert.equal(again.result.error, "payment_required", "revoked");
  assert.match(again.result.checkout_url ?? "", /^http:\/\/127\.0\.0\.1:8787\/billing\/checkout\?t=/);
  const paid = await pay(again.result.checkout_url, USER);
  assert.match(paid.checkout, /Local simulation of Stripe Checkout/, "the page says it is a simulation");
  assert.ok((await connect("paid-call")).result.words > 0, "paid");
});

test("make dev's build is never deployable; the release build is", () => {
  assert.match(undeployable(join(dir, "build-dev/index.js")) ?? "", /MKIT_TEST_STRIPE_API/);
  assert.equal(undeployable(join(ROOT, "build/index.js")), null);
});

test("Ctrl-C and make dev again: signing in still works", { timeout: 20 * 60_000 }, async () => {
  await stopDev();
  await makeDev();
  const { result } = await connect("connect");
  assert.equal(result.sub, USER);
  const curl = await sh(dir, commands(readme("curl")).join("\n"));
  assert.equal(whoamiOf(curl.out).sub, USER, curl.out + curl.err);
});

test("the README's tool, added as shown: make test's unit and lint parts pass, and a client calls it", { timeout: 30 * 60_000 }, async () => {
  await stopDev();
  writeFileSync(join(dir, "src/tools/shout.rs"), readme("tool-file"));
  addRegistration(readme("tool-register"));
  for (const target of ["make test-unit", "make lint"]) {
    const run = await sh(dir, target, { timeoutMs: 20 * 60_000 });
    assert.equal(run.code, 0, `${target}:\n${run.out.slice(-4000)}\n${run.err.slice(-4000)}`);
  }
  await makeDev();
  const { result } = await connect("call-tool");
  assert.deepEqual(result, { shouted: "HELLO, WORLD" });
});

test("the other auth mode, one setting away: mKit accepts the local provider's tokens", { timeout: 20 * 60_000 }, async () => {
  await stopDev();
  await makeDev("dev-off");
  const { result, steps } = await connect("connect");
  assert.equal(result.sub, USER, JSON.stringify(result));
  assert.ok(!steps.includes("allow"), `no mKit consent page in this mode: ${steps}`);
  await stopDev();
});

/**
 * Applies the README's registration block to src/tools/mod.rs as a person does: the `pub mod`
 * line beside the others, the `r.tool(...)` line first in `registry()`, after its `let mut r`.
 */
function addRegistration(body) {
  const path = join(dir, "src/tools/mod.rs");
  let src = readFileSync(path, "utf8");
  const lines = body.split("\n").map((l) => l.trim());
  const modLine = lines.find((l) => /^pub mod \w+;$/.test(l));
  const toolLine = lines.find((l) => /^r\.tool\(.+\);$/.test(l));
  assert.ok(modLine && toolLine, `the README's registration block names a module and a tool:\n${body}`);
  // In name order, where rustfmt (`make lint`) wants it.
  const mods = [...src.matchAll(/^pub mod (\w+);\n/gm)];
  const next = mods.find((m) => m[1] > modLine.slice(8, -1));
  const at = next ? next.index : mods.at(-1).index + mods.at(-1)[0].length;
  src = `${src.slice(0, at)}${modLine}\n${src.slice(at)}`;
  const start = /(pub fn registry\(\) -> Registry \{\n\s*let mut r = [^\n]*;\n)/;
  assert.match(src, start, "src/tools/mod.rs has a registry() that starts with `let mut r = …;`");
  src = src.replace(start, (head) => `${head}    ${toolLine}\n`);
  writeFileSync(path, src);
}
