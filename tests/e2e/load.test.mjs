// Load, end to end, on the real worker in workerd: (a) 2,000 authenticated tools/call at
// concurrency 32, free and paid; (b) 500 signed Stripe webhook deliveries at concurrency 32 with
// random duplicates and random order over a set of customers and subscriptions, after which the
// D1 ledger must equal the state of each object's latest event, and no event applied twice.
// Throughput and latency are printed (console.log), never asserted: they depend on the machine.
// The webhook run is reproducible: LOAD_SEED=<n> replays the printed seed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { d1, EXAMPLES_BUILD, TEST_WEBHOOK_SECRET } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { callTool, pool, summary, timedFetch } from "./timed.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";

const CONCURRENCY = 32;
const CALLS = 2000;
const DELIVERIES = 500;

let stack;
let sub;
const tokens = [];
before(async () => {
  stack = await startStack({ name: "load", script: EXAMPLES_BUILD });
  // A few tokens for the same client, so the verified-token cache sees more than one.
  for (let i = 0; i < 4; i++) tokens.push(await stack.token());
  const who = await callTool(stack.worker.url, tokens[0], "whoami");
  assert.equal(who.status, 200, who.text);
  sub = who.result.structuredContent.sub;
});
after(async () => {
  await stack?.stop();
});

/** A seeded PRNG (mulberry32), so a failing webhook run can be replayed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = [
  ["Paid words. Counted here.", { characters: 25, words: 4, sentences: 2, unique_words: 4, reading_seconds: 2 }],
  ["One two. Three!", { characters: 15, words: 3, sentences: 2, unique_words: 3, reading_seconds: 1 }],
];

test(`${CALLS} authenticated tools/call at concurrency ${CONCURRENCY}: all 200, no unexpected tool error`, { timeout: 150_000 }, async () => {
  const grant = envelope("customer.subscription.created", objectFor("customer.subscription.created", { user: sub }));
  const g = await deliver(stack.worker.url, JSON.stringify(grant), TEST_WEBHOOK_SECRET);
  assert.equal(g.status, 200, await g.text());

  // Mostly whoami and text_stats; every 50th call has invalid arguments (an expected tool error).
  const plan = (i) => {
    if (i % 50 === 49) return { name: "text_stats", args: { txt: "typo" }, expectError: true };
    if (i % 2 === 0) return { name: "whoami", args: {} };
    const [text, stats] = TEXTS[(i >> 1) % TEXTS.length];
    return { name: "text_stats", args: { text }, stats };
  };
  const t0 = performance.now();
  const results = await pool(CALLS, CONCURRENCY, async (i) => {
    const p = plan(i);
    const r = await callTool(stack.worker.url, tokens[i % tokens.length], p.name, p.args, { id: i, timeoutMs: 30_000 });
    return { ...p, i, r };
  });
  const wall = performance.now() - t0;

  const failures = [];
  for (const { i, name, expectError, stats, r } of results) {
    const problem = (() => {
      if (r.status !== 200) return `status ${r.status} ${r.text ?? r.error}`;
      if (!r.result) return `no result: ${r.text}`;
      if (expectError) return r.result.isError === true ? null : `expected a tool error: ${r.text}`;
      if (r.result.isError !== false) return `tool error: ${r.text}`;
      if (name === "whoami") {
        const s = r.result.structuredContent;
        return s.sub === sub && s.entitlements.includes("pro") ? null : `whoami: ${r.text}`;
      }
      return isDeepStrictEqual(r.result.structuredContent, stats) ? null : `text_stats: ${r.text}`;
    })();
    if (problem) failures.push(`#${i} ${name}: ${problem}`);
  }
  const byTool = (n) => results.filter((x) => x.name === n && !x.expectError).map((x) => x.r.ms);
  console.log(`[load:tools] ${CALLS} calls in ${(wall / 1000).toFixed(2)} s = ${(CALLS / (wall / 1000)).toFixed(0)} calls/s ` +
    `at concurrency ${CONCURRENCY}; failures ${failures.length}`);
  console.log(`[load:tools] all      ${summary(results.map((x) => x.r.ms))}`);
  console.log(`[load:tools] whoami   ${summary(byTool("whoami"))}`);
  console.log(`[load:tools] text_stats ${summary(byTool("text_stats"))}`);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${CALLS} calls failed`);
});

/**
 * The webhook storm's events: `customers` customers, each with one or two subscriptions; every
 * subscription a `created` then `updated`s with various statuses, keys and periods, sometimes
 * ending `deleted` (a terminal state is always an object's last event, as at Stripe). `created`
 * is unique per event and increases along each object's history. Each customer keeps one user:
 * under "the first binding wins" a customer switching users midway would leave the ledger with
 * whichever binding a concurrent delivery applied first, which a load test cannot predict (the
 * binding rules and conflicts are tested on SQLite in crates/mkit-billing/src/ledger/tests.rs). The items are
 * replaced by one per lookup key.
 */
