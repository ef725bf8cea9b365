// `make ledger ENV=… USER=<sub>`: one user's ledger, read from the worker's local D1 after signed
// webhooks, with the entitlements the worker itself reports (whoami), and the machine payments
// seeded in its D1; refusals and DRY_RUN.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ROOT, TEST_WEBHOOK_SECRET, d1, filledConfig } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { noLogin } from "./fake-cloudflare.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";
import { ledgerSql, report, subLiteral, verdict } from "../../scripts/ledger.mjs";

const exec = promisify(execFile);
const NO_CLOUDFLARE = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CLOUDFLARE_")));
const FAKE_CLOUDFLARE = { ...NO_CLOUDFLARE, CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: "a" };

async function runCmd(cmd, args, { env = process.env, timeout = 120_000 } = {}) {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd: ROOT, env, timeout, maxBuffer: 1 << 22 });
    return { code: 0, out: stdout + stderr, stdout: stdout.trimEnd() };
  } catch (e) {
    if (e.killed) throw new Error(`${cmd} ${args.join(" ")} did not finish within ${timeout} ms`);
    return { code: e.code, out: (e.stdout ?? "") + (e.stderr ?? ""), stdout: (e.stdout ?? "").trimEnd() };
  }
}
/** scripts/ledger.mjs against the test worker's local D1. */
const ledger = (user, ...flags) => runCmd(process.execPath, ["scripts/ledger.mjs", "--user", user, ...flags],
  { env: { ...NO_CLOUDFLARE, MKIT_LEDGER_D1_PERSIST: stack.worker.persist } });

