// Self-test of fake-facilitator.mjs and x402-payer.mjs: the official `HTTPFacilitatorClient`
// (@x402/core/http) is the caller, payloads come from the official x402Client, and every refusal
// below is reached by the official ExactEvmScheme against the in-memory chain. No worker needed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { HTTPFacilitatorClient } from "@x402/core/http";
import { generateJwt } from "@coinbase/cdp-sdk/auth";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { startFakeFacilitator, cdpKey, USDC_BASE_SEPOLIA, FAIL_SETTLE_REASON } from "./fake-facilitator.mjs";
import { payer } from "./x402-payer.mjs";

const NETWORK = "eip155:84532";
const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const REQUIREMENTS = {
  scheme: "exact", network: NETWORK, amount: "10000", asset: USDC_BASE_SEPOLIA, payTo: PAY_TO,
  maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2" },
};
const TX_HASH = /^0x[0-9a-f]{64}$/;

let fac;
let client;
before(async () => {
  fac = await startFakeFacilitator({ network: NETWORK });
  client = new HTTPFacilitatorClient({ url: fac.url });
});
after(async () => {
  await fac?.stop();
});

/** The `PaymentRequired` a paid MCP tool answers with (specs/transports-v2/mcp.md). */
function paymentRequired(requirements = REQUIREMENTS) {
  return {
    x402Version: 2, error: "Payment required to call echo",
    resource: { url: "mcp://tool/echo", description: "echo, paid", mimeType: "application/json" },
    accepts: [requirements],
  };
}

/** A payer with `funds` atomic USDC on the fake chain, and its key for hand-made signatures. */
function fundedPayer(funds = 1_000_000n) {
  const privateKey = generatePrivateKey();
  const p = payer(privateKey);
  if (funds) fac.fund(p.address, funds);
  return { ...p, privateKey };
}

const lastRequest = (path) => fac.requests.findLast((r) => r.path === path);

test("a funded payer's payment verifies and settles once; a replay is refused", async () => {
  const alice = fundedPayer(50_000n);
  const payTo = fac.balanceOf(PAY_TO);
  const payment = await alice.pay(paymentRequired());
  const counts = { verify: fac.verifyCount, settle: fac.settleCount };

  const verified = await client.verify(payment, REQUIREMENTS);
  assert.equal(verified.isValid, true, JSON.stringify(verified));
  assert.equal(verified.payer, alice.address);
  assert.equal(fac.verifyCount, counts.verify + 1);
  // The wire shape the Rust client must send: exactly these three keys (spec §7.1).
  const sent = lastRequest("/verify").body;
  assert.deepEqual(Object.keys(sent).sort(), ["paymentPayload", "paymentRequirements", "x402Version"]);
  assert.equal(sent.x402Version, 2);
  assert.deepEqual(sent.paymentRequirements, REQUIREMENTS);

  const settled = await client.settle(payment, REQUIREMENTS);
  assert.equal(settled.success, true, JSON.stringify(settled));
  assert.match(settled.transaction, TX_HASH);
  assert.equal(settled.network, NETWORK);
  assert.equal(settled.payer, alice.address);
  assert.equal(fac.settleCount, counts.settle + 1);
  assert.deepEqual(Object.keys(lastRequest("/settle").body).sort(),
    ["paymentPayload", "paymentRequirements", "x402Version"]);
  const mine = fac.settlements.filter((s) => s.from === alice.address);
  assert.deepEqual(mine, [{
    nonce: payment.payload.authorization.nonce, from: alice.address, to: PAY_TO, value: "10000",
    transaction: settled.transaction,
  }]);
  assert.equal(fac.balanceOf(alice.address), 40_000n);
  assert.equal(fac.balanceOf(PAY_TO), payTo + 10_000n);

  // The nonce is spent on the chain: the settle's transfer reverts, and verify's simulation fails.
  const again = await client.settle(payment, REQUIREMENTS);
  assert.equal(again.success, false);
  assert.equal(again.errorReason, "invalid_exact_evm_nonce_already_used");
  assert.equal(again.transaction, "");
  const reverified = await client.verify(payment, REQUIREMENTS);
  assert.equal(reverified.isValid, false);
  assert.equal(reverified.invalidReason, "invalid_exact_evm_nonce_already_used");
  assert.equal(fac.settlements.filter((s) => s.from === alice.address).length, 1);
  assert.equal(fac.balanceOf(alice.address), 40_000n);
});