function storm(random, runId, { customers = 20, deliveries = DELIVERIES } = {}) {
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const KEYS = [["pro"], ["basic"], ["pro", "search"], [], ["search", "pro", "pro"]];
  const STATUSES = ["active", "trialing", "past_due", "unpaid", "paused", "incomplete", "active"];
  const subs = [];
  for (let c = 0; c < customers; c++) {
    const customer = `cus_load_${runId}_${c}`;
    const users = [`load-user-${runId}-${c}`, ...(random() < 0.3 ? [`load-user-${runId}-${c}-b`] : [])];
    const n = random() < 0.5 ? 2 : 1;
    for (let s = 0; s < n; s++) {
      const steps = 8 + Math.floor(random() * 7);
      const history = [];
      for (let k = 0; k < steps; k++) {
        const last = k === steps - 1;
        const type = k === 0 ? "customer.subscription.created" : last && random() < 0.35 ? "customer.subscription.deleted"
          : "customer.subscription.updated";
        const status = type === "customer.subscription.deleted" ? "canceled"
          : last && random() < 0.1 ? "incomplete_expired" : pick(STATUSES);
        history.push({ type, status, keys: pick(KEYS), period: 1_900_000_000 + Math.floor(random() * 1e6) });
      }
      subs.push({ id: `sub_load_${runId}_${c}_${s}`, customer, users, history });
    }
  }
  // One `created` timeline over all events, interleaving objects, each object's history in order.
  const cursors = subs.map(() => 0);
  const events = [];
  const base = Math.floor(Date.now() / 1000) - 7 * 86400;
  let remaining = subs.reduce((n, s) => n + s.history.length, 0);
  while (remaining > 0) {
    const open = subs.map((_, i) => i).filter((i) => cursors[i] < subs[i].history.length);
    const i = pick(open);
    const s = subs[i];
    const k = cursors[i]++;
    remaining--;
    const h = s.history[k];
    const user = s.users[0];
    const object = objectFor(h.type, { user, customer: s.customer, subscription: s.id, status: h.status, lookupKey: h.keys[0] ?? "pro" });
    object.items.data = h.keys.map((key, j) => ({ ...object.items.data[0], id: `si_load_${runId}_${i}_${j}`,
      current_period_end: h.period - j, price: { ...object.items.data[0].price, id: `price_load_${key}`, lookup_key: key } }));
    const ev = envelope(h.type, object, { created: base + events.length * 7 });
    ev.id = `evt_load_${runId}_${events.length}`;
    events.push({ ev, sub: s.id, customer: s.customer, user, status: h.status, keys: h.keys, period: h.keys.length ? h.period : null });
  }
  // Every event once, plus random duplicates, all in random order.
  const order = events.map((_, i) => i);
  while (order.length < deliveries) order.push(Math.floor(random() * events.length));
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { subs, events, order };
}

