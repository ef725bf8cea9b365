// Machine payments (x402) on workerd with D1 local. The agent is the official MCP SDK client
// declaring the org.x402/payment extension, its wallet the official x402 client packages
// (tests/e2e/x402-payer.mjs); the facilitator runs the official x402 facilitator code over an
// in-memory chain (tests/e2e/fake-facilitator.mjs). The tool is test_credits (1 credit a call),
// offered at MKIT_X402_CREDIT_PRICE's default, 10000 atomic USDC ($0.01).
//
// Each case of issue #32: a paid call runs once and settles once; a replay, an under-payment, a
// payment for another resource and an expired one are refused; a facilitator that is down fails
// closed; a settlement that fails after verify withholds the result; 64 concurrent paid calls
// settle 64 times, and 8 concurrent copies of one payment run once.
//
// tests/e2e/x402-objects.test.mjs runs every case again with MKIT_COUNTERS bound, where each
// payer's claims live in their own Durable Object and reach D1 after the response.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { setTimeout as sleep } from "node:timers/promises";
import { startStack } from "./stack.mjs";
import { countersConfig, d1, defaultVars, EXAMPLES_BUILD, startWorker } from "./harness.mjs";
import { startFakeFacilitator } from "./fake-facilitator.mjs";
import { payer } from "./x402-payer.mjs";

const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const TOOL = "test_credits";
const PAYMENT = "x402/payment";
const RESPONSE = "x402/payment-response";
/** Set by x402-objects.test.mjs: each payer's claims in their own object (MKIT_COUNTERS). */
const OBJECTS = process.env.MKIT_E2E_X402_OBJECTS === "1";

let facilitator;
let stack;
let agent;
let sub;
let config; // the worker's wrangler configuration (with the objects: MKIT_COUNTERS bound)
let restarted; // with the objects: the worker started again after the crash case's crash
const x402Vars = () => ({ MKIT_X402_PAY_TO: PAY_TO, MKIT_X402_NETWORK: "eip155:84532",
  MKIT_X402_FACILITATOR_URL: facilitator.url });

before(async () => {
  facilitator = await startFakeFacilitator({ network: "eip155:84532" });
  const name = OBJECTS ? "x402-objects" : "x402";
  config = OBJECTS ? countersConfig(name) : undefined;
  stack = await startStack({ name, script: EXAMPLES_BUILD, config, vars: x402Vars() });
  agent = await connect(await stack.token());
  sub = (await agent.callTool({ name: "whoami", arguments: {} })).structuredContent.sub;
});
after(async () => {
  await agent?.close();
  await restarted?.stop();
  await stack?.stop();
  await facilitator?.stop();
});

/** The official MCP client, declaring at initialize that it pays in-protocol. */
async function connect(token) {
  const client = new Client({ name: "mkit-e2e-agent", version: "1.0.0" },
    { capabilities: { extensions: { "org.x402/payment": {} } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  }));
  return client;
}

/** A funded wallet: `n` calls' worth. */
function wallet(n = 1) {
  const w = payer();
  facilitator.fund(w.address, BigInt(n) * 10_000n);
  return w;
}

const call = (payment) => agent.callTool({ name: TOOL, arguments: {}, ...(payment && { _meta: { [PAYMENT]: payment } }) });

/** The offer an unpaid call is refused with (the tool-result binding). */
async function offer() {
  const refused = await call();
  assert.equal(refused.isError, true);
  return refused.structuredContent;
}

const ledger = (sql) => d1(stack.worker, sql);

/**
 * D1's rows for `sql` once `done(rows)` holds. With the payer's object, a claim and its outcome
 * reach D1 after the response (its write-back a second on), so that is waited out first: a row that
 * must not be there has had its chance to appear.
 */
async function ledgerOnce(sql, done) {
  if (OBJECTS) await sleep(1500);
  let found;
  for (let i = 0; i < 40; i++) {
    found = await ledger(sql);
    if (done(found)) return found;
    await sleep(250);
  }
  return found;
}

const rows = (where, n = 0) => ledgerOnce(`SELECT state, tx, amount, user_sub, payer FROM machine_payments WHERE ${where}`,
  (r) => r.length === n && r.every((row) => row.state !== "verifying"));
const logged = (billing) => stack.worker.requestLogs().filter((l) => l.tool === TOOL && l.billing === billing).length;

