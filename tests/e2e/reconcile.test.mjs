// `make stripe-reconcile` (scripts/reconcile.mjs) against a fake Stripe API and the real worker's
// local D1: a ledger that is partly right, partly stale and partly missing is reported (exit 1),
// repaired through the worker's own /stripe/webhook (never by SQL), and then reports nothing
// (exit 0). The listing needs two pages. Machine payments only the chain can settle are listed,
// never changed, until set by hand. Also: the refusals, and DRY_RUN's Wrangler command.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT, TEST_WEBHOOK_SECRET, d1, filledConfig } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { startFakeStripe, assertSameAsStripeNode } from "./fake-stripe.mjs";
import { noLoginVars } from "./fake-cloudflare.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";
import { READ_SQL, nonceOf, paymentsToCheck, periodEnd, lookupKeys, repairEvent } from "../../scripts/reconcile.mjs";

const exec = promisify(execFile);
const KEY = "sk_test_reconcile_e2e";
const NO_CLOUDFLARE = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
  !k.startsWith("CLOUDFLARE_") && !k.startsWith("STRIPE_") && !k.startsWith("MKIT_RECONCILE_") && k !== "DRY_RUN"));

/** Runs a command; resolves to { code, out, ms } whatever the exit status. */
async function runCmd(cmd, args, { env, timeout = 180_000 } = {}) {
  const started = Date.now();
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd: ROOT, env, timeout, maxBuffer: 1 << 24 });
    return { code: 0, out: stdout + stderr, ms: Date.now() - started };
  } catch (e) {
    if (e.killed) throw new Error(`${cmd} ${args.join(" ")} did not finish within ${timeout} ms`);
    return { code: e.code, out: (e.stdout ?? "") + (e.stderr ?? ""), ms: Date.now() - started };
  }
}

let fake;
let stack;
/** The operator's environment for the script: the fake API and the worker's local D1. */
let local;
const reconcile = (args = [], env = local) => runCmd(process.execPath, ["scripts/reconcile.mjs", "--env", "staging", ...args], { env });
const make = (args, env = local) => runCmd("make", ["-s", "stripe-reconcile", ...args], { env });
/** The `diff <id> <kind>` pairs a run printed, sorted. */
const diffs = (out) => out.split("\n").flatMap((l) => l.match(/^diff (\S+) (\S+):/)?.slice(1, 3).join(" ") ?? []).sort();
/** The webhook's JSON answer a repair line ends with. */
const answer = (line) => JSON.parse(line.slice(line.indexOf("{")));
const section = (out, which) => which === "after" ? out.slice(out.indexOf("\nafter repair:")) : out.split("\nafter repair:")[0];

const subs = {};
const ago = (s) => Math.floor(Date.now() / 1000) - s;
let ghost;