test(`${DELIVERIES} signed webhook deliveries at concurrency ${CONCURRENCY}, duplicated and reordered: the ledger equals the latest events, none applied twice`,
  { timeout: 150_000 }, async () => {
    const seed = Number(process.env.LOAD_SEED ?? Date.now() % 2 ** 31);
    const runId = seed.toString(36);
    const { subs, events, order } = storm(rng(seed), runId);
    console.log(`[load:webhooks] seed ${seed}: ${subs.length} subscriptions over ${new Set(subs.map((s) => s.customer)).size} customers, ` +
      `${events.length} distinct events, ${order.length} deliveries (${order.length - events.length} duplicates)`);
    const payloads = events.map((e) => JSON.stringify(e.ev));

    const t0 = performance.now();
    const answers = await pool(order.length, CONCURRENCY, async (n) => {
      const i = order[n];
      const started = performance.now();
      try {
        const res = await deliver(stack.worker.url, payloads[i], TEST_WEBHOOK_SECRET);
        const text = await res.text();
        let body;
        try { body = JSON.parse(text); } catch { body = { unparsed: text }; }
        return { i, status: res.status, body, ms: performance.now() - started };
      } catch (e) {
        return { i, status: "error", body: { error: String(e) }, ms: performance.now() - started };
      }
    });
    const wall = performance.now() - t0;
    console.log(`[load:webhooks] ${order.length} deliveries in ${(wall / 1000).toFixed(2)} s = ` +
      `${(order.length / (wall / 1000)).toFixed(0)} deliveries/s; latency ${summary(answers.map((a) => a.ms))}`);

    const bad = answers.filter((a) => a.status !== 200);
    assert.deepEqual(bad.slice(0, 5).map((a) => `${events[a.i].ev.id}: ${a.status} ${JSON.stringify(a.body)}`), [],
      `${bad.length} deliveries not answered 200`);

    // The worker's answers: each event applied exactly once; a duplicate changes nothing.
    const firsts = new Map();
    let duplicates = 0;
    for (const a of answers) {
      assert.equal(a.body.event, events[a.i].ev.id);
      assert.equal(a.body.outcome, "applied");
      if (a.body.duplicate) {
        duplicates++;
        assert.equal(a.body.changes, 0, `a duplicate delivery of ${a.body.event} changed ${a.body.changes} rows`);
      } else {
        assert.ok(!firsts.has(a.i), `${a.body.event} answered duplicate:false twice`);
        firsts.set(a.i, a.body);
      }
    }
    assert.equal(firsts.size, events.length, "every event applied once");
    assert.equal(duplicates, order.length - events.length, "every redelivery recognised as a duplicate");
    // An object's latest event always writes its row (nothing newer can be there before it).
    for (const s of subs) {
      const latest = events.reduce((best, e, i) => (e.sub === s.id && (best < 0 || e.ev.created > events[best].ev.created) ? i : best), -1);
      assert.ok(firsts.get(latest).changes >= 1, `the latest event of ${s.id} changed nothing: ${JSON.stringify(firsts.get(latest))}`);
    }
    const changed = [...firsts.values()].filter((b) => b.changes > 0).length;
    console.log(`[load:webhooks] answers: ${events.length} applied once (${changed} changed rows, ` +
      `${events.length - changed} arrived after a newer event and changed nothing), ${duplicates} duplicates changed nothing`);

    // The ledger: the state of each object's latest event.
    const latestBy = (key) => {
      const m = new Map();
      for (const e of events) if (!m.has(e[key]) || e.ev.created > m.get(e[key]).ev.created) m.set(e[key], e);
      return m;
    };
    const wantSubs = [...latestBy("sub").values()].map((e) => ({
      id: e.sub, customer_id: e.customer, status: e.status,
      price_lookup_keys: JSON.stringify([...new Set(e.keys)].sort()),
      current_period_end: e.period, last_event_created: e.ev.created,
      latest_invoice_status: null, invoice_event_created: 0, user_sub: e.user,
    })).sort((x, y) => x.id.localeCompare(y.id));
    const gotSubs = await d1(stack.worker, `SELECT * FROM subscriptions WHERE id LIKE 'sub_load_${runId}_%' ORDER BY id`);
    assert.deepEqual(gotSubs.sort((x, y) => x.id.localeCompare(y.id)), wantSubs);
    // The first binding wins, so a customer keeps the `created` of whichever of its events was
    // applied first (deliveries are concurrent and reordered): any of its events' times.
    const wantCustomers = [...latestBy("customer").values()].map((e) => ({ customer_id: e.customer, user_sub: e.user }))
      .sort((x, y) => x.customer_id.localeCompare(y.customer_id));
    const gotCustomers = await d1(stack.worker, `SELECT * FROM customers WHERE customer_id LIKE 'cus_load_${runId}_%'`);
    gotCustomers.sort((x, y) => x.customer_id.localeCompare(y.customer_id));
    assert.deepEqual(gotCustomers.map(({ customer_id, user_sub }) => ({ customer_id, user_sub })), wantCustomers);
    for (const c of gotCustomers) {
      assert.ok(events.some((e) => e.customer === c.customer_id && e.ev.created === c.bound_created),
        `${c.customer_id} bound at ${c.bound_created}, the time of none of its events`);
    }
    const rows = await d1(stack.worker, `SELECT id, type, created, outcome FROM processed_events WHERE id LIKE 'evt_load_${runId}_%'`);
    assert.equal(rows.length, events.length, "exactly one processed_events row per distinct event");
    const want = new Map(events.map((e) => [e.ev.id, e.ev]));
    for (const r of rows) {
      const ev = want.get(r.id);
      assert.ok(ev, `unexpected row ${r.id}`);
      assert.deepEqual([r.type, r.created, r.outcome], [ev.type, ev.created, "applied"]);
      want.delete(r.id);
    }
    assert.equal(want.size, 0);
    const granted = wantSubs.filter((s) => ["active", "trialing"].includes(s.status) && JSON.parse(s.price_lookup_keys).includes("pro")).length;
    console.log(`[load:webhooks] ledger matches: ${wantSubs.length} subscriptions (${granted} granting pro), ` +
      `${wantCustomers.length} customers, ${rows.length} processed events`);

    // The worker is still healthy and the first test's grant untouched.
    const h = await timedFetch(`${stack.worker.url}/healthz`);
    assert.equal(h.status, 200, h.text);
    const who = await callTool(stack.worker.url, tokens[0], "whoami");
    assert.deepEqual(who.result.structuredContent.entitlements, ["pro"]);
  });

