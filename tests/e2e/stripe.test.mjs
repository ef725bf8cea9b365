// POST /stripe/webhook on workerd, every payload signed by Stripe's own library
// (`stripe.webhooks.generateTestHeaderString`), with the local D1 as the ledger.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import Stripe from "stripe";
import { d1 } from "./harness.mjs";
import { startStack } from "./stack.mjs";

const OLD = "whsec_e2e_old_secret";
const NEW = "whsec_e2e_new_secret";
const stripe = new Stripe("sk_test_not_used");
let stack;
before(async () => {
  stack = await startStack({ name: "stripe", vars: { STRIPE_WEBHOOK_SECRET: `${OLD},${NEW}` } });
});
after(async () => {
  await stack?.stop();
});

let seq = 0;
const event = (type, object = { id: "obj_1" }) => JSON.stringify({
  id: `evt_e2e_${Date.now()}_${seq++}`, object: "event", api_version: "2025-09-30.clover", created: Math.floor(Date.now() / 1000),
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
  assert.deepEqual(await first.json(), { received: true, outcome: "ignored", duplicate: false });
  const again = await send(payload);
  assert.equal(again.status, 200);
  assert.equal((await again.json()).duplicate, true, "a redelivery is recognised");
  const rows = await d1(stack.worker, `SELECT id, type, outcome FROM processed_events WHERE id = '${id}'`);
  assert.deepEqual(rows, [{ id, type: "charge.refunded", outcome: "ignored" }]);
  const health = await (await fetch(`${stack.worker.url}/healthz`)).json();
  assert.equal(health.checks.billing.webhook_secret, "ok");
  assert.ok(Date.now() - health.checks.billing.last_event_at < 60_000, "the last event time is reported");
});

test("both secrets of a rotation are accepted", async () => {
  for (const secret of [OLD, NEW]) {
    const res = await send(event("charge.refunded"), { secret });
    assert.equal(res.status, 200, secret);
  }
});

test("handled types are not acknowledged until the ledger applies them (Stripe retries)", async () => {
  const payload = event("customer.subscription.created", { id: "sub_1", object: "subscription" });
  const res = await send(payload);
  assert.equal(res.status, 501);
  const rows = await d1(stack.worker, `SELECT id FROM processed_events WHERE id = '${JSON.parse(payload).id}'`);
  assert.deepEqual(rows, [], "nothing is marked processed");
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
