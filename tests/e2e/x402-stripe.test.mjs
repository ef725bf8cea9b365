// Machine payments into Stripe (MKIT_X402_STRIPE=on, #32), as Stripe's x402 guide sets them up: the
// agent pays USDC on Base to a Stripe crypto deposit address (MKIT_X402_PAY_TO), a facilitator
// settles it (tests/e2e/fake-facilitator.mjs, the official x402 code over an in-memory chain), and
// mKit's scheduled run records each settled payment as a crypto PaymentIntent in
// transaction_verification mode, idempotent by the transaction hash (stripe-samples/machine-payments,
// x402/server/node-typescript/main.ts). The fake Stripe (tests/e2e/fake-stripe.mjs) checks each
// PaymentIntent's transaction against the same chain, and every request mKit sends is compared with
// stripe-node's own for the same call.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startStack } from "./stack.mjs";
import { EXAMPLES_BUILD, d1, postMcp } from "./harness.mjs";
import { startFakeFacilitator } from "./fake-facilitator.mjs";
import { startFakeStripe, assertSameAsStripeNode } from "./fake-stripe.mjs";
import { payer } from "./x402-payer.mjs";

/** A deposit address as Stripe's POST /v1/crypto/deposit_addresses answers one (network base). */
const DEPOSIT = "0x5ff8d73e8bccd3701c9aef78389f3b9771172b5c";
const NETWORK = "eip155:8453";
const TOOL = "test_credits";
const KEY = "sk_test_mkit_x402_stripe";

let facilitator;
let stripe;
let stack;
let agent;
/** Transactions Stripe's verification does not find (as if not yet indexed, or foreign). */
const unknown = new Set();

before(async () => {
  facilitator = await startFakeFacilitator({ network: NETWORK });
  stripe = await startFakeStripe();
  stripe.verifyTransactionsWith((network, hash) => {
    const s = facilitator.settlements.find((x) => x.transaction === hash);
    return network === "base" && s && !unknown.has(hash) ? { to: s.to, value: s.value } : null;
  });
  stack = await startStack({ name: "x402-stripe", script: EXAMPLES_BUILD, testScheduled: true, vars: {
    MKIT_X402_PAY_TO: DEPOSIT, MKIT_X402_NETWORK: NETWORK, MKIT_X402_FACILITATOR_URL: facilitator.url,
    MKIT_X402_STRIPE: "on", STRIPE_SECRET_KEY: KEY, MKIT_TEST_STRIPE_API: stripe.url } });
  agent = new Client({ name: "mkit-e2e-agent", version: "1.0.0" }, { capabilities: { extensions: { "org.x402/payment": {} } } });
  await agent.connect(new StreamableHTTPClientTransport(new URL(`${stack.worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${await stack.token()}` } } }));
});
after(async () => {
  await agent?.close();
  await Promise.all([stack?.stop(), facilitator?.stop(), stripe?.stop()]);
});

/** One paid call; resolves with the settlement's transaction hash. */
async function payOnce() {
  const refused = await agent.callTool({ name: TOOL, arguments: {} });
  assert.equal(refused.structuredContent.accepts[0].payTo.toLowerCase(), DEPOSIT, "the agent pays Stripe's deposit address");
  const wallet = payer();
  facilitator.fund(wallet.address, 10_000n);
  const paid = await agent.callTool({ name: TOOL, arguments: {}, _meta: { "x402/payment": await wallet.pay(refused.structuredContent) } });
  assert.notEqual(paid.isError, true, JSON.stringify(paid));
  return paid._meta["x402/payment-response"].transaction;
}

