// /healthz, routing and request logs on the release build, through `wrangler dev` as a user runs it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startWorker, defaultVars, ROOT, TEST_WEBHOOK_SECRET, TEST_DEPLOYMENT_SECRET } from "./harness.mjs";
import { startStack } from "./stack.mjs";

const crateVersion = readFileSync(join(ROOT, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];

let stack;
let healthy;
let broken;
before(async () => {
  const brokenVars = defaultVars();
  delete brokenVars.OAUTH_ISSUER;
  [stack, broken] = await Promise.all([
    startStack({ name: "healthz" }),
    startWorker({ name: "healthz-broken", vars: brokenVars }),
  ]);
  healthy = stack.worker;
});
after(async () => {
  await Promise.all([stack?.stop(), broken?.stop()]);
});

test("GET /healthz answers 200 with version, commit and every check", async () => {
  const res = await fetch(`${healthy.url}/healthz`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.equal(body.version, crateVersion);
  const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  assert.match(body.commit, new RegExp(`^${head}(-dirty)?$`), "the commit baked in at build time is the checked-out one");
  assert.deepEqual(body.checks.config, { OAUTH_ISSUER: "ok", MCP_RESOURCE: "ok", STRIPE_WEBHOOK_SECRET: "ok", MKIT_SECRET: "ok" });
  assert.equal(body.checks.db, "ok");
  assert.equal(body.checks.jwks, "ok", "the issuer's keys were fetched");
});

test("HEAD /healthz answers 200 without a body", async () => {
  const res = await fetch(`${healthy.url}/healthz`, { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal((await res.text()).length, 0);
});

test("a missing required var gives 503 naming it, never a secret's value", async () => {
  const res = await fetch(`${broken.url}/healthz`);
  assert.equal(res.status, 503);
  const text = await res.text();
  assert.ok(!text.includes(TEST_WEBHOOK_SECRET), "no secret value in the body");
  assert.ok(!text.includes(TEST_DEPLOYMENT_SECRET), "no secret value in the body");
  const body = JSON.parse(text);
  assert.equal(body.status, "fail");
  assert.equal(body.checks.config.OAUTH_ISSUER, "missing");
  assert.equal(body.checks.config.STRIPE_WEBHOOK_SECRET, "ok");
  assert.equal(body.checks.db, "ok");
  // What to fix, in /healthz and in the request's log line: the variable and why.
  assert.ok(body.checks.config_problems.some((p) => p.startsWith("OAUTH_ISSUER: ")), JSON.stringify(body.checks));
  const line = broken.logs().split("\n").filter((l) => l.includes('"route":"/healthz"') && l.includes('"status":503')).pop() ?? "";
  assert.match(line, /"config":"OAUTH_ISSUER: /, "the log line names the variable");
});

test("unknown paths get 404 JSON", async () => {
  for (const path of ["/", "/nope", "/healthz/extra", "/mcp/x"]) {
    const res = await fetch(`${healthy.url}${path}`);
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: "not_found" });
  }
});

test("a wrong method gets 405 with Allow", async () => {
  const cases = [
    ["GET", "/mcp", "POST"],
    ["DELETE", "/mcp", "POST"],
    ["POST", "/healthz", "GET, HEAD"],
    ["GET", "/stripe/webhook", "POST"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await fetch(`${healthy.url}${path}`, { method });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow);
    assert.deepEqual(await res.json(), { error: "method_not_allowed" });
  }
});

test("one structured log line per request, without headers or bodies", async () => {
  const token = `secret-token-${Date.now()}`;
  const pathMarker = `path-${Date.now()}`;
  const res = await fetch(`${healthy.url}/nope-${pathMarker}`, {
    method: "GET",
    headers: { authorization: `Bearer ${token}`, "cf-ray": "8f1e2d3c4b5a6978-AMS" },
  });
  assert.equal(res.status, 404);
  await res.arrayBuffer();
  // wrangler flushes worker output asynchronously.
  let line;
  for (let i = 0; i < 40 && !line; i++) {
    await new Promise((r) => setTimeout(r, 100));
    line = healthy.requestLogs().find((l) => l.cf_ray === "8f1e2d3c4b5a6978-AMS");
  }
  assert.ok(line, "the request was logged");
  assert.deepEqual(Object.keys(line).sort(), ["cf_ray", "duration_ms", "error", "method", "route", "status"]);
  assert.equal(line.route, "unmatched");
  assert.equal(line.status, 404);
  assert.equal(line.error, "not_found");
  assert.equal(typeof line.duration_ms, "number");
  assert.ok(!healthy.logs().includes(token), "the token reaches no log at all");
  assert.ok(!JSON.stringify(healthy.requestLogs()).includes(pathMarker), "the raw path is not in the request log");
});