before(async () => {
  [fake, stack] = await Promise.all([startFakeStripe(), startStack({ name: "reconcile" })]);
  local = { ...NO_CLOUDFLARE, STRIPE_SECRET_KEY: KEY, MKIT_RECONCILE_STRIPE_API: fake.url,
    MKIT_RECONCILE_D1_PERSIST: stack.worker.persist };
  const pro = fake.addPrice("pro", { unit_amount: 900 });
  const basic = fake.addPrice("basic", { unit_amount: 300 });
  const t = ago(0);
  const add = (name, fields) => (subs[name] = fake.addSubscription({ metadata: { mkit_user: `${name}-user` }, price: pro, ...fields }));
  // Stripe lists newest first: `paged` is the oldest, the 108th, on the second page of 100.
  add("paged", { created: t - 5000 });
  for (let i = 0; i < 100; i++) add(`filler${i}`, { created: t - 4000 + i, price: i % 2 ? pro : basic });
  add("ok", { created: t - 100 });
  add("pastdue", { created: t - 99 });
  add("trial", { created: t - 98, status: "trialing" });
  add("canceled", { created: t - 97, status: "canceled", canceled_at: t - 10, ended_at: t - 10 });
  add("missing", { created: t - 96 });
  add("rebind", { created: t - 95 });
  add("anon", { created: t - 94, metadata: {} }); // paid, but names no user and its customer is unbound

  // The ledger, through the webhook: right for `ok` and the fillers, stale for the rest.
  const send = async (type, object, created) => {
    const res = await deliver(stack.worker.url, JSON.stringify(envelope(type, object, { created })), TEST_WEBHOOK_SECRET);
    assert.equal(res.status, 200, await res.text());
  };
  const copy = (sub, over = {}) => ({ ...structuredClone(sub), ...over });
  const fillers = Object.keys(subs).filter((n) => n.startsWith("filler"));
  for (let i = 0; i < fillers.length; i += 20) {
    await Promise.all(fillers.slice(i, i + 20).map((n) => send("customer.subscription.created", copy(subs[n]), ago(60))));
  }
  await send("customer.subscription.created", copy(subs.ok), ago(60));
  await send("customer.subscription.created", copy(subs.anon), ago(60));
  await send("customer.subscription.updated", copy(subs.pastdue, { status: "past_due" }), ago(3600));
  const trialItem = subs.trial.items.data[0];
  await send("customer.subscription.created", copy(subs.trial, { items: { ...subs.trial.items,
    data: [{ ...trialItem, price: basic, current_period_end: trialItem.current_period_end - 30 * 86400 }] } }), ago(3600));
  await send("customer.subscription.updated", copy(subs.canceled, { status: "active", canceled_at: null, ended_at: null }), ago(3600));
  await send("customer.subscription.created", copy(subs.rebind, { metadata: {} }), ago(3600));
  // A row Stripe does not know: a test event for a subscription that never existed there.
  const g = objectFor("customer.subscription.created", { user: "ghost-user" });
  await send("customer.subscription.created", g, ago(3600));
  ghost = g.id;
});

after(async () => {
  await Promise.all([stack?.stop(), fake?.stop()]);
});