const cron = async () => {
  const r = await fetch(`${stack.worker.url}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
  assert.equal(r.status, 200);
};
const rowOf = async (tx) => (await d1(stack.worker,
  `SELECT id, user_sub, tool, stripe_payment_intent, stripe_error FROM machine_payments WHERE tx = '${tx}'`))[0];

test("each settled payment becomes one crypto PaymentIntent at the next scheduled run, sent as stripe-node sends it", async () => {
  const txs = [await payOnce(), await payOnce()];
  assert.equal(stripe.requestsTo("POST", "/v1/payment_intents").length, 0, "a paid call never waits on Stripe");
  await cron();
  const sent = stripe.requestsTo("POST", "/v1/payment_intents");
  assert.equal(sent.length, 2);
  assert.deepEqual(stripe.paymentIntents.map((p) => p.transaction_hash).sort(), [...txs].sort());
  for (const tx of txs) {
    const row = await rowOf(tx);
    const pi = stripe.paymentIntents.find((p) => p.transaction_hash === tx);
    assert.equal(row.stripe_payment_intent, pi.id, "the ledger keeps the PaymentIntent");
    assert.equal(pi.amount, 1, "10000 atomic USDC is one cent");
    assert.deepEqual(pi.metadata, { mkit_payment: row.id, mkit_user: row.user_sub, mkit_tool: TOOL });
    const req = sent.find((r) => r.body.payment_method_options.crypto.transaction_verification_options.transaction_hash === tx);
    await assertSameAsStripeNode(req, (s) => s.paymentIntents.create({ amount: 1, currency: "usd", confirm: true,
      payment_method_data: { type: "crypto" }, payment_method_types: ["crypto"],
      payment_method_options: { crypto: { mode: "transaction_verification",
        transaction_verification_options: { network: "base", transaction_hash: tx } } },
      metadata: { mkit_payment: row.id, mkit_user: row.user_sub, mkit_tool: TOOL } }, { idempotencyKey: tx }),
    { apiVersion: "2026-05-27.preview" });
  }
  await cron();
  assert.equal(stripe.requestsTo("POST", "/v1/payment_intents").length, 2, "recorded once: nothing is sent again");
});

test("Stripe down: the payment stands, and the next run records it under the same idempotency key", async () => {
  const tx = await payOnce();
  stripe.failNext("/v1/payment_intents", 500);
  const before = stripe.paymentIntents.length;
  await cron();
  assert.equal((await rowOf(tx)).stripe_payment_intent, null, "not recorded yet");
  await cron();
  assert.equal(stripe.paymentIntents.length, before + 1);
  assert.match((await rowOf(tx)).stripe_payment_intent, /^pi_/);
  const tries = stripe.requestsTo("POST", "/v1/payment_intents").filter((r) => r.headers["idempotency-key"] === tx);
  assert.equal(tries.length, 2, "the failed try and the one that took");
});

test("a transaction Stripe cannot verify is kept with Stripe's code and never sent again", async () => {
  const tx = await payOnce();
  unknown.add(tx);
  await cron();
  const row = await rowOf(tx);
  assert.equal(row.stripe_payment_intent, null);
  assert.equal(row.stripe_error, "parameter_invalid_string");
  const count = stripe.requestsTo("POST", "/v1/payment_intents").length;
  await cron();
  assert.equal(stripe.requestsTo("POST", "/v1/payment_intents").length, count);
});

test("MKIT_X402_STRIPE on a network Stripe takes no deposits on, or at a fraction of a cent, is a configuration error", async () => {
  for (const [vars, why] of [[{ MKIT_X402_NETWORK: "eip155:137" }, /MKIT_X402_STRIPE: needs MKIT_X402_NETWORK eip155:8453/],
    [{ MKIT_X402_CREDIT_PRICE: "5000" }, /MKIT_X402_STRIPE: needs MKIT_X402_CREDIT_PRICE in whole cents/],
    [{ STRIPE_SECRET_KEY: undefined }, /MKIT_X402_STRIPE: is on without STRIPE_SECRET_KEY/]]) {
    const other = await startStack({ name: "x402-stripe-config", script: EXAMPLES_BUILD, vars: { MKIT_X402_PAY_TO: DEPOSIT,
      MKIT_X402_NETWORK: NETWORK, MKIT_X402_FACILITATOR_URL: facilitator.url, MKIT_X402_STRIPE: "on", STRIPE_SECRET_KEY: KEY,
      ...vars } });
    try {
      const { status, body } = await postMcp(other.worker.url, await other.token(), "tools/list");
      assert.equal(status, 503, body);
      assert.match(body, why);
    } finally {
      await other.stop();
    }
  }
});
