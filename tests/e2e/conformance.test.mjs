// The official MCP conformance suite (@modelcontextprotocol/conformance, pinned) against the
// fixtures build, once per requirement set, through the real token path: the suite cannot send
// a bearer token, so a loopback proxy adds one issued by the test issuer. Both expected-failures
// files (tests/conformance/expected-failures-<set>.yaml) are empty: the suite fails on any failure.
// Scenarios the suite leaves unscored (the Tasks extension, SEP-2243) are checked here one by one.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, ROOT } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { startTokenProxy } from "./token-proxy.mjs";

const run = promisify(execFile);
const CLI = join(ROOT, "node_modules/.bin/conformance");

let stack;
let proxy;
let worker;
before(async () => {
  // The suite's DNS-rebinding check sends the proxy's own origin: allow exactly that one.
  const proxyPort = await freePort();
  stack = await startStack({
    name: "conformance",
    script: "build-fixtures/index.js",
    vars: { MCP_ALLOWED_ORIGINS: `http://127.0.0.1:${proxyPort}` },
  });
  worker = stack.worker;
  const token = await stack.token();
  proxy = await startTokenProxy(worker.url, async () => token, proxyPort);
});
after(async () => {
  await proxy?.stop();
  await stack?.stop();
});

for (const set of ["2025-11-25", "2026-07-28"]) {
  test(`conformance suite, requirement set ${set}`, async (t) => {
    const args = ["server", "--url", `${proxy.url}/mcp`, "--requirements", set,
      "--expected-failures", join(ROOT, "tests/conformance", `expected-failures-${set}.yaml`),
      "-o", join(worker.dir, `conformance-${set}`)];
    let stdout = "";
    let code = 0;
    try {
      // Run with this test's Node (22): the suite does not start on older ones.
      ({ stdout } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, maxBuffer: 32 << 20, timeout: 300_000 }));
    } catch (e) {
      stdout = e.stdout ?? "";
      code = e.code ?? 1;
    }
    const summary = stdout.slice(stdout.indexOf("=== SUMMARY ==="));
    const total = summary.match(/Total: (\d+) passed, (\d+) failed/);
    t.diagnostic(`conformance ${set}: ${total ? `${total[1]} checks passed, ${total[2]} failed` : "no summary"}`);
    for (const line of summary.split("\n").filter((l) => l.startsWith("✗"))) t.diagnostic(line);
    assert.ok(total, `the suite printed a summary:\n${stdout.slice(-3000)}`);
    assert.equal(code, 0, `unexpected conformance failures (or stale expected failures):\n${summary}`);
    // Scenarios the suite leaves unscored but mKit implements: every check must still succeed.
    // The Tasks extension's scenarios (tasks-status-notifications aside: its notifications are
    // optional and mKit sends none, so the suite skips it).
    const tasks = ["capability-negotiation", "dispatch-and-envelope", "lifecycle", "mrtr-composition", "mrtr-input",
      "request-headers", "request-state-removal", "required-task-error", "wire-fields"].map((n) => `tasks-${n}`);
    const implemented = { "2025-11-25": [],
      "2026-07-28": ["http-custom-header-server-validation", "http-header-validation", ...tasks] }[set];
    for (const name of implemented) {
      const dir = readdirSync(join(worker.dir, `conformance-${set}`)).find((d) => d.startsWith(`server-${name}-2`));
      assert.ok(dir, `${name} ran`);
      const checks = JSON.parse(readFileSync(join(worker.dir, `conformance-${set}`, dir, "checks.json"), "utf8"));
      assert.ok(checks.length > 0, `${name} has checks`);
      assert.deepEqual(checks.filter((c) => c.status !== "SUCCESS").map((c) => `${c.name}: ${c.errorMessage}`), [], name);
    }
  });
}