test("the report: each stale, missing or unknown subscription, on both pages; exit 1 and nothing written", async () => {
  fake.reset();
  const { code, out, ms } = await reconcile();
  console.log(`report run: ${ms} ms\n${out}`);
  assert.equal(code, 1, out);
  assert.deepEqual(diffs(out), [
    `${subs.canceled.id} status`,
    `${subs.missing.id} missing`,
    `${subs.paged.id} missing`,
    `${subs.pastdue.id} status`,
    `${subs.rebind.id} user`,
    `${subs.trial.id} current_period_end`,
    `${subs.trial.id} lookup_keys`,
    `${ghost} not_in_stripe`,
  ].sort());
  const line = (id, kind) => out.split("\n").find((l) => l.startsWith(`diff ${id} ${kind}:`));
  assert.match(line(subs.pastdue.id, "status"), /: Stripe active, ledger past_due$/);
  assert.match(line(subs.canceled.id, "status"), /: Stripe canceled, ledger active$/);
  assert.match(line(subs.trial.id, "lookup_keys"), /: Stripe \["pro"\], ledger \["basic"\]$/);
  const end = subs.trial.items.data[0].current_period_end;
  assert.match(line(subs.trial.id, "current_period_end"), new RegExp(`: Stripe ${end} \\(.*\\), ledger ${end - 30 * 86400} \\(`));
  assert.match(line(subs.rebind.id, "user"), /Stripe metadata\.mkit_user "rebind-user", ledger grants to \(none\) \(nobody/);
  assert.match(line(subs.paged.id, "missing"), /not in the ledger \(Stripe: active, \["pro"\], .*user "paged-user"/);
  assert.match(line(ghost, "not_in_stripe"), /\[not repairable here: Stripe has no such subscription/);
  assert.match(out, /reconcile: 8 differences in 7 subscriptions \(108 subscriptions in Stripe \(2 pages\), 107 in the ledger\)/);
  assert.match(out, /make stripe-reconcile ENV=staging APPLY=1 URL=/);
  assert.match(out, new RegExp(`^note ${subs.anon.id}: active but grants nobody: no metadata\\.mkit_user on it ` +
    `and customer ${subs.anon.customer} is unbound`, "m"));

  // Pagination: a second page after the 100th subscription, and the call is stripe-node's own.
  const lists = fake.requestsTo("GET", "/v1/subscriptions");
  assert.equal(lists.length, 2);
  assert.deepEqual(lists.map((r) => r.query), [{ status: "all", limit: "100" },
    { status: "all", limit: "100", starting_after: Object.values(subs).sort((x, y) => y.created - x.created)[99].id }]);
  assert.equal(lists[0].headers.authorization, `Bearer ${KEY}`);
  await assertSameAsStripeNode(lists[0], (s) => s.subscriptions.list({ status: "all", limit: 100 }));
  assert.deepEqual(fake.requestsTo("POST", "*"), [], "the report writes nothing to Stripe");
  assert.deepEqual(await d1(stack.worker, "SELECT id FROM processed_events WHERE id LIKE 'evt_reconcile_%'"), []);
});

test("--apply with the wrong webhook secret: every repair is refused by the worker, exit 1, ledger unchanged", async () => {
  const wrong = { ...local, STRIPE_WEBHOOK_SECRET: "whsec_not_the_deployments" };
  const { code, out } = await reconcile(["--apply", "--url", stack.worker.url], wrong);
  assert.equal(code, 1, out);
  const refused = out.split("\n").filter((l) => l.startsWith("REFUSED "));
  assert.equal(refused.length, 6, out);
  for (const l of refused) {
    assert.match(l, /→ HTTP 400 \{/);
    assert.deepEqual(answer(l), { error: "signature_invalid", reason: "no signature matches" });
  }
  assert.match(out, /reconcile: 6 of 6 repairs refused/);
  assert.equal(diffs(section(out, "after")).length, 8, "the same differences remain");
  assert.deepEqual(await d1(stack.worker, "SELECT id FROM processed_events WHERE id LIKE 'evt_reconcile_%'"), []);
});

test("--apply repairs through the webhook; the ledger then matches Stripe; a last report exits 0", async () => {
  const { code, out, ms } = await make(["ENV=staging", "APPLY=1", `URL=${stack.worker.url}`],
    { ...local, STRIPE_WEBHOOK_SECRET: `${TEST_WEBHOOK_SECRET},whsec_older` });
  console.log(`apply run: ${ms} ms\n${out}`);
  // The ghost row cannot be repaired from Stripe: it remains, so the run still exits 1 (make: Error 1).
  assert.notEqual(code, 0, out);
  assert.match(out, /make(\[\d+\])?: \*\*\* \[Makefile:\d+: stripe-reconcile\] Error 1/);
  const repairs = out.split("\n").filter((l) => l.startsWith("repair sub_"));
  assert.equal(repairs.length, 6, out);
  for (const name of ["pastdue", "trial", "missing", "rebind", "paged"]) {
    const l = repairs.find((r) => r.startsWith(`repair ${subs[name].id} `));
    assert.match(l, /customer\.subscription\.updated evt_reconcile_[0-9a-f]{24} → HTTP 200 \{/, name);
    assert.deepEqual(answer(l).outcome, "applied", name);
  }
  const deleted = repairs.find((r) => r.includes(subs.canceled.id));
  assert.match(deleted, /customer\.subscription\.deleted evt_reconcile_\w+ → HTTP 200 /);
  assert.deepEqual([answer(deleted).outcome, answer(deleted).duplicate, answer(deleted).changes], ["applied", false, 1]);
  assert.doesNotMatch(out, /REFUSED/);
  assert.deepEqual(diffs(section(out, "after")), [`${ghost} not_in_stripe`]);
  assert.match(section(out, "after"),
    /reconcile: 1 difference in 1 subscription \(108 subscriptions in Stripe \(2 pages\), 109 in the ledger\)/);

  // The rows the ledger code wrote, checked against the fake's subscriptions directly.
  const rows = await d1(stack.worker, "SELECT s.id, s.customer_id, s.status, s.price_lookup_keys, s.current_period_end, " +
    "COALESCE(s.user_sub, c.user_sub) AS user FROM subscriptions s LEFT JOIN customers c USING (customer_id)");
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const [name, sub] of Object.entries(subs)) {
    assert.deepEqual(byId.get(sub.id), { id: sub.id, customer_id: sub.customer, status: sub.status,
      price_lookup_keys: JSON.stringify(lookupKeys(sub)), current_period_end: periodEnd(sub),
      user: name === "anon" ? null : `${name}-user` }, name);
  }
  const events = await d1(stack.worker, "SELECT type, outcome FROM processed_events WHERE id LIKE 'evt_reconcile_%' ORDER BY type");
  assert.deepEqual(events.map((e) => `${e.type} ${e.outcome}`), ["customer.subscription.deleted applied",
    ...Array(5).fill("customer.subscription.updated applied")]);

  // The runbook's step for a row Stripe does not know, then a clean report.
  await d1(stack.worker, `DELETE FROM subscriptions WHERE id = '${ghost}'`);
  const last = await reconcile();
  assert.equal(last.code, 0, last.out);
  assert.match(last.out, /reconcile: no differences \(108 subscriptions in Stripe \(2 pages\), 108 in the ledger\)/);
  assert.doesNotMatch(last.out, /^diff /m);
  const again = await reconcile(["--apply", "--url", stack.worker.url], { ...local, STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
  assert.equal(again.code, 0, again.out);
  assert.doesNotMatch(again.out, /repair|applying/, "nothing to repair, nothing sent");
});

test("a subscription bound to another user is reported, not rebound: the first user named keeps it", async () => {
  const sub = subs.ok;
  sub.metadata = { mkit_user: "mallory" }; // edited in the Dashboard after the first binding
  try {
    const { code, out } = await reconcile(["--apply", "--url", stack.worker.url], { ...local, STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
    assert.equal(code, 1, out);
    assert.deepEqual(diffs(section(out, "before")), [`${sub.id} user`]);
    assert.match(out, new RegExp(`diff ${sub.id} user: Stripe metadata\\.mkit_user "mallory", ledger grants to "ok-user" ` +
      "\\(the subscription's own\\) \\[not repairable here: the ledger keeps the first user"));
    assert.doesNotMatch(out, /^repair |REFUSED/m, "no event is sent for it");
    assert.deepEqual(await d1(stack.worker, `SELECT user_sub FROM subscriptions WHERE id = '${sub.id}'`), [{ user_sub: "ok-user" }]);
  } finally {
    sub.metadata = { mkit_user: "ok-user" };
  }
});

test("machine payments only the chain can settle are listed (payer, nonce, network, amount, user), never changed", async () => {
  const t = ago(0);
  const network = "eip155:84532";
  const asset = "0x036cbd53842c5426634e7929541ec2318f3dcf7e";
  const payer = (c) => `0x${c.repeat(40)}`;
  const nonce = (c) => `0x${c.repeat(64)}`;
  const id = (c) => `${network}:${asset}:${payer(c)}:${nonce(c)}`;
  // [payer and nonce digit, user, state, created, reason]: unconfirmed at any age, open ones past an hour.
  const rows = [
    ["1", "pay-user-1", "unconfirmed", t - 600, "timeout"],
    ["2", "pay-user-2", "verifying", t - 7200, null],
    ["3", "pay-user-3", "verifying", t - 3700, null],
    ["4", "pay-user-4", "verifying", t - 600, null], // in flight: the worker may still settle it
    ["5", "pay-user-5", "settled", t - 7200, null],
    ["6", "pay-user-6", "failed", t - 7200, "insufficient_funds"],
  ];
  await d1(stack.worker, "INSERT INTO machine_payments (id, user_sub, tool, network, asset, amount, pay_to, payer, state, reason, " +
    "created_at, updated_at) VALUES " + rows.map(([c, user, state, created, reason]) => `('${id(c)}', '${user}', 'text_stats', ` +
    `'${network}', '${asset}', '${c}0000', '0x${"cd".repeat(20)}', '${payer(c)}', '${state}', ${reason ? `'${reason}'` : "NULL"}, ` +
    `${created}, ${created})`).join(", "));
  const stored = () => d1(stack.worker, "SELECT id, state, reason, tx, updated_at FROM machine_payments ORDER BY id");
  const before = await stored();

  const { code, out } = await reconcile();
  assert.equal(code, 1, out);
  assert.match(out, /^reconcile: no differences \(108 subscriptions in Stripe \(2 pages\), 108 in the ledger\)$/m, "Stripe's side is clean");
  const iso = (s) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
  const line = (c, state, user, created, reason) => `payment ${id(c)} ${state}: payer ${payer(c)}, nonce ${nonce(c)}, ` +
    `network ${network}, asset ${asset}, amount ${c}0000, user "${user}", tool text_stats, since ${iso(created)}` +
    (reason ? `, reason "${reason}"` : "");
  assert.deepEqual(out.split("\n").filter((l) => l.startsWith("payment ")), [
    line("2", "verifying", "pay-user-2", t - 7200),
    line("3", "verifying", "pay-user-3", t - 3700),
    line("1", "unconfirmed", "pay-user-1", t - 600, "timeout"),
  ]);
  assert.ok(out.split("\n").includes("machine payments: 3 to check on chain (not in Stripe; nothing here changes them): " +
    "read authorizationState(payer, nonce) on the asset's contract in the network's explorer: true means the authorization " +
    "was used, so it settled; then set the row by hand (docs/runbook.md#symptom-a-machine-payment-to-check-on-chain)"), out);
  // --apply has nothing to send for them, and changes no row.
  const applied = await reconcile(["--apply", "--url", stack.worker.url], { ...local, STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
  assert.equal(applied.code, 1, applied.out);
  assert.equal(applied.out.split("\n").filter((l) => l.startsWith("payment ")).length, 3, applied.out);
  assert.doesNotMatch(applied.out, /^(repair|REFUSED|applying)/m);
  assert.deepEqual(await stored(), before, "the rows are as they were");

  // The runbook's step once the chain is read: used → settled with its transaction, unused → failed.
  await d1(stack.worker, `UPDATE machine_payments SET state = 'settled', tx = '0x${"ee".repeat(32)}', reason = 'reconciled on chain', ` +
    `updated_at = unixepoch() WHERE id = '${id("1")}'`);
  await d1(stack.worker, "UPDATE machine_payments SET state = 'failed', reason = 'not used on chain', updated_at = unixepoch() " +
    `WHERE id IN ('${id("2")}', '${id("3")}')`);
  const last = await reconcile();
  assert.equal(last.code, 0, last.out);
  assert.doesNotMatch(last.out, /^(payment|machine payments)/m);

  assert.equal(nonceOf(id("7")), nonce("7"));
  assert.deepEqual(paymentsToCheck([{ state: "verifying", created_at: 1000 }, { state: "verifying", created_at: 999 },
    { state: "unconfirmed", created_at: 5000 }], 1000 + 3600).map((p) => p.created_at), [999, 5000], "as the sweep: older than 1 h");
});

test("refusals: no Stripe key, no Cloudflare credentials for --remote, --apply without URL or secret, unknown ENV", async () => {
  fake.reset();
  let r = await reconcile([], { ...local, STRIPE_SECRET_KEY: "" });
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /^refused: STRIPE_SECRET_KEY not set/m);

  const started = Date.now();
  r = await make(["ENV=staging"], { ...NO_CLOUDFLARE, ...noLoginVars(), STRIPE_SECRET_KEY: KEY, WRANGLER_CONFIG: filledConfig("reconcile") });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /^refused: not logged in to Cloudflare/m);
  assert.ok(Date.now() - started < 30_000, "refused without waiting for a login");
  r = await reconcile([], { ...NO_CLOUDFLARE, ...noLoginVars(), STRIPE_SECRET_KEY: "pk_test_publishable" });
  assert.match(r.out, /still has placeholders: REPLACE_WITH_STAGING_D1_ID.*; STRIPE_SECRET_KEY is not a Stripe secret or restricted key/,
    "every reason at once");

  r = await make(["ENV=staging", "APPLY=1"], { ...local, STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /^refused: --apply needs the deployment's URL: APPLY=1 URL=https:\/\/<host>/m);
  r = await reconcile(["--apply", "--url", "ftp://x"]);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: URL=ftp:\/\/x is not an http\(s\) URL; --apply needs STRIPE_WEBHOOK_SECRET/);

  r = await make(["ENV=prod"]);
  assert.match(r.out, /refused: ENV=prod is not an environment in wrangler\.jsonc \(staging, production\)/);
  r = await runCmd(process.execPath, ["scripts/reconcile.mjs", "--apply", "yes"], { env: local });
  assert.match(r.out, /refused: unexpected argument yes/);
  const creds = { ...NO_CLOUDFLARE, STRIPE_SECRET_KEY: KEY, CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: "a" };
  r = await reconcile([], creds);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /^refused: wrangler\.jsonc env\.staging still has placeholders: REPLACE_WITH_STAGING_D1_ID/m);
  assert.equal(fake.requestsTo("GET", "/v1/subscriptions").length, 0, "no refusal reached Stripe");
});

test("DRY_RUN=1 prints the Stripe call and the Wrangler command, and runs neither", async () => {
  fake.reset();
  const env = { ...NO_CLOUDFLARE, STRIPE_SECRET_KEY: "sk_live_x", CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: "a", DRY_RUN: "1",
    WRANGLER_CONFIG: filledConfig("filled-reconcile"), STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET };
  const { code, out } = await make(["ENV=production", "APPLY=1", "URL=https://mkit.example.com/"], env);
  assert.equal(code, 0, out);
  assert.deepEqual(out.trim().split("\n").map((l) => l.replace(/ --config \S+/, "")), [
    'dry-run: stripe subscriptions.list({ status: "all", limit: 100 }), every page, live mode, https://api.stripe.com',
    `dry-run: wrangler d1 execute DB --remote --env production --json --command ${JSON.stringify(READ_SQL)}`,
    "dry-run: for each differing subscription, POST https://mkit.example.com/stripe/webhook (customer.subscription.updated or .deleted, signed)",
  ]);
  assert.equal(fake.requests.length, 0);
});

test("the repair event: the API's object untouched, a fresh evt_reconcile_ id, deleted for canceled", () => {
  const sub = structuredClone(subs.canceled);
  const a = repairEvent(sub, 1_800_000_000);
  const b = repairEvent(sub, 1_800_000_000);
  assert.equal(a.type, "customer.subscription.deleted");
  assert.equal(repairEvent(subs.trial, 1).type, "customer.subscription.updated");
  assert.equal(a.data.object, sub);
  assert.match(a.id, /^evt_reconcile_[0-9a-f]{24}$/);
  assert.notEqual(a.id, b.id);
  assert.deepEqual([a.object, a.created, a.livemode], ["event", 1_800_000_000, false]);
  // The period on the items (API 2025-03-31 on) or, before, on the subscription.
  assert.equal(periodEnd({ current_period_end: 5, items: { data: [{ current_period_end: 9 }] } }), 5);
  assert.equal(periodEnd({ items: { data: [{ current_period_end: 9 }, { current_period_end: 7 }] } }), 9);
  assert.equal(periodEnd({ items: { data: [] } }), null);
  assert.deepEqual(lookupKeys({ items: { data: [{ price: { lookup_key: "b" } }, { price: { lookup_key: null } }, { price: { lookup_key: "a" } },
    { price: { lookup_key: "b" } }] } }), ["a", "b"]);
});