const CALLERS = 12;
const QUOTA = 10; // test_free_quota: 10 calls a day
/**
 * Issue #30: many distinct callers at once through a free quota and a credit balance, their calls
 * interleaved at concurrency 32. Each caller's counters are their own and exact: every caller gets
 * exactly their 10 free calls and exactly as many credit calls as their balance held (a different
 * balance each, so a counter shared or crossed between callers would show), and the ledger agrees.
 */
test(`${CALLERS} distinct callers at once through a free quota and credits: each caller's counters exact and their own`, { timeout: 150_000 }, async (t) => {
  const callers = [];
  for (let i = 0; i < CALLERS; i++) {
    const { access_token: token } = await stack.issuer.userTokens({ user: `load-caller-${i}` });
    const who = await callTool(stack.worker.url, token, "whoami");
    assert.equal(who.status, 200, who.text);
    const credits = 3 + i;
    const pack = objectFor("checkout.session.completed", { user: who.result.structuredContent.sub });
    const paid = envelope("checkout.session.completed", { ...pack, id: `cs_load_${i}`, mode: "payment",
      subscription: null, metadata: { mkit_user: who.result.structuredContent.sub, mkit_credits: String(credits) } });
    const res = await deliver(stack.worker.url, JSON.stringify(paid), TEST_WEBHOOK_SECRET);
    assert.equal(res.status, 200, await res.text());
    callers.push({ token, sub: who.result.structuredContent.sub, credits });
  }
  // Each caller asks for 5 more than they may have of each; the calls of all callers interleave.
  const plan = callers.flatMap((c) => [
    ...Array.from({ length: QUOTA + 5 }, () => ({ c, tool: "test_free_quota" })),
    ...Array.from({ length: c.credits + 5 }, () => ({ c, tool: "test_credits" })),
  ]);
  for (let i = plan.length - 1; i > 0; i--) { // a fixed shuffle, so callers interleave
    const j = (i * 7919) % (i + 1);
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  const t0 = performance.now();
  const results = await pool(plan.length, CONCURRENCY, async (i) => {
    const r = await callTool(stack.worker.url, plan[i].c.token, plan[i].tool);
    assert.equal(r.status, 200, r.text);
    return { ...plan[i], ran: r.result.isError !== true };
  });
  t.diagnostic(`${plan.length} quota and credit calls of ${CALLERS} callers settled in ${(performance.now() - t0).toFixed(0)} ms`);
  for (const c of callers) {
    const mine = results.filter((r) => r.c === c);
    const ran = (tool) => mine.filter((r) => r.tool === tool && r.ran).length;
    assert.equal(ran("test_free_quota"), QUOTA, `${c.sub}: exactly the free quota`);
    assert.equal(ran("test_credits"), c.credits, `${c.sub}: exactly the balance`);
    const who = (await callTool(stack.worker.url, c.token, "whoami")).result.structuredContent;
    assert.equal(who.credits, 0, `${c.sub}: balance spent to 0`);
    assert.equal(who.quotas.find((q) => q.quota === "test_free_quota").used, QUOTA);
  }
  const usage = await d1(stack.worker, "SELECT user_sub, used FROM quota_usage WHERE user_sub LIKE '%load-caller-%'");
  assert.equal(usage.length, CALLERS, "one quota counter per caller");
  assert.ok(usage.every((u) => u.used === QUOTA), JSON.stringify(usage));
});
