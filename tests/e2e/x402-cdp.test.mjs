// Coinbase's CDP facilitator authenticates every /verify and /settle by a JWT the seller's CDP API
// key signs for that one request (MKIT_X402_CDP_API_KEY_ID and _SECRET). The facilitator here is
// tests/e2e/fake-facilitator.mjs in its CDP mode, under CDP's path (/platform/v2/x402): it refuses
// any request whose token `@coinbase/cdp-sdk/auth`'s `generateJwt` would not have made, and
// fake-facilitator.test.mjs holds that check to generateJwt itself. Here the worker pays through it
// with both key forms the CDP portal gives (a PEM EC key, a base64 Ed25519 key), each token is set
// beside the official one for the same request, and a wrong key fails closed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { generateJwt } from "@coinbase/cdp-sdk/auth";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startStack } from "./stack.mjs";
import { EXAMPLES_BUILD, postMcp } from "./harness.mjs";
import { startFakeFacilitator, cdpKey } from "./fake-facilitator.mjs";
import { payer } from "./x402-payer.mjs";

const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const NETWORK = "eip155:84532";
const TOOL = "test_credits";
const BASE = "/platform/v2/x402";

/** A worker paid through a CDP-authenticated facilitator; `secret` is what the seller configured. */
async function throughCdp(name, key, keyId, secret = key.secret) {
  const facilitator = await startFakeFacilitator({ network: NETWORK, cdp: { keyId, publicKey: key.publicKey }, basePath: BASE });
  const stack = await startStack({ name, script: EXAMPLES_BUILD, vars: { MKIT_X402_PAY_TO: PAY_TO, MKIT_X402_NETWORK: NETWORK,
    MKIT_X402_FACILITATOR_URL: facilitator.url, MKIT_X402_CDP_API_KEY_ID: keyId, MKIT_X402_CDP_API_KEY_SECRET: secret } });
  const agent = new Client({ name: "mkit-e2e-agent", version: "1.0.0" },
    { capabilities: { extensions: { "org.x402/payment": {} } } });
  await agent.connect(new StreamableHTTPClientTransport(new URL(`${stack.worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${await stack.token()}` } } }));
  const pay = async () => {
    const refused = await agent.callTool({ name: TOOL, arguments: {} });
    const wallet = payer();
    facilitator.fund(wallet.address, 10_000n);
    const payment = await wallet.pay(refused.structuredContent);
    return agent.callTool({ name: TOOL, arguments: {}, _meta: { "x402/payment": payment } });
  };
  return { facilitator, stack, pay, async stop() {
    await agent.close();
    await stack.stop();
    await facilitator.stop();
  } };
}

/** A JWT's header and claims with the values that differ per token (nonce, times) replaced by their shape. */
function shape(token) {
  const { nonce, ...header } = decodeProtectedHeader(token);
  const { iat, nbf, exp, ...claims } = decodeJwt(token);
  return { header, nonce: /^[0-9a-f]{32}$/.test(nonce), claims, lifetime: exp - nbf, iatIsNbf: iat === nbf };
}

for (const kind of ["ES256", "EdDSA"]) {
  test(`a ${kind} CDP key: each facilitator request carries the JWT generateJwt makes for it, and the payment settles once`,
    async (t) => {
    const key = cdpKey(kind);
    const keyId = `organizations/mkit-e2e/apiKeys/${kind.toLowerCase()}`;
    const on = await throughCdp(`x402-cdp-${kind.toLowerCase()}`, key, keyId);
    try {
      const paid = await on.pay();
      assert.notEqual(paid.isError, true, JSON.stringify(paid));
      assert.equal(on.facilitator.settlements.length, 1, "settled once");
      assert.deepEqual(on.facilitator.authorizations.map((a) => [a.path, a.refusal]), [["/verify", null], ["/settle", null]]);
      const host = new URL(on.facilitator.url).host;
      for (const { path, authorization } of on.facilitator.authorizations) {
        const official = await generateJwt({ apiKeyId: keyId, apiKeySecret: key.secret, requestMethod: "POST",
          requestHost: host, requestPath: `${BASE}${path}` });
        const mine = authorization.slice("Bearer ".length);
        assert.deepEqual(shape(mine), shape(official), `${path}: mKit's token against @coinbase/cdp-sdk's`);
        t.diagnostic(`${path}: ${JSON.stringify(shape(mine))}`);
      }
    } finally {
      await on.stop();
    }
  });
}

test("a key the facilitator does not know: 401 at /verify, so nothing runs, nothing settles, the payment stays unspent",
  async () => {
  const key = cdpKey("ES256");
  const on = await throughCdp("x402-cdp-wrong", key, "organizations/mkit-e2e/apiKeys/wrong", cdpKey("ES256").secret);
  try {
    const paid = await on.pay();
    assert.equal(paid.isError, true);
    assert.match(JSON.stringify(paid.structuredContent), /facilitator cannot be reached now; nothing was charged/);
    assert.equal(on.facilitator.verifyCount, 0, "refused before verification");
    assert.equal(on.facilitator.settleCount, 0);
    assert.match(on.facilitator.authorizations[0].refusal, /signature/);
  } finally {
    await on.stop();
  }
});

test("half a CDP key, or a secret in neither form, is a configuration error naming the variable, never the value",
  async () => {
  const secret = "not-a-key-0123456789";
  for (const [vars, named] of [
    [{ MKIT_X402_CDP_API_KEY_ID: "organizations/o/apiKeys/k" }, /MKIT_X402_CDP_API_KEY_SECRET: is required with the other half/],
    [{ MKIT_X402_CDP_API_KEY_ID: "k", MKIT_X402_CDP_API_KEY_SECRET: secret }, /MKIT_X402_CDP_API_KEY_SECRET: must be a CDP API key/],
  ]) {
    const stack = await startStack({ name: "x402-cdp-config", script: EXAMPLES_BUILD, vars: { MKIT_X402_PAY_TO: PAY_TO,
      MKIT_X402_NETWORK: NETWORK, MKIT_X402_FACILITATOR_URL: "https://api.cdp.coinbase.com/platform/v2/x402", ...vars } });
    try {
      const { status, body } = await postMcp(stack.worker.url, await stack.token(), "tools/list");
      assert.equal(status, 503, body);
      assert.match(body, named);
      assert.doesNotMatch(body, new RegExp(secret));
    } finally {
      await stack.stop();
    }
  }
});
