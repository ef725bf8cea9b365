// POST /stripe/webhook on workerd, every payload signed by Stripe's own library
// (`stripe.webhooks.generateTestHeaderString`), with the local D1 as the ledger.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import Stripe from "stripe";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { d1, EXAMPLES_BUILD } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { envelope, objectFor, deliver, STRIPE_API_VERSION } from "../../scripts/stripe-event.mjs";

const OLD = "whsec_e2e_old_secret";
const NEW = "whsec_e2e_new_secret";
const stripe = new Stripe("sk_test_not_used");
const UPGRADE = "https://billing.example.com/upgrade";
let stack;
let client;
let sub;
before(async () => {
  stack = await startStack({ name: "stripe", script: EXAMPLES_BUILD, vars: { STRIPE_WEBHOOK_SECRET: `${OLD},${NEW}`, MKIT_UPGRADE_URL: UPGRADE } });
  const token = await stack.token();
  client = new Client({ name: "mkit-e2e-billing", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  }));
  // Listing tools makes the SDK validate every structuredContent, errors included, against outputSchema.
  await client.listTools();
  sub = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent.sub;
});
after(async () => {
  await client?.close();
  await stack?.stop();
});

let seq = 0;
const event = (type, object = { id: "obj_1" }) => JSON.stringify({
  id: `evt_e2e_${Date.now()}_${seq++}`, object: "event", api_version: STRIPE_API_VERSION, created: Math.floor(Date.now() / 1000),
  type, data: { object }, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null },
});
const send = (payload, { secret = NEW, timestamp, header } = {}) => fetch(`${stack.worker.url}/stripe/webhook`, {
  method: "POST",
  headers: { "content-type": "application/json",
    ...(header === null ? {} : { "stripe-signature": header ?? stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }) }) },
  body: payload,
});

test("a verified event of a type the ledger does not use: 200, recorded once as ignored", async () => {
  const payload = event("charge.refunded");
  const { id } = JSON.parse(payload);
  const first = await send(payload);
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(),
    { received: true, event: id, type: "charge.refunded", outcome: "ignored", duplicate: false, changes: 0, conflicts: 0 });
  const again = await send(payload);
  assert.equal(again.status, 200);
  assert.equal((await again.json()).duplicate, true, "a redelivery is recognised");
  const rows = await d1(stack.worker, `SELECT id, type, outcome FROM processed_events WHERE id = '${id}'`);
  assert.deepEqual(rows, [{ id, type: "charge.refunded", outcome: "ignored" }]);
  // /healthz reuses its D1 answers for up to 5 s per isolate: the new time shows within that.
  let health;
  for (let i = 0; i < 30; i++) {
    health = await (await fetch(`${stack.worker.url}/healthz`)).json();
    if (Date.now() - (health.checks.billing.last_event_at ?? 0) < 60_000) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(health.checks.billing.webhook_secret, "ok");
  assert.ok(Date.now() - health.checks.billing.last_event_at < 60_000, "the last event time is reported");
});

test("both secrets of a rotation are accepted", async () => {
  for (const secret of [OLD, NEW]) {
    const res = await send(event("charge.refunded"), { secret });
    assert.equal(res.status, 200, secret);
  }
});

test("bad signatures get 400 naming the reason, never the expected signature", async () => {
  const payload = event("charge.refunded");
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ["missing header", () => send(payload, { header: null }), "missing Stripe-Signature header"],
    ["wrong secret", () => send(payload, { secret: "whsec_someone_else" }), "no signature matches"],
    ["tampered body", () => fetch(`${stack.worker.url}/stripe/webhook`, { method: "POST",
      headers: { "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload, secret: NEW }) },
      body: payload.replace("charge.refunded", "charge.captured") }), "no signature matches"],
    ["stale timestamp", () => send(payload, { timestamp: now - 400 }), "timestamp outside the tolerance"],
    ["future timestamp", () => send(payload, { timestamp: now + 400 }), "timestamp outside the tolerance"],
    ["v0 only", () => send(payload, { header: `t=${now},v0=abc` }), "no v1 signature in Stripe-Signature"],
  ];
  for (const [what, go, reason] of cases) {
    const res = await go();
    assert.equal(res.status, 400, what);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { error: "signature_invalid", reason }, what);
    assert.ok(!text.includes(NEW) && !text.includes(OLD), "no secret echoed");
  }
});

