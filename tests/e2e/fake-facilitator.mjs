// A local x402 facilitator on loopback whose verification and settlement ARE the official code:
// `x402Facilitator` from `@x402/core/facilitator` with `ExactEvmScheme` from
// `@x402/evm/exact/facilitator` (both pinned at 2.27.0) registered for one network. The only thing
// faked is the chain under it: an in-memory EIP-3009 token, the network's USDC as the official
// package's own table has it (`getDefaultAsset` of @x402/evm: address, EIP-712 name and version), given
// to the scheme as its `FacilitatorEvmSigner`. Signatures are checked with real crypto twice, by the
// official scheme (hashTypedData + recoverAddress) and again by the token's own
// `transferWithAuthorization` (viem's `verifyTypedData`), so a payload signed by the wrong key is
// refused by the real thing, not by a rule written here.
//
// Specs followed (x402-foundation/x402 repository):
//   - specs/x402-specification-v2.md: §5 PaymentRequired / PaymentPayload / SettleResponse /
//     VerifyResponse, §7 the facilitator API (POST /verify, POST /settle with
//     `{ x402Version, paymentPayload, paymentRequirements }`, GET /supported), §9 error reasons;
//   - specs/transports-v2/mcp.md: the MCP tool-result binding mKit serves (`_meta["x402/payment"]`
//     in, `_meta["x402/payment-response"]` out), whose SettleResponse comes from here.
// HTTP shapes follow what the official `HTTPFacilitatorClient` (@x402/core/http) sends and accepts:
// any 2xx is parsed as the VerifyResponse / SettleResponse, so a refused payment is HTTP 200 with
// `isValid: false` / `success: false` (as the official facilitator examples answer); a body missing
// a field is 400 `{ error }`; an exception inside the facilitator (e.g. unregistered network) is
// 500 `{ error }`, as in the official examples.
//
// With `cdp: { keyId, publicKey }` it is Coinbase's CDP facilitator as to authentication: every
// POST must carry `Authorization: Bearer <JWT>` exactly as `@coinbase/cdp-sdk/auth`'s `generateJwt`
// (1.57.0, src/auth/utils/jwt.ts) makes it for that request, which `@coinbase/x402`'s
// `createCdpAuthHeaders` (2.1.0) sends: header { alg ES256|EdDSA, kid, typ JWT, nonce of 16
// random bytes as hex }, claims { sub = kid, iss "cdp", uris ["POST <host><path>"], iat = nbf,
// exp = nbf + 120 }, signed by the key. Anything else is 401 with CDP's error object
// ({ errorType: "unauthorized", errorMessage }, the `Error` schema of the SDK's generated
// openapi client). `basePath` serves the routes under a path, as CDP's /platform/v2/x402.
//
//   const fac = await startFakeFacilitator({ balances: { [payerAddress]: 1_000_000n } });
//   ...point the worker at fac.url (it POSTs /verify and /settle there)...
//   fac.settlements[0]; // { nonce, from, to, value, transaction }

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { jwtVerify, decodeProtectedHeader } from "jose";
import { createServer } from "node:http";
import { x402Facilitator } from "@x402/core/facilitator";
import { ExactEvmScheme } from "@x402/evm/exact/facilitator";
import { getDefaultAsset } from "@x402/evm";
import {
  decodeFunctionData, encodeAbiParameters, encodeEventTopics, encodeFunctionResult, getAddress, isAddressEqual,
  parseAbi, serializeSignature, verifyTypedData,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

/** Circle's USDC on Base Sepolia (eip155:84532), the asset of the specs' examples. */
export const USDC_BASE_SEPOLIA = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";

/** The reason `failSettle(true)` answers: spec §9 "Blockchain transaction failed or was rejected". */
export const FAIL_SETTLE_REASON = "invalid_transaction_state";

// The scheme batches its diagnostic reads through Multicall3's tryAggregate at this address.
const MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11";
const MAX_BODY = 64 * 1024;
// Any non-empty code: the scheme refuses an asset with no code ("asset_not_deployed_contract").
const TOKEN_CODE = "0x6080604052";

const TOKEN_ABI = parseAbi([
  "function balanceOf(address account) view returns (uint256)",
  "function name() view returns (string)",
  "function version() view returns (string)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, "
    + "uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, "
    + "uint256 validBefore, bytes32 nonce, bytes signature)",
  "event Transfer(address indexed from, address indexed to, uint256 value)",
]);
const MULTICALL_ABI = parseAbi([
  "function tryAggregate(bool requireSuccess, (address target, bytes callData)[] calls) "
    + "returns ((bool success, bytes returnData)[] returnData)",
]);
const AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
};

