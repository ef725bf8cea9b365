// Every network docs/configuration.md says mKit takes machine payments on, each on its own worker:
// the offer names that network's USDC exactly as the official `@x402/evm` package's own table has
// it (`getDefaultAsset`: the contract, and the EIP-712 name and version the payer signs), and a
// payment signed by the official client settles once through the official facilitator code
// registered for that network (tests/e2e/fake-facilitator.mjs, its token from the same table).
// `make vars` and the worker accept exactly the documented list; a network the package knows but
// whose asset is not EIP-3009 USDC (MegaETH's MegaUSD, 18 decimals, Permit2) is refused by both.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getDefaultAsset } from "@x402/evm";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startStack } from "./stack.mjs";
import { ROOT, EXAMPLES_BUILD, postMcp } from "./harness.mjs";
import { startFakeFacilitator } from "./fake-facilitator.mjs";
import { payer } from "./x402-payer.mjs";
import { FORMATS } from "../../scripts/vars.mjs";

const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const TOOL = "test_credits";

/** The networks the configuration reference lists for MKIT_X402_NETWORK. */
function documentedNetworks() {
  const row = readFileSync(join(ROOT, "docs/configuration.md"), "utf8").split("\n")
    .find((l) => l.startsWith("| `MKIT_X402_NETWORK` |"));
  assert.ok(row, "docs/configuration.md has the MKIT_X402_NETWORK row");
  const [, , , , , meaning] = row.split("|");
  return [...new Set(meaning.match(/eip155:\d+/g))];
}

const NETWORKS = documentedNetworks();

test("the documented networks are the ones make vars takes, and more than Base", () => {
  assert.ok(NETWORKS.length >= 7, NETWORKS.join(", "));
  for (const n of NETWORKS) assert.equal(FORMATS.x402_network(n), null, n);
  for (const n of ["eip155:4326", "eip155:10", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "eip155:8453x"]) {
    assert.notEqual(FORMATS.x402_network(n), null, n);
  }
});

/** One worker on `network`; the official MCP client declaring it pays in-protocol. */
async function onNetwork(network) {
  const facilitator = await startFakeFacilitator({ network });
  const stack = await startStack({ name: `x402-${network.replace(":", "-")}`, script: EXAMPLES_BUILD, vars: {
    MKIT_X402_PAY_TO: PAY_TO, MKIT_X402_NETWORK: network, MKIT_X402_FACILITATOR_URL: facilitator.url } });
  const agent = new Client({ name: "mkit-e2e-agent", version: "1.0.0" },
    { capabilities: { extensions: { "org.x402/payment": {} } } });
  await agent.connect(new StreamableHTTPClientTransport(new URL(`${stack.worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${await stack.token()}` } } }));
  return { facilitator, stack, agent, async stop() {
    await agent.close();
    await stack.stop();
    await facilitator.stop();
  } };
}

for (const network of NETWORKS) {
  test(`on ${network}, the offer is the official package's USDC and a payment settles once`, async () => {
    const usdc = getDefaultAsset(network);
    assert.equal(usdc.decimals, 6, "a price means millionths of a dollar on every network");
    assert.equal(usdc.assetTransferMethod, undefined, "EIP-3009, the exact scheme's default");
    const on = await onNetwork(network);
    try {
      const refused = await on.agent.callTool({ name: TOOL, arguments: {} });
      assert.equal(refused.isError, true);
      assert.deepEqual(refused.structuredContent.accepts, [{ scheme: "exact", network, amount: "10000",
        asset: usdc.asset, payTo: PAY_TO, maxTimeoutSeconds: 60, extra: { name: usdc.name, version: usdc.version } }]);
      const wallet = payer();
      on.facilitator.fund(wallet.address, 10_000n);
      const payment = await wallet.pay(refused.structuredContent);
      const paid = await on.agent.callTool({ name: TOOL, arguments: {}, _meta: { "x402/payment": payment } });
      assert.notEqual(paid.isError, true, JSON.stringify(paid));
      assert.equal(paid._meta["x402/payment-response"].network, network);
      assert.equal(on.facilitator.settlements.length, 1, "settled once");
      assert.equal(on.facilitator.settlements[0].value, "10000");
    } finally {
      await on.stop();
    }
  });
}

test("a network whose asset is not EIP-3009 USDC is refused at configuration", async () => {
  const stack = await startStack({ name: "x402-megaeth", script: EXAMPLES_BUILD, vars: {
    MKIT_X402_PAY_TO: PAY_TO, MKIT_X402_NETWORK: "eip155:4326", MKIT_X402_FACILITATOR_URL: "https://x402.org/facilitator" } });
  try {
    const { status, body } = await postMcp(stack.worker.url, await stack.token(), "tools/list");
    assert.equal(status, 503, body);
    assert.match(body, /MKIT_X402_NETWORK: must be a network whose USDC mKit takes/);
    assert.doesNotMatch(body, /eip155:4326/, "names the problem, never the value");
  } finally {
    await stack.stop();
  }
});
