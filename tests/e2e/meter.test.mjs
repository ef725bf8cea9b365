// Metered usage reaches Stripe's meter events API exactly once per call, on workerd with D1 local
// and the fake Stripe (which counts identifiers as Stripe does): twelve metered calls are sent by
// the Cron Trigger through 500s and an answer lost to a timeout, each counted once with its
// value and customer; a row Stripe refuses or no longer takes is flagged, never sent, and
// /healthz shows the backlog. The request matches stripe-node's own for the same call.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack } from "./stack.mjs";
import { d1, EXAMPLES_BUILD, TEST_WEBHOOK_SECRET } from "./harness.mjs";
import { startFakeStripe, assertSameAsStripeNode, STRIPE_API_VERSION } from "./fake-stripe.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";

const STRIPE_KEY = "sk_test_mkit_meter";
const PATH = "/v1/billing/meter_events";
let fake;
let stack;
before(async () => {
  fake = await startFakeStripe();
  stack = await startStack({ name: "meter", script: EXAMPLES_BUILD, testScheduled: true,
    vars: { STRIPE_SECRET_KEY: STRIPE_KEY, MKIT_TEST_STRIPE_API: fake.url } });
});
after(async () => {
  await stack?.stop();
  await fake?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rpc = (token, method, params) => stack.rpc(token, method, params);
async function send(ev) {
  const res = await deliver(stack.worker.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET);
  assert.equal(res.status, 200, await res.text());
}
/** One scheduled run, as the Cron Trigger starts it (wrangler answers once the handler is done). */
async function cron() {
  const r = await fetch(`${stack.worker.url}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
  assert.equal(r.status, 200, await r.text());
}
/** Time passes: every waiting row is due again (the backoff is minutes). */
const timePasses = () => d1(stack.worker, "UPDATE meter_outbox SET next_try_at = 0 WHERE sent_at IS NULL");
const outbox = () => d1(stack.worker, "SELECT id, value, attempts, sent_at, failure FROM meter_outbox ORDER BY created_at, id");
const health = async () => (await (await fetch(`${stack.worker.url}/healthz`)).json());

let customer;
let units;

test("twelve metered calls reach Stripe once each, through 500s and a lost answer", async (t) => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "mira" });
  const sub = (await rpc(token, "tools/call", { name: "whoami", arguments: {} })).structuredContent.sub;
  const checkout = objectFor("checkout.session.completed", { user: sub });
  customer = checkout.customer;
  await send(envelope("checkout.session.completed", checkout));
  await send(envelope("customer.subscription.created", objectFor("customer.subscription.created", { user: sub, lookupKey: "pro" })));
  units = Array.from({ length: 12 }, (_, i) => i + 1);
  const results = await Promise.all(units.map((u) => rpc(token, "tools/call", { name: "test_metered", arguments: { units: u } })));
  assert.deepEqual(results.map((r) => r.structuredContent?.units), units, JSON.stringify(results[0]));
  await sleep(5500); // /healthz reuses D1's answers for 5 s
  const waiting = (await health()).checks.meter_outbox;
  assert.equal(waiting.pending, 12);
  assert.ok(waiting.oldest_age_secs >= 0 && waiting.oldest_age_secs < 120, JSON.stringify(waiting));

  // Run 1: Stripe answers 500 three times; the other nine are taken.
  fake.failNext(PATH, 500, { times: 3 });
  await cron();
  let rows = await outbox();
  assert.equal(rows.filter((r) => r.sent_at !== null).length, 9);
  assert.equal(fake.meterEvents.size, 9);
  // Run 2, later: the first answer is lost (Stripe takes the event, the worker gives up after 5 s).
  await timePasses();
  fake.delayNext(PATH, 6500);
  await cron();
  await sleep(2000); // the fake finishes the delayed call
  rows = await outbox();
  assert.equal(rows.filter((r) => r.sent_at === null).length, 1, "the lost answer's row waits");
  assert.equal(fake.meterEvents.size, 12, "Stripe has all twelve already");
  // Run 3: the waiting row is sent again with the same identifier: counted once.
  await timePasses();
  await cron();
  rows = await outbox();
  assert.ok(rows.every((r) => r.sent_at !== null && r.failure === null), JSON.stringify(rows));
  const sent = fake.requestsTo("POST", PATH);
  t.diagnostic(`${sent.length} meter event requests for 12 rows; ${fake.meterDuplicates.length} identifier duplicates counted none`);
  assert.equal(sent.length, 12 + 3 + 1, "each failure and the lost answer cost one resend, no more");
  assert.deepEqual([...fake.meterEvents.keys()].sort(), rows.map((r) => r.id).sort(), "none missing, none extra");
  const byValue = [...fake.meterEvents.values()].map((e) => Number(e.payload.value)).sort((a, b) => a - b);
  assert.deepEqual(byValue, units);
  assert.ok([...fake.meterEvents.values()].every((e) => e.event_name === "mkit_test_units" && e.payload.stripe_customer_id === customer));
  assert.equal(Math.max(...rows.map((r) => r.attempts)), 3, "the lost answer's row: three attempts");

  const [first] = sent;
  assert.equal(first.headers["stripe-version"], STRIPE_API_VERSION);
  assert.equal(first.headers.authorization, `Bearer ${STRIPE_KEY}`);
  assert.equal(first.headers["idempotency-key"], first.body.identifier);
  const { event_name, payload, identifier, timestamp } = first.body;
  await assertSameAsStripeNode(first, (s) => s.billing.meterEvents.create(
    { event_name, payload: { stripe_customer_id: payload.stripe_customer_id, value: payload.value }, identifier,
      timestamp: Number(timestamp) }, { idempotencyKey: identifier }));
  assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 300, "the call's own time");
});

test("a row Stripe refuses, or would no longer take, is flagged and never sent; /healthz says so", async () => {
  const now = Math.floor(Date.now() / 1000);
  const sub = (await d1(stack.worker, "SELECT user_sub FROM meter_outbox LIMIT 1"))[0].user_sub;
  await d1(stack.worker, `INSERT INTO meter_outbox (id, user_sub, event_name, value, created_at, next_try_at) VALUES
    ('row-too-old', '${sub}', 'mkit_test_units', 4, ${now - 36 * 86400}, 0), ('row-refused', '${sub}', 'mkit_test_units', 5, ${now}, 0)`);
  const before = fake.requestsTo("POST", PATH).length;
  fake.failNext(PATH, 400, { body: { error: { type: "invalid_request_error", code: "resource_missing", message: "No such meter" } } });
  await cron();
  const rows = await d1(stack.worker, "SELECT id, failure, sent_at FROM meter_outbox WHERE id LIKE 'row-%' ORDER BY id");
  assert.deepEqual(rows, [{ id: "row-refused", failure: "rejected:resource_missing", sent_at: null },
    { id: "row-too-old", failure: "too_old", sent_at: null }]);
  assert.equal(fake.requestsTo("POST", PATH).length, before + 1, "the old row was never sent");
  await timePasses();
  await cron();
  assert.equal(fake.requestsTo("POST", PATH).length, before + 1, "flagged rows are not retried");
  await sleep(5500);
  const h = await health();
  assert.deepEqual(h.checks.meter_outbox, { pending: 0, oldest_age_secs: null, flagged: 2 });
  assert.equal(h.status, "degraded");
  assert.match(stack.worker.logs(), /"event":"meter_export","sent":0,"retry":0,"flagged":2/);
});