const hex32 = () => `0x${randomBytes(32).toString("hex")}`;
const nowSeconds = () => BigInt(Math.floor(Date.now() / 1000));
const key = (address) => getAddress(address).toLowerCase();
const nonceKey = (from, nonce) => `${key(from)}:${String(nonce).toLowerCase()}`;
// The wording FiatToken (USDC) reverts with, which the scheme's error parser maps to x402 reasons.
const revert = (reason) => new Error(`execution reverted: ${reason}`);

function chainIdOf(network) {
  const match = /^eip155:(\d+)$/.exec(network);
  if (!match) throw new Error(`fake facilitator: not an EVM network: ${network}`);
  return Number(match[1]);
}

/** `(v, r, s)` back to the 65-byte signature; v may come as 27/28 or as a 0/1 y-parity. */
function joinSignature(v, r, s) {
  const n = Number(v);
  return serializeSignature({ r, s, yParity: n >= 27 ? n - 27 : n });
}

// ---- the in-memory chain: one EIP-3009 token --------------------------------------------------

function createChain({ network, balances }) {
  const chainId = chainIdOf(network);
  const usdc = getDefaultAsset(network);
  const token = { address: getAddress(usdc.asset), name: usdc.name, version: usdc.version };
  const held = new Map();
  const usedNonces = new Set();
  const txs = new Map();
  const facilitatorAddress = privateKeyToAccount(generatePrivateKey()).address;
  const balanceOf = (address) => held.get(key(address)) ?? 0n;
  const fund = (address, amount) => held.set(key(address), balanceOf(address) + BigInt(amount));
  for (const [address, amount] of Object.entries(balances)) fund(address, amount);

  async function signedBy(from, message, signature) {
    const domain = { name: token.name, version: token.version, chainId, verifyingContract: token.address };
    try {
      return await verifyTypedData({
        address: from, domain, types: AUTHORIZATION_TYPES, primaryType: "TransferWithAuthorization", message,
        signature,
      });
    } catch {
      return false;
    }
  }

  /**
   * FiatToken's checks for transferWithAuthorization, in its order. The one await comes first so
   * a check and the state change after it happen with no await between (no double spend).
   */
  async function checkTransfer(args) {
    const [from, to, value, validAfter, validBefore, nonce, ...sig] = args;
    const signature = sig.length === 3 ? joinSignature(...sig) : sig[0];
    const goodSignature = await signedBy(from, { from, to, value, validAfter, validBefore, nonce }, signature);
    const now = nowSeconds();
    if (now <= validAfter) throw revert("FiatTokenV2: authorization is not yet valid");
    if (now >= validBefore) throw revert("FiatTokenV2: authorization is expired");
    if (usedNonces.has(nonceKey(from, nonce))) throw revert("FiatTokenV2: authorization is used or canceled");
    if (!goodSignature) throw revert("FiatTokenV2: invalid signature");
    if (balanceOf(from) < value) throw revert("ERC20: transfer amount exceeds balance");
    return { from: getAddress(from), to: getAddress(to), value, nonce };
  }

  /** A view call (eth_call) on the token; transferWithAuthorization here is the scheme's simulation. */
  async function callToken(functionName, args) {
    switch (functionName) {
      case "balanceOf": return balanceOf(args[0]);
      case "name": return token.name;
      case "version": return token.version;
      case "authorizationState": return usedNonces.has(nonceKey(args[0], args[1]));
      case "transferWithAuthorization": await checkTransfer(args); return undefined;
      default: throw revert(`fake token has no ${functionName}`);
    }
  }

  /** Multicall3.tryAggregate over raw calldata, each call's failure kept as success:false. */
  async function tryAggregate(calls) {
    const results = [];
    for (const { target, callData } of calls) {
      try {
        if (!isAddressEqual(target, token.address)) throw revert("no contract at target");
        const { functionName, args = [] } = decodeFunctionData({ abi: TOKEN_ABI, data: callData });
        const result = await callToken(functionName, args);
        const returnData = result === undefined ? "0x" : encodeFunctionResult({ abi: TOKEN_ABI, functionName, result });
        results.push({ success: true, returnData });
      } catch {
        results.push({ success: false, returnData: "0x" });
      }
    }
    return results;
  }

  function transferLog(transfer, hash) {
    const topics = encodeEventTopics({
      abi: TOKEN_ABI, eventName: "Transfer", args: { from: transfer.from, to: transfer.to },
    });
    const data = encodeAbiParameters([{ type: "uint256" }], [transfer.value]);
    return {
      address: token.address, topics, data, blockHash: hex32(), blockNumber: 1n, logIndex: 0,
      transactionHash: hash, transactionIndex: 0, removed: false,
    };
  }

  /** A state-changing call: only the token's transferWithAuthorization exists on this chain. */
  async function send(address, functionName, args) {
    if (!isAddressEqual(address, token.address) || functionName !== "transferWithAuthorization") {
      throw revert(`fake chain cannot send ${functionName} to ${address}`);
    }
    const transfer = await checkTransfer(args);
    held.set(key(transfer.from), balanceOf(transfer.from) - transfer.value);
    held.set(key(transfer.to), balanceOf(transfer.to) + transfer.value);
    usedNonces.add(nonceKey(transfer.from, transfer.nonce));
    const hash = hex32();
    txs.set(hash, { transfer, receipt: { status: "success", logs: [transferLog(transfer, hash)] } });
    return hash;
  }

  /** The `FacilitatorEvmSigner` (@x402/evm) the official scheme drives. */
  const signer = {
    getAddresses: () => [facilitatorAddress],
    getCode: async ({ address }) => (isAddressEqual(address, token.address) ? TOKEN_CODE : "0x"),
    // Part of the signer type; exact/EIP-3009 in 2.27.0 recovers the signer itself instead, since
    // getCode says every payer is an EOA (no ERC-1271 / ERC-6492 wallets on this chain).
    verifyTypedData: async (args) => {
      try {
        return await verifyTypedData(args);
      } catch {
        return false;
      }
    },
    readContract: async ({ address, functionName, args = [] }) => {
      if (isAddressEqual(address, MULTICALL3) && functionName === "tryAggregate") return tryAggregate(args[1]);
      if (!isAddressEqual(address, token.address)) throw revert(`no contract at ${address}`);
      return callToken(functionName, args);
    },
    writeContract: async ({ address, functionName, args }) => send(address, functionName, args),
    sendTransaction: async ({ to, data }) => {
      const { functionName, args } = decodeFunctionData({ abi: TOKEN_ABI, data });
      return send(to, functionName, args);
    },
    waitForTransactionReceipt: async ({ hash }) => {
      const tx = txs.get(hash);
      if (!tx) throw new Error(`fake chain: no transaction ${hash}`);
      return tx.receipt;
    },
  };
  return { signer, fund, balanceOf, transferOf: (hash) => txs.get(hash)?.transfer };
}