test("an under-payment is invalid", async () => {
  const bob = fundedPayer();
  const payment = await bob.pay(paymentRequired());
  const verified = await client.verify(payment, { ...REQUIREMENTS, amount: "20000" });
  assert.equal(verified.isValid, false);
  assert.equal(verified.invalidReason, "invalid_exact_evm_payload_authorization_value_mismatch");
});

test("an authorization whose validBefore has passed is invalid, its signature still good", async (t) => {
  const carol = fundedPayer();
  // Sign two minutes in the past on a fake clock, so validBefore (sign time + 60 s) has passed
  // while the signature stays the payer's own over the payload as sent. The scheme checks the
  // signature before the time window, so this reason also proves the signature passed.
  t.mock.timers.enable({ apis: ["Date"], now: Date.now() - 120_000 });
  const payment = await carol.pay(paymentRequired());
  t.mock.timers.reset();
  assert.ok(BigInt(payment.payload.authorization.validBefore) < BigInt(Math.floor(Date.now() / 1000)));
  const verified = await client.verify(payment, REQUIREMENTS);
  assert.equal(verified.isValid, false);
  assert.equal(verified.invalidReason, "invalid_exact_evm_payload_authorization_valid_before");
});

/** EIP-712 TransferWithAuthorization over `authorization`, signed by `privateKey` (spec §6.1.1). */
function signAuthorization(privateKey, authorization) {
  const message = {
    ...authorization, value: BigInt(authorization.value), validAfter: BigInt(authorization.validAfter),
    validBefore: BigInt(authorization.validBefore),
  };
  return privateKeyToAccount(privateKey).signTypedData({
    domain: { name: "USDC", version: "2", chainId: 84532, verifyingContract: USDC_BASE_SEPOLIA },
    types: {
      TransferWithAuthorization: [
        { name: "from", type: "address" }, { name: "to", type: "address" }, { name: "value", type: "uint256" },
        { name: "validAfter", type: "uint256" }, { name: "validBefore", type: "uint256" },
        { name: "nonce", type: "bytes32" },
      ],
    },
    primaryType: "TransferWithAuthorization",
    message,
  });
}

test("a payload signed by another key than `from` is invalid", async () => {
  const dave = fundedPayer();
  const payment = await dave.pay(paymentRequired());
  const withSignature = (signature) => ({ ...payment, payload: { ...payment.payload, signature } });
  const { authorization } = payment.payload;

  // Control: the hand-built typed data signed by dave's own key is accepted...
  const own = await client.verify(withSignature(await signAuthorization(dave.privateKey, authorization)),
    REQUIREMENTS);
  assert.equal(own.isValid, true, JSON.stringify(own));
  // ...and the same authorization signed by mallory's key is refused by the signature check.
  const forged = await client.verify(withSignature(await signAuthorization(generatePrivateKey(), authorization)),
    REQUIREMENTS);
  assert.equal(forged.isValid, false);
  assert.equal(forged.invalidReason, "invalid_exact_evm_signature");
  assert.equal(forged.payer, dave.address);
});

test("a payer without the funds is refused by the token's simulated transfer", async () => {
  const erin = fundedPayer(9_999n);
  const verified = await client.verify(await erin.pay(paymentRequired()), REQUIREMENTS);
  assert.equal(verified.isValid, false);
  assert.equal(verified.invalidReason, "invalid_exact_evm_insufficient_balance");
});

test("failSettle(true) answers success:false with an errorReason and settles nothing", async (t) => {
  const frank = fundedPayer(10_000n);
  const payment = await frank.pay(paymentRequired());
  const before = fac.settlements.length;
  fac.failSettle(true);
  t.after(() => fac.failSettle(false));

  const settled = await client.settle(payment, REQUIREMENTS);
  assert.equal(settled.success, false);
  assert.equal(settled.errorReason, FAIL_SETTLE_REASON);
  assert.equal(settled.transaction, "");
  assert.equal(settled.network, NETWORK);
  assert.equal(fac.settlements.length, before);
  assert.equal(fac.balanceOf(frank.address), 10_000n);

  // The authorization was not spent: once settling works again it goes through.
  fac.failSettle(false);
  assert.equal((await client.settle(payment, REQUIREMENTS)).success, true);
  assert.equal(fac.balanceOf(frank.address), 0n);
});

test("/supported lists the exact scheme on the network with the facilitator's signer", async () => {
  const supported = await client.getSupported();
  assert.deepEqual(supported.kinds, [{ x402Version: 2, scheme: "exact", network: NETWORK }]);
  assert.equal(supported.signers["eip155:*"].length, 1);
});

