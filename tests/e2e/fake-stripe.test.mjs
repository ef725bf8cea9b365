// Self-test of fake-stripe.mjs: its form decoder, its answers, injected failures and delays, and
// that assertSameAsStripeNode accepts a hand-written request equal to stripe-node's own and
// rejects one that differs. No worker needed.

import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startFakeStripe, decodeStripeForm, assertSameAsStripeNode, compareWithOfficialClient, STRIPE_API_VERSION }
  from "./fake-stripe.mjs";

const KEY = "sk_test_fake_stripe_selftest";
let fake;
before(async () => {
  fake = await startFakeStripe();
});
after(async () => {
  await fake?.stop();
});
beforeEach(() => fake.reset({ fixtures: true }));

/** A form POST written by hand, the way a worker without stripe-node would send it. */
function post(path, form, { key = KEY, idempotencyKey = "ik-selftest-1", version = STRIPE_API_VERSION, headers = {} } = {}) {
  return fetch(`${fake.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "stripe-version": version, "idempotency-key": idempotencyKey,
      "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
  });
}
const get = (pathAndQuery, { key = KEY } = {}) =>
  fetch(`${fake.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${key}`, "stripe-version": STRIPE_API_VERSION } });

const SUCCESS = "https://mkit.example/billing/done";
const CANCEL = "https://mkit.example/billing/cancel";
const checkoutParams = (user = "u1") => ({
  mode: "subscription",
  line_items: [{ price: "price_1", quantity: 1 }],
  metadata: { mkit_user: user },
  subscription_data: { metadata: { mkit_user: user } },
  success_url: SUCCESS,
  cancel_url: CANCEL,
  customer: "cus_1",
});
// The same call, form-encoded by hand with `[]`-less indices in a different key order.
const handForm = (user = "u1") => [
  ["customer", "cus_1"],
  ["mode", "subscription"],
  ["success_url", SUCCESS],
  ["cancel_url", CANCEL],
  ["line_items[0][price]", "price_1"],
  ["line_items[0][quantity]", "1"],
  ["metadata[mkit_user]", user],
  ["subscription_data[metadata][mkit_user]", user],
];

test("the form decoder builds Stripe's nested shape", () => {
  assert.deepEqual(decodeStripeForm("a[b]=c&a[d][e]=f&x=1"), { a: { b: "c", d: { e: "f" } }, x: "1" });
  assert.deepEqual(decodeStripeForm("a[0][b]=c&a[0][d]=e&a[1][b]=g"), { a: [{ b: "c", d: "e" }, { b: "g" }] });
  assert.deepEqual(decodeStripeForm("?k[]=x&k[]=y"), { k: ["x", "y"] });
  assert.deepEqual(decodeStripeForm("k[1]=y&k[0]=x"), { k: ["x", "y"] }, "indices order the array");
  assert.deepEqual(decodeStripeForm("a%5B0%5D%5Bb%5D=c+d%26e"), { a: [{ b: "c d&e" }] }, "encoded brackets, + and %26");
  assert.deepEqual(decodeStripeForm("l[][p]=1&l[][q]=2&l[][p]=3"), { l: [{ p: "1", q: "2" }, { p: "3" }] }, "Rack's [] rule");
  assert.deepEqual(decodeStripeForm("e="), { e: "" });
  assert.deepEqual(decodeStripeForm(""), {});
  assert.throws(() => decodeStripeForm("a[0]=x&a[b]=y"), /object key where an array/);
  // Exactly what stripe-node puts on the wire decodes back to the params it was given.
  assert.deepEqual(decodeStripeForm("line_items[0][price]=price_1&line_items[0][quantity]=1&metadata[mkit_user]=u1"),
    { line_items: [{ price: "price_1", quantity: "1" }], metadata: { mkit_user: "u1" } });
});

test("a hand-written checkout POST equals stripe-node's checkout.sessions.create", async () => {
  fake.addPrice("mkit_pro_monthly", { id: "price_1" });
  const res = await post("/v1/checkout/sessions", handForm());
  assert.equal(res.status, 200);
  const session = await res.json();
  assert.match(session.id, /^cs_test_/);
  assert.equal(session.object, "checkout.session");
  assert.equal(session.url, `${fake.url}/pay/${session.id}`);
  assert.equal(session.mode, "subscription");
  assert.equal(session.customer, "cus_1");
  assert.deepEqual(session.metadata, { mkit_user: "u1" });
  assert.deepEqual(session.subscription_data, { metadata: { mkit_user: "u1" } });
  assert.equal(res.headers.get("stripe-version"), STRIPE_API_VERSION);

  const [recorded] = fake.requestsTo("POST", "/v1/checkout/sessions");
  assert.equal(recorded.headers.authorization, `Bearer ${KEY}`);
  assert.equal(recorded.headers["idempotency-key"], "ik-selftest-1");
  const { theirs } = await assertSameAsStripeNode(recorded,
    (stripe) => stripe.checkout.sessions.create(checkoutParams(), { idempotencyKey: "ik-selftest-1" }), { apiKey: KEY });
  assert.equal(theirs.headers["stripe-version"], STRIPE_API_VERSION);
  console.log(`stripe-node sends Stripe-Version: ${theirs.headers["stripe-version"]}; ` +
    `its body: ${theirs.rawBody}`);

  // The session's page is there for a browser to land on.
  const page = await fetch(session.url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), new RegExp(session.id));
});

test("a different parameter, a missing header or another version fails the comparison", async () => {
  fake.addPrice("mkit_pro_monthly", { id: "price_1" });
  assert.equal((await post("/v1/checkout/sessions", handForm("u2"), { idempotencyKey: "ik-a" })).status, 200);
  const [recorded] = fake.requestsTo("POST", "/v1/checkout/sessions");
  await assert.rejects(
    assertSameAsStripeNode(recorded, (stripe) => stripe.checkout.sessions.create(checkoutParams("u1"))),
    (e) => {
      assert.equal(e.name, "AssertionError");
      assert.match(e.message, /body\.metadata\.mkit_user: "u2" \(ours\) vs "u1" \(stripe-node\)/);
      assert.match(e.message, /body\.subscription_data\.metadata\.mkit_user/);
      return true;
    });
  // A parameter stripe-node sends and we don't, and an extra array element.
  const extra = await compareWithOfficialClient(recorded, (stripe) => stripe.checkout.sessions.create({
    ...checkoutParams("u2"), allow_promotion_codes: true, line_items: [{ price: "price_1", quantity: 1 }, { price: "price_2", quantity: 1 }] }));
  assert.deepEqual(extra.problems, [
    'body.line_items[1]: undefined (ours) vs {"price":"price_2","quantity":"1"} (stripe-node)',
    'body.allow_promotion_codes: undefined (ours) vs "true" (stripe-node)',
  ]);

  fake.reset();
  await post("/v1/checkout/sessions", handForm(), { version: "2020-08-27", idempotencyKey: "" });
  const [old] = fake.requestsTo("POST", "/v1/checkout/sessions");
  const { problems } = await compareWithOfficialClient(old, (stripe) => stripe.checkout.sessions.create(checkoutParams()));
  assert.deepEqual(problems, [
    `Stripe-Version: "2020-08-27" (ours) vs "${STRIPE_API_VERSION}" (stripe-node)`,
    "Idempotency-Key: missing on a POST (ours)",
  ]);

  // JSON is not what Stripe takes: refused, and the comparison says why.
  fake.reset();
  const json = await fetch(`${fake.url}/v1/checkout/sessions`, { method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "idempotency-key": "k" },
    body: JSON.stringify(checkoutParams()) });
  assert.equal(json.status, 400);
  const [jsonRec] = fake.requests;
  const j = await compareWithOfficialClient(jsonRec, (stripe) => stripe.checkout.sessions.create(checkoutParams()));
  assert.ok(j.problems.some((p) => p.startsWith("Content-Type:")), j.problems.join("\n"));
});

test("prices by lookup key, as stripe-node asks for them", async () => {
  const pro = fake.addPrice("mkit_pro_monthly", { unit_amount: 900 });
  fake.addPrice("mkit_team_monthly", { unit_amount: 2900, recurring: { interval: "year" } });
  fake.addPrice("unused");
  const res = await get("/v1/prices?lookup_keys[]=mkit_pro_monthly&lookup_keys[]=mkit_team_monthly&active=true");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.object, "list");
  assert.equal(body.has_more, false);
  assert.deepEqual(body.data.map((p) => p.lookup_key), ["mkit_pro_monthly", "mkit_team_monthly"]);
  assert.deepEqual(body.data[0], pro);
  assert.equal(body.data[0].type, "recurring");
  assert.equal(body.data[1].recurring.interval, "year");
  assert.match(body.data[0].id, /^price_/);

  const [recorded] = fake.requestsTo("GET", "/v1/prices");
  assert.deepEqual(recorded.query, { lookup_keys: ["mkit_pro_monthly", "mkit_team_monthly"], active: "true" });
  // `lookup_keys[]=` (ours) and stripe-node's `lookup_keys[0]=` decode alike.
  await assertSameAsStripeNode(recorded, (stripe) => stripe.prices.list({ lookup_keys: ["mkit_pro_monthly", "mkit_team_monthly"], active: true }));
  await assert.rejects(assertSameAsStripeNode(recorded, (stripe) => stripe.prices.list({ lookup_keys: ["mkit_team_monthly", "mkit_pro_monthly"], active: true })),
    /query\.lookup_keys\[0\]/);
});

test("the subscription list pages with has_more and starting_after", async () => {
  const subs = [];
  for (let i = 0; i < 5; i++) subs.push(fake.addSubscription({ customer: "cus_1", metadata: { n: String(i) } }));
  fake.addSubscription({ customer: "cus_2" });
  fake.addSubscription({ customer: "cus_1", status: "canceled" });
  const newestFirst = subs.map((s) => s.id).reverse();

  const seen = [];
  let after;
  for (;;) {
    const res = await get(`/v1/subscriptions?customer=cus_1&limit=2${after ? `&starting_after=${after}` : ""}`);
    assert.equal(res.status, 200);
    const page = await res.json();
    assert.equal(page.object, "list");
    seen.push(...page.data.map((s) => s.id));
    if (!page.has_more) break;
    after = page.data.at(-1).id;
  }
  assert.deepEqual(seen, newestFirst, "every active subscription of cus_1, once, newest first");
  assert.equal(fake.requestsTo("GET", "/v1/subscriptions").length, 3);
  const all = await (await get("/v1/subscriptions?customer=cus_1&status=all&limit=100")).json();
  assert.equal(all.data.length, 6);
  assert.equal(all.data[0].items.data[0].object, "subscription_item");

  // stripe-node's auto-pagination walks the same pages.
  const stripe = new Stripe(KEY, { host: "127.0.0.1", port: fake.port, protocol: "http", maxNetworkRetries: 0, telemetry: false });
  const walked = await stripe.subscriptions.list({ customer: "cus_1", limit: 2 }).autoPagingToArray({ limit: 100 });
  assert.deepEqual(walked.map((s) => s.id), newestFirst);
  const bad = await get("/v1/subscriptions?starting_after=sub_nope");
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "resource_missing");
});

test("billing portal sessions and their page", async () => {
  const res = await post("/v1/billing_portal/sessions", { customer: "cus_1", return_url: "https://mkit.example/account" });
  assert.equal(res.status, 200);
  const portal = await res.json();
  assert.match(portal.id, /^bps_/);
  assert.equal(portal.url, `${fake.url}/portal/${portal.id}`);
  assert.equal(portal.return_url, "https://mkit.example/account");
  const [recorded] = fake.requestsTo("POST", "/v1/billing_portal/sessions");
  await assertSameAsStripeNode(recorded, (stripe) => stripe.billingPortal.sessions.create(
    { customer: "cus_1", return_url: "https://mkit.example/account" }, { idempotencyKey: "ik-selftest-1" }));
  const page = await fetch(portal.url);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  assert.equal((await post("/v1/billing_portal/sessions", {}, { idempotencyKey: "ik-2" })).status, 400);
});

test("Stripe's own refusals: no key, unknown price, unknown route, reused idempotency key", async () => {
  fake.addPrice("p", { id: "price_1" });
  const noKey = await fetch(`${fake.url}/v1/prices`);
  assert.equal(noKey.status, 401);
  assert.equal((await noKey.json()).error.type, "invalid_request_error");

  const form = handForm();
  form[4] = ["line_items[0][price]", "price_missing"];
  const missing = await post("/v1/checkout/sessions", form, { idempotencyKey: "ik-m" });
  assert.equal(missing.status, 400);
  assert.deepEqual((await missing.json()).error, { type: "invalid_request_error", message: "No such price: 'price_missing'",
    param: "line_items[0][price]", code: "resource_missing" });

  assert.equal((await get("/v1/nothing")).status, 404);

  const first = await (await post("/v1/checkout/sessions", handForm(), { idempotencyKey: "ik-same" })).json();
  const again = await post("/v1/checkout/sessions", handForm(), { idempotencyKey: "ik-same" });
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal((await again.json()).id, first.id, "same key, same params: the first answer again");
  const changed = await post("/v1/checkout/sessions", handForm("u9"), { idempotencyKey: "ik-same" });
  assert.equal(changed.status, 400);
  assert.equal((await changed.json()).error.type, "idempotency_error");
});

test("injected failures, delays and overrides", async () => {
  fake.addPrice("p", { id: "price_1" });
  fake.failNext("/v1/checkout/sessions", 503);
  const failed = await post("/v1/checkout/sessions", handForm(), { idempotencyKey: "ik-f" });
  assert.equal(failed.status, 503);
  assert.equal((await failed.json()).error.type, "api_error");
  assert.equal((await post("/v1/checkout/sessions", handForm(), { idempotencyKey: "ik-f" })).status, 200, "only the next one fails");

  fake.failNext("/v1/prices", 429, { times: 2, message: "Too many requests" });
  assert.equal((await get("/v1/prices")).status, 429);
  assert.equal((await get("/v1/prices")).status, 429);
  assert.equal((await get("/v1/prices")).status, 200);

  fake.delayNext("/v1/prices", 300);
  const t0 = performance.now();
  assert.equal((await get("/v1/prices")).status, 200);
  assert.ok(performance.now() - t0 >= 290, "the delayed answer took its time");
  // A client that gives up during a delay leaves a recorded request and no crash.
  fake.delayNext("/v1/prices", 500);
  await assert.rejects(fetch(`${fake.url}/v1/prices`, { headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(50) }));

  fake.respond("GET", "/v1/subscriptions", (rec) => ({ status: 402, body: { error: { type: "card_error", message: `no (${rec.query.customer})` } } }));
  const overridden = await get("/v1/subscriptions?customer=cus_9");
  assert.equal(overridden.status, 402);
  assert.equal((await overridden.json()).error.message, "no (cus_9)");
  fake.respond("POST", "/v1/checkout/sessions", async () => ({ id: "cs_test_custom", url: "https://elsewhere.example/x" }));
  assert.equal((await (await post("/v1/checkout/sessions", handForm(), { idempotencyKey: "ik-o" })).json()).id, "cs_test_custom");

  fake.reset();
  assert.equal(fake.requests.length, 0);
  assert.equal((await get("/v1/subscriptions?customer=cus_9")).status, 200, "reset drops overrides");
});

test("crypto PaymentIntents (transaction_verification): stripe-node's call is recorded against the chain; an unknown " +
  "transaction or another amount is refused", async () => {
  const hash = `0x${"ab".repeat(32)}`;
  fake.verifyTransactionsWith((network, h) => (network === "base" && h === hash ? { to: "0xdeposit", value: "30000" } : null));
  const stripe = new Stripe(KEY, { host: "127.0.0.1", port: fake.port, protocol: "http", apiVersion: "2026-05-27.preview",
    maxNetworkRetries: 0, telemetry: false });
  const create = (amount, transaction_hash) => stripe.paymentIntents.create({ amount, currency: "usd", confirm: true,
    payment_method_data: { type: "crypto" }, payment_method_types: ["crypto"], payment_method_options: { crypto: {
      mode: "transaction_verification", transaction_verification_options: { network: "base", transaction_hash } } } },
  { idempotencyKey: `${transaction_hash}-${amount}` });
  const pi = await create(3, hash);
  assert.match(pi.id, /^pi_/);
  assert.deepEqual([pi.status, pi.amount, fake.paymentIntents.length], ["succeeded", 3, 1]);
  await assert.rejects(create(4, hash), (e) => e.statusCode === 400 && /transaction_hash/.test(e.param));
  await assert.rejects(create(3, `0x${"cd".repeat(32)}`), (e) => e.statusCode === 400 && e.code === "parameter_invalid_string");
  assert.equal(fake.paymentIntents.length, 1, "nothing recorded for a refusal");
});
