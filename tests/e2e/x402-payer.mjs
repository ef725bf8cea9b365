// An x402 v2 payer built from the official client packages: `x402Client` (@x402/core/client) with
// the EVM "exact" scheme (`ExactEvmScheme` from @x402/evm/exact/client) registered for eip155:*,
// signing EIP-3009 TransferWithAuthorization with a viem local account. `pay` takes the
// `PaymentRequired` object a paid MCP tool answers with (specs/transports-v2/mcp.md in
// x402-foundation/x402: `structuredContent` of the isError result) and returns the `PaymentPayload`
// to put in the retried call's `_meta["x402/payment"]`.
//
// The official client keeps its default spend control: a payment above $1 in a known asset (USDC
// on Base Sepolia included) is refused before signing.
//
//   const alice = payer();
//   const payment = await alice.pay(result.structuredContent);

import { x402Client } from "@x402/core/client";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

/** A payer with the given key (hex, 0x-prefixed) or a fresh random one. */
export function payer(privateKey = generatePrivateKey()) {
  const account = privateKeyToAccount(privateKey);
  const client = new x402Client().register("eip155:*", new ExactEvmScheme(account));
  return {
    address: account.address,
    pay: (paymentRequired) => client.createPaymentPayload(paymentRequired),
  };
}