/** A POST to the fake written by hand, as a client other than the official one might send it. */
const post = (path, body) =>
  fetch(`${fac.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

test("a body missing x402Version, paymentPayload or paymentRequirements is a 400 with JSON", async () => {
  const payment = await fundedPayer().pay(paymentRequired());
  const full = { x402Version: 2, paymentPayload: payment, paymentRequirements: REQUIREMENTS };
  for (const path of ["/verify", "/settle"]) {
    for (const missing of Object.keys(full)) {
      const { [missing]: _, ...body } = full;
      const res = await post(path, JSON.stringify(body));
      assert.equal(res.status, 400, `${path} without ${missing}`);
      assert.match((await res.json()).error, new RegExp(missing));
    }
    assert.equal((await post(path, "not json")).status, 400);
  }
  // The official client turns such an answer into a thrown error, not a VerifyResponse.
  await assert.rejects(client.verify({ ...payment, x402Version: undefined }, REQUIREMENTS), /\(400\)/);
});

test("a body over 64 KiB is refused with 413", async () => {
  const res = await post("/verify", JSON.stringify({ pad: "x".repeat(64 * 1024) }));
  assert.equal(res.status, 413);
  assert.match((await res.json()).error, /bytes/);
});

test("after down() the official client's verify is refused (connection refused)", async (t) => {
  const own = await startFakeFacilitator();
  t.after(() => own.stop());
  const ownClient = new HTTPFacilitatorClient({ url: own.url });
  const grace = payer();
  own.fund(grace.address, 10_000n);
  const payment = await grace.pay(paymentRequired());
  assert.equal((await ownClient.verify(payment, REQUIREMENTS)).isValid, true);
  await own.down();
  await assert.rejects(ownClient.verify(payment, REQUIREMENTS), (error) => {
    assert.equal(error.cause?.code, "ECONNREFUSED", String(error));
    return true;
  });
});

test("as CDP: the official client with generateJwt's token (ES256 and Ed25519) is served; no, a foreign or a " +
  "misaddressed token is 401", async (t) => {
  const BASE = "/platform/v2/x402";
  for (const kind of ["ES256", "EdDSA"]) {
    const key = cdpKey(kind);
    const keyId = `organizations/test/apiKeys/${kind}`;
    const cdp = await startFakeFacilitator({ network: NETWORK, cdp: { keyId, publicKey: key.publicKey }, basePath: BASE });
    try {
      const host = new URL(cdp.url).host;
      // What @coinbase/x402's createCdpAuthHeaders does, for this host instead of api.cdp.coinbase.com.
      const jwt = (path, secret = key.secret, id = keyId) => generateJwt({ apiKeyId: id, apiKeySecret: secret,
        requestMethod: "POST", requestHost: host, requestPath: `${BASE}/${path}` });
      const official = new HTTPFacilitatorClient({ url: cdp.url, createAuthHeaders: async () => ({
        verify: { Authorization: `Bearer ${await jwt("verify")}` }, settle: { Authorization: `Bearer ${await jwt("settle")}` },
        supported: {} }) });
      const bob = payer(generatePrivateKey());
      cdp.fund(bob.address, 10_000n);
      const payment = await bob.pay(paymentRequired());
      t.diagnostic(`${kind}: @coinbase/cdp-sdk generateJwt, through @x402/core's HTTPFacilitatorClient`);
      assert.equal((await official.verify(payment, REQUIREMENTS)).isValid, true);
      assert.equal((await official.settle(payment, REQUIREMENTS)).success, true);
      assert.deepEqual(cdp.authorizations.map((a) => [a.path, a.refusal]), [["/verify", null], ["/settle", null]]);

      const post = async (authorization) => {
        const r = await fetch(`${cdp.url}/verify`, { method: "POST", headers: { "content-type": "application/json",
          ...(authorization && { authorization }) }, body: "{}" });
        return { status: r.status, body: await r.json() };
      };
      const other = cdpKey(kind);
      for (const [authorization, why] of [[undefined, /no Bearer token/], [`Bearer ${await jwt("settle")}`, /uris/],
        [`Bearer ${await jwt("verify", other.secret)}`, /signature/], [`Bearer ${await jwt("verify", key.secret, "k2")}`, /kid/]]) {
        const r = await post(authorization);
        assert.equal(r.status, 401, JSON.stringify(r.body));
        assert.equal(r.body.errorType, "unauthorized");
        assert.match(r.body.errorMessage, why);
      }
      assert.equal((await post(`Bearer ${await jwt("verify")}`)).status, 400, "a good token reaches the body's check");
      assert.equal(cdp.verifyCount, 2, "a refused token reaches no verification");
    } finally {
      await cdp.stop();
    }
  }
});
