// Per-tool-call metrics: the real worker (fixtures build) writes one Analytics Engine data point
// per tools/call to the MKIT_STATS binding, in the layout `make stats` queries (COLUMNS); and
// `make stats` sends its SQL to the Analytics Engine SQL API (a fake on loopback that aggregates
// the points this worker wrote) and prints calls, errors and percentiles per tool; then the
// machine payments per tool, read from the worker's local D1 (rows seeded there).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT, TEST_WEBHOOK_SECRET, configCopy, d1, filledConfig } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { ACCOUNT_ID, cloudflareEnv, startFakeCloudflare } from "./fake-cloudflare.mjs";
import { callTool, percentile } from "./timed.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";
import { COLUMNS, dataset, formatPayments, formatStats, interval, paymentStats, statsSql, windowSecs } from "../../scripts/stats.mjs";
import { readConfig } from "../../scripts/wrangler-config.mjs";

const exec = promisify(execFile);
let stack;
let cf;
let token;
before(async () => {
  [stack, cf] = await Promise.all([startStack({ name: "stats", script: "tests/e2e/stats-entry.mjs" }), startFakeCloudflare()]);
  token = await stack.token();
});
after(async () => {
  await Promise.all([stack?.stop(), cf?.stop()]);
});

const points = async () => (await fetch(`${stack.worker.url}/__test/stats-points`)).json();
/** A data point read through COLUMNS: the names `make stats` gives blob1…, double1…. */
const named = (p) => Object.fromEntries(Object.entries(COLUMNS).map(([name, col]) =>
  [name, col.startsWith("blob") ? p.blobs[Number(col.slice(4)) - 1] : p.doubles[Number(col.slice(6)) - 1]]));

