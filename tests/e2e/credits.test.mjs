// Prepaid credits on workerd with D1 local: a credit pack paid through Stripe Checkout (a signed
// webhook) fills the balance once however often it is delivered; 64 concurrent calls against 10
// credits settle to exactly 10 runs and a balance of 0; a failed run is refunded; a short balance
// is asked to pay; a metered call under the entitlement writes one outbox row with its value.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack } from "./stack.mjs";
import { d1, EXAMPLES_BUILD, TEST_WEBHOOK_SECRET } from "./harness.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";

let stack;
before(async () => {
  // Entitlement reuse on, so the cancellation below shows the webhook clearing it.
  stack = await startStack({ name: "credits", script: EXAMPLES_BUILD, vars: { MKIT_ENTITLEMENT_CACHE_SECONDS: "10" } });
});
after(async () => {
  await stack?.stop();
});

const rpc = (token, method, params) => stack.rpc(token, method, params);
const call = (token, name, args = {}) => rpc(token, "tools/call", { name, arguments: args });
const whoami = async (token) => (await call(token, "whoami")).structuredContent;

/** Delivers a signed event; the webhook's answer. */
async function send(ev) {
  const res = await deliver(stack.worker.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** A paid payment-mode Checkout Session for a pack of `credits`, as Stripe sends it. */
function packPaid(user, session, credits) {
  const o = objectFor("checkout.session.completed", { user });
  return envelope("checkout.session.completed", { ...o, id: session, mode: "payment", subscription: null,
    metadata: { mkit_user: user, mkit_credits: String(credits) } });
}

test("a pack paid once fills the balance once, however often Stripe delivers it", async () => {
  const token = await stack.token();
  const { sub } = await whoami(token);
  assert.equal((await whoami(token)).credits, 0);
  const ev = packPaid(sub, "cs_test_pack_1", 10);
  await send(ev);
  const again = await send(ev);
  assert.equal(again.duplicate, true);
  // The same session told again by another event type grants nothing either.
  await send(envelope("checkout.session.async_payment_succeeded", ev.data.object));
  assert.equal((await whoami(token)).credits, 10);
});

test("64 concurrent calls against 10 credits: exactly 10 run and the balance ends at 0", async (t) => {
  const token = await stack.token();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: 64 }, () => call(token, "test_credits")));
  t.diagnostic(`64 concurrent credit calls settled in ${(performance.now() - t0).toFixed(0)} ms`);
  const ran = results.filter((r) => r.isError !== true);
  const refused = results.filter((r) => r.structuredContent?.error === "payment_required");
  assert.equal(ran.length, 10);
  assert.equal(refused.length, 54);
  assert.equal(refused[0].structuredContent.credits, 1);
  assert.match(refused[0].content[0].text, /costs 1 credits per call, more than this account's balance/);
  assert.equal((await whoami(token)).credits, 0);
  const rows = await d1(stack.worker, "SELECT state, COUNT(*) AS n, SUM(charged) AS charged FROM credit_debits GROUP BY state");
  assert.deepEqual(rows, [{ state: "settled", n: 10, charged: 10 }]);
  const logged = stack.worker.requestLogs().filter((l) => l.tool === "test_credits");
  assert.equal(logged.filter((l) => l.billing === "credits").length, 10);
  assert.equal(logged.filter((l) => l.billing === "payment_required").length, 54);
});

test("a failed run is refunded, and a balance only its owner spends", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "cora" });
  const { sub } = await whoami(token);
  await send(packPaid(sub, "cs_test_pack_cora", 3));
  for (let i = 0; i < 4; i++) assert.equal((await call(token, "test_credits", { fail: true })).isError, true);
  assert.equal((await whoami(token)).credits, 3, "four failed runs cost nothing");
  const refunded = await d1(stack.worker, `SELECT COUNT(*) AS n FROM credit_debits WHERE state = 'refunded' AND user_sub = '${sub}'`);
  assert.equal(refunded[0].n, 4);
  assert.equal((await call(token, "test_credits")).isError, undefined);
  assert.equal((await whoami(token)).credits, 2);
  assert.equal((await whoami(await stack.token())).credits, 0, "the first caller's balance is untouched");
});

test("tools/list shows the price in credits and the meter", async () => {
  const { tools } = await rpc(await stack.token(), "tools/list", {});
  assert.deepEqual(tools.find((x) => x.name === "test_credits")._meta, { "mkit/credits": 1 });
  assert.deepEqual(tools.find((x) => x.name === "test_metered")._meta,
    { "mkit/entitlement": "pro", "mkit/meter": "mkit_test_units" });
});

test("a metered call under the entitlement writes one outbox row with its value; a failed one none", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "meta" });
  const { sub } = await whoami(token);
  const denied = await call(token, "test_metered", { units: 3 });
  assert.equal(denied.structuredContent.error, "payment_required");
  await send(envelope("checkout.session.completed", objectFor("checkout.session.completed", { user: sub })));
  await send(envelope("customer.subscription.created", objectFor("customer.subscription.created", { user: sub, lookupKey: "pro" })));
  assert.deepEqual((await call(token, "test_metered", { units: 3 })).structuredContent, { units: 3 });
  assert.equal((await call(token, "test_metered", { units: 5, fail: true })).isError, true);
  assert.deepEqual((await call(token, "test_metered", { units: 0 })).structuredContent, { units: 0 });
  const rows = await d1(stack.worker, `SELECT event_name, value, sent_at FROM meter_outbox WHERE user_sub = '${sub}'`);
  assert.deepEqual(rows, [{ event_name: "mkit_test_units", value: 3, sent_at: null }], "0 units records nothing");
  // Canceled: the isolate forgets the keys it reused (MKIT_ENTITLEMENT_CACHE_SECONDS), so the next call is refused.
  await send(envelope("customer.subscription.deleted", objectFor("customer.subscription.deleted", { user: sub, lookupKey: "pro" })));
  assert.equal((await call(token, "test_metered", { units: 1 })).structuredContent.error, "payment_required");
});

test("mkit://billing/usage shows the caller's plan, quotas and balance", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "cora" });
  const { contents: [c] } = await rpc(token, "resources/read", { uri: "mkit://billing/usage" });
  assert.equal(c.mimeType, "application/json");
  const usage = JSON.parse(c.text);
  assert.equal(usage.credits, 2);
  assert.deepEqual(usage.entitlements, []);
  assert.deepEqual(usage.quotas.map((q) => q.quota), ["test_free_quota"]);
  const { resources } = await rpc(token, "resources/list", {});
  assert.ok(resources.some((r) => r.uri === "mkit://billing/usage"));
});