let stack;
let client;
let sub;
before(async () => {
  stack = await startStack({ name: "ledger-view" });
  client = new Client({ name: "mkit-e2e-ledger", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${await stack.token()}` } },
  }));
  sub = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent.sub;
});
after(async () => {
  await client?.close();
  await stack?.stop();
});

/** Delivers a signed event of `type` built for `user` (scripts/stripe-event.mjs), `change`d first. */
async function send(type, opts, change = (o) => o) {
  const ev = envelope(type, change(objectFor(type, opts)), { created: Math.floor(Date.now() / 1000) });
  const res = await deliver(stack.worker.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return { ev, body };
}

test("make ledger shows bindings, subscriptions, summaries, conflicts and what the worker grants", async () => {
  const now = Math.floor(Date.now() / 1000);
  const { ev: checkout } = await send("checkout.session.completed", { user: sub });
  const customer = checkout.data.object.customer;
  const { ev: pro } = await send("customer.subscription.created", { user: sub, lookupKey: "pro" });
  // On the same customer: a canceled subscription naming no user, and one that lapsed 10 days ago.
  await send("customer.subscription.deleted", { user: sub, lookupKey: "team", subscription: "sub_ledger_team" },
    (o) => ({ ...o, metadata: {} }));
  await send("customer.subscription.created", { user: sub, lookupKey: "legacy", subscription: "sub_ledger_legacy" }, (o) => {
    o.items.data[0].current_period_end = now - 10 * 86_400;
    return o;
  });
  // Someone else claims the bound customer: recorded as a conflict, nothing changes.
  const { body: claim } = await send("customer.updated", { user: "mallory", customer });
  assert.equal(claim.conflicts, 1);

  const { code, stdout, out } = await ledger(sub, "--json");
  assert.equal(code, 0, out);
  const r = JSON.parse(stdout);
  assert.equal(r.user, sub);
  assert.equal(r.grace_days, 3);
  assert.deepEqual(r.bindings.map((b) => [b.customer_id, b.user_sub]), [[customer, sub]]);
  const subs = Object.fromEntries(r.subscriptions.map((s) => [s.id, s]));
  assert.deepEqual(Object.keys(subs).sort(), [pro.data.object.id, "sub_ledger_legacy", "sub_ledger_team"].sort());
  const p = subs[pro.data.object.id];
  assert.deepEqual([p.status, p.price_lookup_keys, p.user_sub, p.customer_id, p.grants], ["active", ["pro"], sub, customer, true]);
  assert.equal(p.current_period_end, pro.data.object.items.data[0].current_period_end);
  assert.deepEqual([subs.sub_ledger_team.status, subs.sub_ledger_team.user_sub, subs.sub_ledger_team.grants], ["canceled", null, false]);
  assert.match(subs.sub_ledger_team.why, /^status canceled$/);
  assert.equal(subs.sub_ledger_legacy.grants, false);
  assert.match(subs.sub_ledger_legacy.why, /^lapsed at /);
  assert.deepEqual(r.conflicts.map((c) => [c.customer_id, c.bound_user, c.claimed_user, c.source]),
    [[customer, sub, "mallory", "customer_metadata"]]);
  assert.deepEqual(r.entitlements, ["pro"]);
  // The same answer as the worker's own query (ENTITLEMENTS_SQL), through whoami.
  assert.deepEqual((await client.callTool({ name: "whoami", arguments: {} })).structuredContent.entitlements, r.entitlements);

  const text = await ledger(sub);
  assert.equal(text.code, 0, text.out);
  assert.match(text.stdout, new RegExp(`^Ledger of user "${sub}" \\(local D1 `));
  assert.match(text.stdout, new RegExp(`\\n  ${customer}  bound by an event created `));
  assert.match(text.stdout, /\n {2}sub_ledger_team {2}customer \S+ {2}status canceled {2}keys \[team\] .*user_sub \(none: the customer's user\)\n {6}grants nothing: status canceled\n/);
  assert.match(text.stdout, /claimed for "mallory" by customer_metadata/);
  assert.match(text.stdout, /\nEntitlements the worker grants now: pro$/);
});

/** SQL text for `v` (a test's own values; the script itself never writes a sub as text). */
const sqlText = (v) => (v === null ? "NULL" : `'${String(v).replaceAll("'", "''")}'`);
const NETWORK = "eip155:84532";
const ASSET = "0x036cbd53842c5426634e7929541ec2318f3dcf7e";
const PAYER = `0x${"ab".repeat(20)}`;
const nonce = (i) => `0x${i.toString(16).padStart(64, "0")}`;

/** A machine_payments row as the worker writes it (crates/mkit-billing/src/x402.rs). */
function paymentRow({ i, user, tool = "text_stats", state = "settled", amount = "10000", tx = null, reason = null, created }) {
  return `(${[`${NETWORK}:${ASSET}:${PAYER}:${nonce(i)}`, user, tool, NETWORK, ASSET, amount, `0x${"cd".repeat(20)}`, PAYER,
    state, reason, tx, created, created].map(sqlText).join(", ")})`;
}

test("make ledger lists the user's machine payments, newest first, the latest 50", async () => {
  const t = Math.floor(Date.now() / 1000);
  const rows = [
    // 50 older settled payments: with the 3 newer ones below, the oldest 3 fall outside the 50.
    ...Array.from({ length: 50 }, (_, k) => paymentRow({ i: k + 1, user: sub, tx: `0x${"e".repeat(63)}${k % 10}`,
      created: t - 7200 - k })),
    paymentRow({ i: 101, user: sub, state: "failed", reason: "insufficient_funds", created: t - 120 }),
    paymentRow({ i: 102, user: sub, state: "unconfirmed", reason: "abandoned", created: t - 60 }),
    paymentRow({ i: 103, user: sub, amount: "123456789012345678901234567890", tx: `0x${"f".repeat(64)}`, created: t - 30 }),
    paymentRow({ i: 104, user: "someone-else", created: t }),
  ];
  await d1(stack.worker, "INSERT INTO machine_payments (id, user_sub, tool, network, asset, amount, pay_to, payer, state, reason, " +
    `tx, created_at, updated_at) VALUES ${rows.join(", ")}`);

  const { code, stdout, out } = await ledger(sub, "--json");
  assert.equal(code, 0, out);
  const r = JSON.parse(stdout);
  assert.equal(r.machine_payments.length, 50);
  assert.deepEqual(r.machine_payments.slice(0, 4).map((p) => [p.id.split(":").pop(), p.state, p.amount, p.reason, p.created_at]), [
    [nonce(103), "settled", "123456789012345678901234567890", null, t - 30],
    [nonce(102), "unconfirmed", "10000", "abandoned", t - 60],
    [nonce(101), "failed", "10000", "insufficient_funds", t - 120],
    [nonce(1), "settled", "10000", null, t - 7200],
  ]);
  assert.equal(r.machine_payments.at(-1).id.split(":").pop(), nonce(47), "the 3 oldest are past the latest 50");
  assert.deepEqual(Object.keys(r.machine_payments[0]).sort(),
    ["amount", "asset", "created_at", "id", "network", "payer", "reason", "state", "tool", "tx"]);
  assert.ok(!r.machine_payments.some((p) => p.id.endsWith(nonce(104))), "another user's payment is not theirs");

  const text = await ledger(sub);
  assert.equal(text.code, 0, text.out);
  const iso = (s) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
  const section = text.stdout.split("Machine payments (x402; latest 50, newest first; amounts in the asset's atomic units):\n")[1]
    ?.split("\n\n")[0].split("\n");
  assert.equal(section?.length, 50, text.stdout);
  assert.deepEqual(section.slice(0, 3), [
    `  ${iso(t - 30)}  tool text_stats  state settled  amount 123456789012345678901234567890 on ${NETWORK}  payer ${PAYER}  ` +
      `tx 0x${"f".repeat(64)}`,
    `  ${iso(t - 60)}  tool text_stats  state unconfirmed  amount 10000 on ${NETWORK}  payer ${PAYER}  reason "abandoned"`,
    `  ${iso(t - 120)}  tool text_stats  state failed  amount 10000 on ${NETWORK}  payer ${PAYER}  reason "insufficient_funds"`,
  ]);
});

test("a sub with quotes is matched exactly, and SQL in a sub stays data", async () => {
  const odd = "auth0|o'brien \"x\"; DROP TABLE customers; --";
  await send("checkout.session.completed", { user: odd });
  const r = JSON.parse((await ledger(odd, "--json")).stdout);
  assert.deepEqual(r.bindings.map((b) => b.user_sub), [odd]);
  const injected = JSON.parse((await ledger("x' OR '1'='1", "--json")).stdout);
  assert.deepEqual([injected.bindings, injected.subscriptions, injected.entitlements], [[], [], []]);
  assert.match(ledgerSql("o'b"), /CAST\(X'6f2762' AS TEXT\)/);
  assert.doesNotMatch(ledgerSql("o'b"), /o'b/);
  const none = await ledger("nobody-at-all");
  assert.match(none.stdout, /Bindings \(customers bound to this user\):\n {2}\(none\)/);
  assert.match(none.stdout, /\nMachine payments \(x402; [^\n]*\):\n {2}\(none\)\n/);
  assert.deepEqual(JSON.parse((await ledger("nobody-at-all", "--json")).stdout).machine_payments, []);
  assert.match(none.stdout, /Entitlements the worker grants now: none$/);
});

test("the grant rules: status, lapse with grace, the subscription's own user first", () => {
  const bound = new Set(["cus_1"]);
  const row = { customer_id: "cus_1", status: "active", user_sub: null, current_period_end: 1000, price_lookup_keys: '["pro", 7]' };
  assert.equal(verdict(row, "u", bound, 1000 + 86_399, 86_400).grants, true, "within the grace");
  assert.match(verdict(row, "u", bound, 1000 + 86_400, 86_400).why, /^lapsed/, "now = period end + grace no longer grants");
  assert.equal(verdict({ ...row, current_period_end: null }, "u", bound, 1e12, 0).grants, true);
  assert.equal(verdict({ ...row, status: "past_due" }, "u", bound, 0, 0).grants, false);
  assert.equal(verdict({ ...row, status: "trialing" }, "u", bound, 0, 0).grants, true);
  assert.match(verdict({ ...row, user_sub: "v" }, "u", bound, 0, 0).why, /goes to its own user "v"/);
  const r = report({ user: "u", bindings: [{ customer_id: "cus_1" }], subscriptions: [row],
    summaries: [{ customer_id: "cus_1", feature_lookup_keys: '["b", "a"]' }], conflicts: [] }, { nowSecs: 0, graceSecs: 0 });
  assert.deepEqual(r.entitlements, ["a", "b", "pro"], "text keys only, sorted, deduplicated");
  assert.throws(() => subLiteral("a\nb"), /control characters/);
  assert.throws(() => subLiteral(""), /USER is required/);
});

test("make ledger refuses without a login, without USER, and for unknown or unfilled environments", async () => {
  let r = await runCmd("make", ["-s", "ledger", "ENV=staging", "USER=someone"], { env: noLogin() });
  assert.notEqual(r.code, 0);
  assert.match(r.out, /refused: not logged in to Cloudflare/);
  // USER is also the shell's login name: only a USER given to make counts.
  r = await runCmd("make", ["-s", "ledger", "ENV=staging"], { env: { ...FAKE_CLOUDFLARE, USER: "root" } });
  assert.match(r.out, /refused: wrangler\.jsonc env\.staging still has placeholders: REPLACE_WITH_STAGING_D1_ID/);
  const filled = { ...FAKE_CLOUDFLARE, WRANGLER_CONFIG: filledConfig("ledger") };
  r = await runCmd("make", ["-s", "ledger", "ENV=staging"], { env: { ...filled, USER: "root" } });
  assert.match(r.out, /refused: USER is required/);
  r = await runCmd("make", ["-s", "ledger", "ENV=prod", "USER=x"], { env: filled });
  assert.match(r.out, /refused: ENV=prod is not an environment in wrangler\.jsonc \(staging, production\)/);
  r = await runCmd("make", ["-s", "ledger", "USER=x"], { env: filled });
  assert.match(r.out, /refused: ENV is required/);
  r = await runCmd(process.execPath, ["scripts/ledger.mjs", "--env", "staging", "--user", "a\u0007b"], { env: filled });
  assert.equal(r.code, 2);
  assert.match(r.out, /refused: USER has control characters/);
});

test("DRY_RUN=1 make ledger prints the one read-only Wrangler command", async () => {
  const user = "auth0|o'brien";
  const env = { ...FAKE_CLOUDFLARE, WRANGLER_CONFIG: filledConfig("ledger"), DRY_RUN: "1" };
  const { code, out } = await runCmd("make", ["-s", "ledger", "ENV=production", `USER=${user}`], { env });
  assert.equal(code, 0, out);
  const lines = out.trim().split("\n");
  assert.equal(lines.length, 1, out);
  const hex = Buffer.from(user).toString("hex");
  assert.ok(lines[0].startsWith("dry-run: wrangler d1 execute DB --remote --env production --json --command \"SELECT "), lines[0]);
  assert.ok(lines[0].includes(`CAST(X'${hex}' AS TEXT)`), lines[0]);
  assert.ok(!lines[0].includes("brien"), "the sub never appears as SQL text");
  assert.deepEqual(lines[0].split("--command ")[1].split("; ").map((s) => s.replace(/^"/, "").split(" ")[0]), ["SELECT", "SELECT", "SELECT", "SELECT", "SELECT"]);
  assert.ok(lines[0].includes(`FROM machine_payments WHERE user_sub = CAST(X'${hex}' AS TEXT) ORDER BY created_at DESC, id DESC LIMIT 50`),
    lines[0]);
  assert.match(lines[0], / --config \S+$/);
});