test("an agent is offered x402, pays, and the tool runs once and settles once", async (t) => {
  const required = await offer();
  t.diagnostic(`refusal: ${JSON.stringify(required)}`);
  assert.equal(required.x402Version, 2);
  assert.equal(required.resource.url, `mcp://127.0.0.1:${new URL(stack.worker.url).port}/tools/${TOOL}`);
  assert.deepEqual(required.accepts, [{ scheme: "exact", network: "eip155:84532", amount: "10000",
    asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", payTo: PAY_TO, maxTimeoutSeconds: 60,
    extra: { name: "USDC", version: "2" } }]);
  const w = wallet();
  const payment = await w.pay(required);
  t.diagnostic(`payment: ${JSON.stringify(payment)}`);
  const settled = facilitator.settlements.length;
  const result = await call(payment);
  t.diagnostic(`paid result: ${JSON.stringify(result)}`);
  assert.notEqual(result.isError, true, JSON.stringify(result));
  const receipt = result._meta[RESPONSE];
  assert.equal(receipt.success, true);
  assert.match(receipt.transaction, /^0x[0-9a-f]{64}$/);
  assert.equal(receipt.payer.toLowerCase(), w.address.toLowerCase());
  assert.equal(facilitator.settlements.length, settled + 1, "settled once");
  // What mKit sent the facilitator is what @x402/core's HTTPFacilitatorClient sends: the same three
  // fields (tests/e2e/fake-facilitator.test.mjs records the official client's own request).
  const sent = facilitator.requests.filter((r) => r.path === "/verify" || r.path === "/settle").slice(-2);
  assert.deepEqual(sent.map((r) => r.path), ["/verify", "/settle"]);
  for (const { body } of sent) {
    assert.deepEqual(Object.keys(body).sort(), ["paymentPayload", "paymentRequirements", "x402Version"]);
    assert.equal(body.x402Version, payment.x402Version);
    assert.deepEqual(body.paymentPayload, JSON.parse(JSON.stringify(payment)), "the payment as the agent sent it");
    assert.deepEqual(body.paymentRequirements, required.accepts[0]);
  }
  const [row] = await rows(`payer = '${w.address}'`, 1);
  assert.deepEqual(row, { state: "settled", tx: receipt.transaction, amount: "10000", user_sub: sub, payer: w.address });
  const me = (await agent.callTool({ name: "whoami", arguments: {} })).structuredContent;
  assert.equal(me.credits, 0, "a machine payment buys the call, not credits");
  assert.deepEqual(me.machine_payments, { calls: 1, amount: "10000",
    asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", network: "eip155:84532" });
});

test("a replayed payment is refused and runs nothing", async () => {
  const w = wallet();
  const payment = await w.pay(await offer());
  assert.notEqual((await call(payment)).isError, true);
  const settled = facilitator.settlements.length;
  const replay = await call(payment);
  assert.equal(replay.isError, true);
  assert.equal(replay.structuredContent.error, "this payment was already used");
  assert.equal(facilitator.settlements.length, settled);
  assert.equal((await rows(`payer = '${w.address}'`, 1)).length, 1);
});

test("an under-payment is refused, by mKit or by the facilitator's own check", async () => {
  const w = wallet();
  const required = await offer();
  const cheaper = { ...required, accepts: [{ ...required.accepts[0], amount: "5000" }] };
  const verifies = facilitator.verifyCount;
  const claimed = await call(await w.pay(cheaper));
  assert.equal(claimed.structuredContent.error, "this payment is for another amount than this call costs");
  assert.equal(facilitator.verifyCount, verifies, "refused before any facilitator");
  // A payment that names the right amount but signs less: the facilitator's verification says no.
  const signedLess = await w.pay(cheaper);
  signedLess.accepted = required.accepts[0];
  const refused = await call(signedLess);
  assert.match(refused.structuredContent.error, /^the facilitator refused this payment: /);
  assert.equal(facilitator.verifyCount, verifies + 1);
  assert.deepEqual(await rows(`payer = '${w.address}'`), [], "nothing claimed, nothing charged");
});

test("a payment for another resource, or one expired, is refused", async () => {
  const w = wallet();
  const required = await offer();
  const elsewhere = await w.pay(required);
  elsewhere.resource = { ...elsewhere.resource, url: elsewhere.resource.url.replace(TOOL, "test_other") };
  assert.equal((await call(elsewhere)).structuredContent.error, "this payment was made for another resource");
  // Signed with a validBefore already past (a window of -120 s); everything else matches.
  const stale = await w.pay({ ...required, accepts: [{ ...required.accepts[0], maxTimeoutSeconds: -120 }] });
  stale.accepted = required.accepts[0];
  const expired = await call(stale);
  assert.match(expired.structuredContent.error, /^the facilitator refused this payment: .*valid_before/);
  assert.deepEqual(await rows(`payer = '${w.address}'`), []);
  assert.ok(logged("x402_refused") >= 2);
});

test("a settlement that fails after verify withholds the result and says why", async () => {
  const w = wallet();
  const payment = await w.pay(await offer());
  facilitator.failSettle(true);
  try {
    const withheld = await call(payment);
    assert.equal(withheld.isError, true);
    assert.match(withheld.structuredContent.error, /^Settlement failed: /);
    assert.equal(withheld.structuredContent.x402Version, 2);
    assert.equal(withheld._meta[RESPONSE].success, false);
    const [row] = await rows(`payer = '${w.address}'`, 1);
    assert.equal(row?.state, "failed");
    assert.equal(logged("x402_unsettled"), 1);
  } finally {
    facilitator.failSettle(false);
  }
});

test("an agent buys credits with one payment, and later calls spend them without paying again", async () => {
  const buy = (payment) => agent.callTool({ name: "buy_credits", arguments: { credits: 5 },
    ...(payment && { _meta: { [PAYMENT]: payment } }) });
  const offered = await buy();
  assert.equal(offered.isError, true);
  assert.equal(offered.structuredContent.accepts[0].amount, "50000", "5 credits at 10000 each");
  assert.match(offered.structuredContent.resource.url, /\/tools\/buy_credits$/);
  const w = wallet(5);
  const payment = await w.pay(offered.structuredContent);
  const before = (await agent.callTool({ name: "whoami", arguments: {} })).structuredContent.credits;
  const bought = await buy(payment);
  assert.deepEqual(bought.structuredContent, { credits_added: 5 });
  const tx = bought._meta[RESPONSE].transaction;
  assert.equal((await agent.callTool({ name: "whoami", arguments: {} })).structuredContent.credits, before + 5);
  assert.equal((await buy(payment)).structuredContent.error, "this payment was already used");
  const [grant] = await d1(stack.worker, `SELECT user_sub, credits, event_id, applied FROM credit_grants WHERE event_id = '${tx}'`);
  assert.deepEqual(grant, { user_sub: sub, credits: 5, event_id: tx, applied: 1 }, "one ledger: a grant like a pack's");
  const spent = await call();
  assert.notEqual(spent.isError, true, "a call priced in credits spends the balance, no payment needed");
  assert.equal((await agent.callTool({ name: "whoami", arguments: {} })).structuredContent.credits, before + 4);
  // Spend the rest, so the other cases' unpaid calls are refused again.
  for (let i = 0; i < before + 4; i++) assert.notEqual((await call()).isError, true);
  assert.equal((await offer()).x402Version, 2);
});

test("64 concurrent paid calls settle 64 times; 8 copies of one payment run once", async () => {
  const w = wallet(65);
  const required = await offer();
  const payments = await Promise.all(Array.from({ length: 64 }, () => w.pay(required)));
  const settled = facilitator.settlements.length;
  const results = await Promise.all(payments.map((p) => call(p)));
  assert.equal(results.filter((r) => r.isError !== true).length, 64);
  assert.equal(facilitator.settlements.length, settled + 64);
  assert.equal(new Set(results.map((r) => r._meta[RESPONSE].transaction)).size, 64);
  const [{ n }] = await ledgerOnce(
    `SELECT COUNT(*) AS n FROM machine_payments WHERE payer = '${w.address}' AND state = 'settled'`, (r) => r[0].n === 64);
  assert.equal(n, 64);
  const one = await w.pay(required);
  const [refusedBefore, verifiesBefore] = [logged("x402_refused"), facilitator.verifyCount];
  const copies = await Promise.all(Array.from({ length: 8 }, () => call(one)));
  assert.equal(copies.filter((r) => r.isError !== true).length, 1);
  assert.equal(facilitator.settlements.length, settled + 65);
  // The ledger's claim stops the 7 copies before the facilitator: the tool ran once, not 8 times
  // with 7 results withheld at settlement.
  assert.equal(logged("x402_refused"), refusedBefore + 7);
  assert.equal(facilitator.verifyCount, verifiesBefore + 1);
});

test("a 2026-07-28 request that declares the extension gets the payment_required result type", async () => {
  const token = await stack.token();
  const post = (capabilities) => fetch(`${stack.worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": TOOL, authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: TOOL, arguments: {}, _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": capabilities,
      "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" } } } }),
  }).then((r) => r.json());
  const extension = (await post({ extensions: { "org.x402/payment": {} } })).result;
  assert.equal(extension.resultType, "payment_required");
  assert.equal(extension.paymentRequired.accepts[0].amount, "10000");
  const plain = (await post({})).result;
  assert.equal(plain.structuredContent.error, "payment_required", "mKit's own refusal for a caller that did not declare");
});


if (OBJECTS) {
  test("a payment claimed in D1 before the binding was added is refused by the payer's object", async () => {
    const w = wallet(1);
    const required = await offer();
    const payment = await w.pay(required);
    const { network, asset } = required.accepts[0];
    const key = [network, asset, w.address, payment.payload.authorization.nonce].join(":").toLowerCase();
    // As a version counting in D1 claims it (x402::Payment::claim), mid-call when the binding came.
    const now = Math.floor(Date.now() / 1000);
    await d1(stack.worker, `INSERT INTO machine_payments (id, user_sub, tool, network, asset, amount, pay_to, payer,
      state, created_at, updated_at) VALUES ('${key}', '${sub}', '${TOOL}', '${network}', '${asset}', '10000',
      '${PAY_TO}', '${w.address}', 'verifying', ${now}, ${now})`);
    const verifies = facilitator.requests.filter((r) => r.path === "/verify").length;
    const replay = await call(payment);
    assert.equal(replay.isError, true, JSON.stringify(replay));
    assert.match(replay.structuredContent.error, /already used/);
    assert.equal(facilitator.requests.filter((r) => r.path === "/verify").length, verifies, "the facilitator was not asked");
    // The payer's next payment runs: the object read D1 once and goes on.
    const paid = await call(await w.pay(required));
    assert.notEqual(paid.isError, true, JSON.stringify(paid));
  });
}

// Next to last: it crashes the worker (the restarted one answers the last case). Only with the objects, where a payment reaches D1 after its answer.
if (OBJECTS) {
  test("a crash right after paid calls loses nothing: the payer's object writes them to D1 after a restart", async () => {
    const w = wallet(3);
    const required = await offer();
    const txs = [];
    for (let i = 0; i < 3; i++) {
      const paid = await call(await w.pay(required));
      assert.notEqual(paid.isError, true, JSON.stringify(paid));
      txs.push(paid._meta[RESPONSE].transaction);
    }
    // Killed at once (SIGKILL), as a crash would: whatever the object had not written back waits in it.
    await stack.worker.crash();
    restarted = await startWorker({ name: "x402-objects-again", script: EXAMPLES_BUILD, config, port: stack.worker.port,
      vars: { ...defaultVars(), OAUTH_ISSUER: stack.issuer.url, MCP_RESOURCE: stack.resource, ...x402Vars() },
      persist: stack.worker.persist, migrate: false });
    let found = [];
    for (let i = 0; i < 60 && found.length < 3; i++) {
      found = await d1(restarted, `SELECT state, tx FROM machine_payments WHERE payer = '${w.address}' AND state = 'settled'`);
      if (found.length < 3) await sleep(250);
    }
    assert.deepEqual(found.map((r) => r.tx).sort(), [...txs].sort(), "each settled payment reached D1, once");
  });
}

// Last: the facilitator stays down.
test("a facilitator that is down fails closed: nothing runs, nothing is charged", async () => {
  const w = wallet();
  const payment = await w.pay(await offer());
  await facilitator.down();
  const refused = await call(payment);
  assert.equal(refused.isError, true);
  assert.equal(refused.structuredContent.error, "the facilitator cannot be reached now; nothing was charged: try again");
  assert.deepEqual(await rows(`payer = '${w.address}'`), [], "the claim is released: the payment may be sent again");
});