test("oversize bodies get 413; other methods 405", async () => {
  const big = JSON.stringify({ pad: "x".repeat(513 * 1024) });
  const res = await send(big);
  assert.equal(res.status, 413);
  const get = await fetch(`${stack.worker.url}/stripe/webhook`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
});

/** A realistic event for `user` (scripts/stripe-event.mjs), delivered signed; returns [status, body, event]. */
async function sendEvent(type, { user = sub, created, ...opts } = {}) {
  const ev = envelope(type, objectFor(type, { user, ...opts }), created ? { created } : {});
  const res = await deliver(stack.worker.url, JSON.stringify(ev), NEW);
  return [res.status, await res.json(), ev];
}

const textStats = () => client.callTool({ name: "text_stats", arguments: { text: "Paid words. Counted here." } });
const entitlements = async () => (await client.callTool({ name: "whoami", arguments: {} })).structuredContent.entitlements;

test("the journey: denied, checkout and subscription grant pro, deletion revokes it, late events cannot re-grant", async () => {
  const t0 = Math.floor(Date.now() / 1000);
  assert.deepEqual(await entitlements(), []);
  let r = await textStats();
  assert.equal(r.isError, true);
  assert.deepEqual(r.structuredContent, { error: "payment_required", entitlement: "pro", upgrade_url: UPGRADE, checkout_url: null });

  let [status, body, ev] = await sendEvent("checkout.session.completed", { created: t0 });
  assert.equal(status, 200);
  assert.equal(body.outcome, "applied");
  const customer = ev.data.object.customer;
  assert.deepEqual(await d1(stack.worker, `SELECT user_sub FROM customers WHERE customer_id = '${customer}'`), [{ user_sub: sub }]);
  assert.deepEqual(await entitlements(), [], "a checkout alone grants nothing");

  const created = await sendEvent("customer.subscription.created", { created: t0 + 1, lookupKey: "pro" });
  assert.equal(created[0], 200);
  assert.deepEqual([created[1].outcome, created[1].duplicate], ["applied", false]);
  const subscription = created[2].data.object.id;
  assert.deepEqual(await entitlements(), ["pro"]);
  r = await textStats();
  assert.equal(r.isError, false);
  assert.deepEqual(r.structuredContent, { characters: 25, words: 4, sentences: 2, unique_words: 4, reading_seconds: 2 });

  // The same delivery again (Stripe retries): acknowledged, applied once.
  const again = await deliver(stack.worker.url, JSON.stringify(created[2]), NEW);
  assert.equal(again.status, 200);
  assert.deepEqual([(await again.json()).duplicate], [true]);
  assert.deepEqual(await d1(stack.worker, `SELECT COUNT(*) AS n FROM processed_events WHERE id = '${created[2].id}'`), [{ n: 1 }]);

  [status, body] = await sendEvent("customer.subscription.deleted", { created: t0 + 10 });
  assert.equal(status, 200);
  assert.deepEqual(await entitlements(), []);
  assert.equal((await textStats()).structuredContent.error, "payment_required");

  // An `updated` older than the deletion arrives late: acknowledged, changes nothing.
  [status, body] = await sendEvent("customer.subscription.updated", { created: t0 + 5, status: "active" });
  assert.deepEqual([status, body.outcome, body.duplicate, body.changes], [200, "applied", false, 0]);
  assert.deepEqual(await entitlements(), []);
  assert.deepEqual(await d1(stack.worker, `SELECT status, customer_id, price_lookup_keys, last_event_created FROM subscriptions WHERE id = '${subscription}'`),
    [{ status: "canceled", customer_id: customer, price_lookup_keys: '["pro"]', last_event_created: t0 + 10 }]);
  const outcomes = await d1(stack.worker, `SELECT type, outcome FROM processed_events WHERE type LIKE 'c%s%' AND type != 'charge.refunded' ORDER BY created`);
  assert.deepEqual(outcomes.map((o) => o.outcome), ["applied", "applied", "applied", "applied"]);
});

test("entitlement summaries grant their feature lookup keys", async () => {
  const user = `feature-user-${Date.now()}`;
  const [status, body] = await sendEvent("entitlements.active_entitlement_summary.updated", { user, lookupKey: "search" });
  assert.deepEqual([status, body.outcome], [200, "applied"]);
  await sendEvent("customer.created", { user });
  const rows = await d1(stack.worker, `SELECT feature_lookup_keys FROM entitlement_summaries s JOIN customers c USING (customer_id) WHERE c.user_sub = '${user}'`);
  assert.deepEqual(rows, [{ feature_lookup_keys: '["search"]' }]);
});

test("a storage failure mid-event is 500 and rolls back; the redelivery applies it whole", async () => {
  const user = `d1-failure-${Date.now()}`;
  // A trigger makes the subscription write fail after the customer binding in the same batch.
  await d1(stack.worker, "CREATE TRIGGER e2e_fail BEFORE INSERT ON subscriptions BEGIN SELECT RAISE(ABORT, 'simulated D1 failure'); END");
  let ev;
  try {
    const [status, body, e] = await sendEvent("customer.subscription.created", { user, lookupKey: "pro" });
    ev = e;
    assert.deepEqual([status, body], [500, { error: "storage_failed" }]);
  } finally {
    await d1(stack.worker, "DROP TRIGGER IF EXISTS e2e_fail");
  }
  const customer = ev.data.object.customer;
  assert.deepEqual(await d1(stack.worker, `SELECT * FROM customers WHERE customer_id = '${customer}'`), [], "the binding rolled back");
  assert.deepEqual(await d1(stack.worker, `SELECT * FROM processed_events WHERE id = '${ev.id}'`), [], "not marked processed");
  const res = await deliver(stack.worker.url, JSON.stringify(ev), NEW);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).duplicate, false);
  const rows = await d1(stack.worker, `SELECT s.status, c.user_sub FROM subscriptions s JOIN customers c USING (customer_id) WHERE s.id = '${ev.data.object.id}'`);
  assert.deepEqual(rows, [{ status: "active", user_sub: user }]);
});