// ---- HTTP ---------------------------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk); // past the cap the rest is read and dropped
    });
    req.on("end", () => resolve(size > MAX_BODY ? { tooLarge: true } : { text: Buffer.concat(chunks).toString() }));
    req.on("error", reject);
  });
}

function parseJson(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function send(res, status, body) {
  const text = JSON.stringify(body, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

/** The three fields every /verify and /settle body carries (spec §7.1, §7.2). */
function missingField(body) {
  if (!isObject(body)) return "a JSON object body";
  return ["x402Version", "paymentPayload", "paymentRequirements"].find((k) => body[k] == null);
}

function failedSettlement(body) {
  const from = body.paymentPayload.payload?.authorization?.from;
  return {
    success: false, errorReason: FAIL_SETTLE_REASON, errorMessage: "fake facilitator: failSettle(true)",
    transaction: "", network: body.paymentRequirements.network, ...(typeof from === "string" && { payer: from }),
  };
}

/**
 * A CDP API key as the CDP portal gives its secret, made here: ECDSA as a PKCS#8 PEM, Ed25519 as
 * base64 of the seed then the public key (the two forms `generateJwt` reads).
 */
export function cdpKey(kind) {
  if (kind === "ES256") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    return { secret: privateKey.export({ type: "pkcs8", format: "pem" }), publicKey };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const { d, x } = privateKey.export({ format: "jwk" });
  return { secret: Buffer.concat([Buffer.from(d, "base64url"), Buffer.from(x, "base64url")]).toString("base64"), publicKey };
}

/**
 * Why a CDP facilitator would refuse this request's `Authorization`, or null when it is a JWT
 * `generateJwt` would make for `POST host + path`, signed by the key (see the header comment).
 */
export async function cdpRefusal(authorization, { keyId, publicKey }, host, path) {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (!token) return "no Bearer token";
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return "not a JWT";
  }
  const keys = Object.keys(header).sort().join(",");
  if (keys !== "alg,kid,nonce,typ") return `header members ${keys}`;
  if (!["ES256", "EdDSA"].includes(header.alg) || header.typ !== "JWT") return `alg ${header.alg}, typ ${header.typ}`;
  if (header.kid !== keyId) return "kid is not the key id";
  if (!/^[0-9a-f]{32}$/.test(header.nonce)) return "nonce is not 16 bytes of hex";
  let payload;
  try {
    ({ payload } = await jwtVerify(token, publicKey, { issuer: "cdp", subject: keyId, algorithms: [header.alg] }));
  } catch (e) {
    return `signature or claims: ${e.code ?? e.message}`;
  }
  const claims = Object.keys(payload).sort().join(",");
  if (claims !== "exp,iat,iss,nbf,sub,uris") return `claims ${claims}`;
  if (payload.iat !== payload.nbf || payload.exp - payload.nbf !== 120) return "not a 120-second token";
  const uri = `POST ${host}${path}`;
  if (JSON.stringify(payload.uris) !== JSON.stringify([uri])) return `uris ${JSON.stringify(payload.uris)}, not [${uri}]`;
  return null;
}

/**
 * Starts the facilitator on 127.0.0.1 (random port). `balances` maps addresses to atomic USDC
 * amounts (bigint or decimal string). `verifyCount`/`settleCount` count every POST to the path.
 */
export async function startFakeFacilitator({ network = "eip155:84532", balances = {}, cdp, basePath = "" } = {}) {
  const chain = createChain({ network, balances });
  const facilitator = new x402Facilitator().register(network, new ExactEvmScheme(chain.signer));
  const requests = [];
  const settlements = [];
  const counts = { verify: 0, settle: 0 };
  /** The Authorization header of each POST, and why CDP would refuse it (null: accepted). */
  const authorizations = [];
  let failingSettle = false;

  async function settle(body) {
    if (failingSettle) return failedSettlement(body);
    const result = await facilitator.settle(body.paymentPayload, body.paymentRequirements);
    if (result.success) {
      const { nonce, from, to, value } = chain.transferOf(result.transaction);
      settlements.push({ nonce, from, to, value: value.toString(), transaction: result.transaction });
    }
    return result;
  }

  const operations = {
    "/verify": (body) => facilitator.verify(body.paymentPayload, body.paymentRequirements),
    "/settle": settle,
  };

  async function handle(req, res) {
    const fullPath = new URL(req.url, "http://fake").pathname;
    if (!fullPath.startsWith(basePath)) return send(res, 404, { error: `no ${req.method} ${fullPath}` });
    const path = fullPath.slice(basePath.length);
    const { text, tooLarge } = await readBody(req);
    const body = parseJson(text);
    requests.push({ path, body });
    if (tooLarge) return send(res, 413, { error: `body over ${MAX_BODY} bytes` });
    if (cdp && req.method === "POST") {
      const refusal = await cdpRefusal(req.headers.authorization, cdp, req.headers.host, fullPath);
      authorizations.push({ path, authorization: req.headers.authorization, refusal });
      if (refusal) return send(res, 401, { errorType: "unauthorized", errorMessage: `fake CDP: ${refusal}` });
    }
    if (req.method === "GET" && path === "/supported") return send(res, 200, facilitator.getSupported());
    const operation = req.method === "POST" && operations[path];
    if (!operation) return send(res, 404, { error: `no ${req.method} ${path}` });
    counts[path.slice(1)] += 1;
    const missing = missingField(body);
    if (missing) return send(res, 400, { error: `missing ${missing}` });
    try {
      return send(res, 200, await operation(body));
    } catch (error) {
      return send(res, 500, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) send(res, 500, { error: String(error) });
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}${basePath}`;

  /** Stops listening and drops kept-alive sockets, so the next connection is refused. */
  async function close() {
    if (!server.listening) return;
    const closed = new Promise((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  return {
    url,
    requests,
    settlements,
    authorizations,
    get verifyCount() {
      return counts.verify;
    },
    get settleCount() {
      return counts.settle;
    },
    fund: (address, amount) => void chain.fund(address, amount),
    balanceOf: (address) => chain.balanceOf(address),
    failSettle(on = true) {
      failingSettle = Boolean(on);
    },
    down: close,
    stop: close,
  };
}