test("each tools/call writes one data point in the layout make stats reads; other requests write none", async () => {
  await points();
  const paid = await callTool(stack.worker.url, token, "text_stats", { text: "Paid words." });
  assert.equal(paid.status, 200);
  assert.equal((await callTool(stack.worker.url, token, "whoami")).result.isError, false);
  await callTool(stack.worker.url, token, "no_such_tool_" + "x".repeat(40));
  await fetch(`${stack.worker.url}/healthz`);
  const list = await fetch(`${stack.worker.url}/mcp`, { method: "POST", headers: { authorization: `Bearer ${token}`,
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
  assert.equal(list.status, 200);

  const got = await points();
  assert.equal(got.length, 3, JSON.stringify(got));
  for (const p of got) {
    assert.deepEqual(p.indexes, [named(p).tool], "the tool is the sampling key");
    assert.equal(p.blobs.length, 5);
    assert.ok(Number.isFinite(named(p).duration_ms) && named(p).duration_ms >= 0);
    assert.equal(named(p).status, 200);
    assert.equal(named(p).protocol_version, "2025-11-25");
  }
  const facts = got.map((p) => { const n = named(p); return [n.tool, n.outcome, n.billing]; });
  assert.deepEqual(facts, [["text_stats", "tool_error", "payment_required"], ["whoami", "ok", "free"], ["(unknown)", "invalid_params", "none"]]);
  assert.ok(!JSON.stringify(got).includes("mkit-test"), "no subject in any data point");
});

test("a 2025-03-26 batch writes one data point per call; a granted paid call is ok/granted", async () => {
  const sub = (await callTool(stack.worker.url, token, "whoami")).result.structuredContent.sub;
  const grant = envelope("customer.subscription.created", objectFor("customer.subscription.created", { user: sub }));
  assert.equal((await deliver(stack.worker.url, JSON.stringify(grant), TEST_WEBHOOK_SECRET)).status, 200);
  await points();
  const call = (id, name, args) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
  const r = await fetch(`${stack.worker.url}/mcp`, { method: "POST", headers: { authorization: `Bearer ${token}`,
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-03-26" },
  body: JSON.stringify([call(1, "text_stats", { text: "a b" }), call(2, "whoami", {})]) });
  assert.equal(r.status, 200, await r.text());
  const facts = (await points()).map((p) => { const n = named(p); return [n.tool, n.outcome, n.billing, n.protocol_version]; });
  assert.deepEqual(facts, [["text_stats", "ok", "granted", "2025-03-26"], ["whoami", "ok", "free", "2025-03-26"]]);
});

const BASE_SEPOLIA = ["eip155:84532", "0x036cbd53842c5426634e7929541ec2318f3dcf7e"];
const BASE = ["eip155:8453", "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"];
/** Above 2^53: summed as JS numbers, two of them come out 2 short. */
const WIDE = "9007199254740993";

/** Seeds machine_payments rows as the worker writes them (crates/mkit-billing/src/x402.rs). */
async function seedPayments(rows) {
  const t = Math.floor(Date.now() / 1000);
  const values = rows.map(([tool, [network, asset], state, amount, ago], i) => {
    const id = `${network}:${asset}:0x${"ab".repeat(20)}:0x${String(i + 1).padStart(64, "0")}`;
    return `('${id}', 'stats-user', '${tool}', '${network}', '${asset}', '${amount}', '0x${"cd".repeat(20)}', ` +
      `'0x${"ab".repeat(20)}', '${state}', ${t - ago}, ${t - ago})`;
  });
  await d1(stack.worker, "INSERT INTO machine_payments (id, user_sub, tool, network, asset, amount, pay_to, payer, state, " +
    `created_at, updated_at) VALUES ${values.join(", ")}`);
}

test("make stats: the SQL sent, the token used, and the table printed from this worker's data points", async () => {
  await points();
  for (let i = 0; i < 6; i++) await callTool(stack.worker.url, token, i % 3 ? "whoami" : "text_stats", i % 3 ? {} : { txt: 1 });
  const written = (await points()).map(named);
  cf.onSql((sql) => {
    // What Analytics Engine would answer for this SQL over these points (every point unsampled).
    const byTool = Map.groupBy(written, (p) => p.tool);
    const data = [...byTool].map(([tool, ps]) => ({ tool, calls: String(ps.length),
      errors: String(ps.filter((p) => p.outcome !== "ok").length),
      payment_required: String(ps.filter((p) => p.billing === "payment_required").length),
      p50_ms: percentile(ps.map((p) => p.duration_ms), 50), p99_ms: percentile(ps.map((p) => p.duration_ms), 99) }));
    return { meta: [], data: data.sort((a, b) => b.calls - a.calls), rows: data.length, sql };
  });
  await seedPayments([
    ["text_stats", BASE_SEPOLIA, "settled", WIDE, 3600],
    ["text_stats", BASE_SEPOLIA, "settled", WIDE, 7200],
    ["text_stats", BASE_SEPOLIA, "settled", "10000", 60],
    ["text_stats", BASE_SEPOLIA, "failed", "10000", 60],
    ["text_stats", BASE_SEPOLIA, "unconfirmed", "10000", 60],
    ["text_stats", BASE_SEPOLIA, "unconfirmed", "10000", 90_000],
    ["text_stats", BASE_SEPOLIA, "verifying", "10000", 30], // in flight: not counted
    ["text_stats", BASE_SEPOLIA, "settled", "10000", 8 * 86_400], // before the window
    ["remember", BASE, "settled", "5", 60],
  ]);
  const home = mkdtempSync(join(tmpdir(), "mkit-stats-"));
  const config = configCopy("stats");
  const table = readConfig(config).env.production.analytics_engine_datasets[0].dataset;
  const env = cloudflareEnv({ cf, home, login: "token", extra: { WRANGLER_CONFIG: config,
    MKIT_STATS_D1_PERSIST: stack.worker.persist } });
  const { stdout: out } = await exec("make", ["-s", "stats", "ENV=production", "SINCE=7d"], { cwd: ROOT, env });
  const [stdout, paid] = out.split("\nmachine payments (x402) ");
  const [req] = cf.requestsTo("POST", `/accounts/${ACCOUNT_ID}/analytics_engine/sql`);
  assert.equal(req.body, statsSql(table, ["7", "DAY"]));
  assert.equal(req.headers.authorization, "Bearer fake-api-token");
  assert.ok(stdout.includes(`stats production: dataset ${table}, last 7 day`), stdout);
  const row = (tool) => stdout.split("\n").find((l) => l.startsWith(`${tool} `))?.trim().split(/\s+/);
  assert.deepEqual(row("whoami").slice(0, 5), ["whoami", "4", "0", "0.0", "0"]);
  assert.deepEqual(row("text_stats").slice(0, 5), ["text_stats", "2", "2", "100.0", "0"], "invalid arguments: tool errors");

  // The machine payments of the same window, from D1: settled, exact sum, failed, unconfirmed.
  const lines = paid?.trim().split("\n") ?? [];
  assert.equal(lines[0], `production: local D1 ${stack.worker.persist}, last 7 day(s); amounts in the asset's atomic units`, out);
  assert.deepEqual(lines.slice(1).map((l) => l.trim().split(/\s+/)), [
    ["tool", "network", "asset", "settled", "settled", "amount", "failed", "unconfirmed"],
    ["text_stats", ...BASE_SEPOLIA, "3", "18014398509491986", "1", "2"],
    ["remember", ...BASE, "1", "5", "0", "0"],
  ]);
});

test("make stats refuses a bad window, an unbound environment and a token without analytics access", async () => {
  assert.deepEqual(interval("30m"), ["30", "MINUTE"]);
  assert.deepEqual(interval(""), ["24", "HOUR"]);
  for (const bad of ["0h", "91d", "1w", "24", "-1h"]) assert.throws(() => interval(bad), /not a duration/, bad);
  assert.match(formatStats([], "x"), /no tool calls in this window/);
  assert.match(formatPayments([], "x"), /\(no machine payments in this window\)$/);
  assert.deepEqual(paymentStats([{ tool: "t", network: "n", asset: "a", state: "settled", amount: "340282366920938463463374607431768211455",
    payments: 3 }, { tool: "t", network: "n", asset: "a", state: "failed", amount: "7", payments: 2 }]),
  [{ tool: "t", network: "n", asset: "a", settled: 3, settled_amount: "1020847100762815390390123822295304634365", failed: 2,
    unconfirmed: 0 }], "u128::MAX × 3, exactly");
  assert.equal(windowSecs(interval("30m")), 1800);
  assert.equal(windowSecs(interval("7d")), 604_800);
  assert.throws(() => dataset({ env: { staging: { name: "s" } } }, "staging"), /binds no Analytics Engine dataset as MKIT_STATS/);
  assert.throws(() => dataset({ env: { staging: { analytics_engine_datasets: [{ binding: "MKIT_STATS", dataset: "a;DROP" }] } } }, "staging"),
    /letters, digits and underscores/);
  const home = mkdtempSync(join(tmpdir(), "mkit-stats-"));
  const env = cloudflareEnv({ cf, home, login: "token", extra: { WRANGLER_CONFIG: filledConfig("stats-refusals") } });
  const run = async (args, extra = {}) => exec("make", ["-s", "stats", ...args], { cwd: ROOT, env: { ...env, ...extra } })
    .then((r) => ({ code: 0, out: r.stdout + r.stderr }), (e) => ({ code: e.code, out: e.stdout + e.stderr }));
  let r = await run(["ENV=staging", "SINCE=1y"]);
  assert.match(r.out, /refused: SINCE=1y is not a duration/);
  r = await run(["ENV=dev"]);
  assert.match(r.out, /refused: ENV=dev is not an environment/);
  r = await run(["ENV=staging"], { WRANGLER_CONFIG: configCopy("stats-unfilled") });
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: wrangler\.jsonc env\.staging still has placeholders: REPLACE_WITH_STAGING_D1_ID \(machine payments/);
  cf.onSql(() => [403, { success: false, errors: [{ code: 10000, message: "Authentication error" }] }]);
  r = await run(["ENV=staging"]);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: .*HTTP 403.*needs a token with Account Analytics: Read/);
  r = await run(["ENV=staging"], { DRY_RUN: "1" });
  assert.match(r.out, /dry-run: POST \/accounts\/<account>\/analytics_engine\/sql\nSELECT blob1 AS tool/);
  assert.match(r.out, new RegExp("\\ndry-run: wrangler d1 execute DB --remote --env staging --json --command \"SELECT tool, network, asset, " +
    "state, amount, COUNT\\(\\*\\) AS payments FROM machine_payments WHERE state IN \\('settled', 'failed', 'unconfirmed'\\) " +
    "AND created_at > \\d+ GROUP BY tool, network, asset, state, amount [^\"]*\" --config \\S+\\n"));
});