test("a handled event whose object the ledger cannot read is refused (400) and left for retry", async () => {
  const payload = event("customer.subscription.updated", { id: "sub_1", object: "subscription" });
  const res = await send(payload);
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { error: "invalid_event", reason: "subscription has no customer", event: JSON.parse(payload).id });
  assert.deepEqual(await d1(stack.worker, `SELECT id FROM processed_events WHERE id = '${JSON.parse(payload).id}'`), []);
});

test("npm run stripe:event grants a user from the command line (the make dev flow)", async () => {
  const { execFile } = await import("node:child_process");
  const { promisify } = await import("node:util");
  const user = `cli-user-${Date.now()}`;
  const { stdout } = await promisify(execFile)("npm", ["run", "-s", "stripe:event", "--", "customer.subscription.created",
    "--user", user, "--lookup-key", "pro", "--url", stack.worker.url, "--secret", NEW], { cwd: new URL("../..", import.meta.url).pathname });
  assert.match(stdout, /^customer\.subscription\.created evt_[0-9a-f]+ → HTTP 200 .*"outcome":"applied"/);
  const rows = await d1(stack.worker, `SELECT s.status, s.price_lookup_keys FROM subscriptions s JOIN customers c USING (customer_id) WHERE c.user_sub = '${user}'`);
  assert.deepEqual(rows, [{ status: "active", price_lookup_keys: '["pro"]' }]);
});
