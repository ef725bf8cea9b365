// Round trips per request (issue #30 part 1): the fixtures build runs under tests/e2e/io-entry.mjs,
// which counts every D1 query or batch, Durable Object request, outbound fetch, Rate Limiting call
// and Cache API call each request makes, and this file holds docs/architecture.md's table ("Round
// trips per request") to those counts exactly: a count that grows fails here, and one that shrinks
// fails until the table says so. Each kind of request is sent once to warm the isolate's caches (the
// issuer's keys, verified tokens, the configuration, rendered lists), then once more to be
// measured, one request at a time. Two workers: a resource server (tokens from the test issuer) and
// mKit as the authorization server (MKIT_AUTH_SERVER=on) for the OAuth endpoints; both bind the
// three Rate Limiting bindings as staging and production do.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, TEST_WEBHOOK_SECRET, configCopy, countersConfig, d1 } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { CLIENT_ID, CLIENT_SECRET } from "./issuer.mjs";
import { startFakeFacilitator } from "./fake-facilitator.mjs";
import { payer } from "./x402-payer.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";

const run = promisify(execFile);
const ENTRY = "tests/e2e/io-entry.mjs";
const DOC = join(ROOT, "docs/architecture.md");
const BEGIN = "<!-- round-trips:begin -->";
const END = "<!-- round-trips:end -->";
const COLUMNS = ["request", "D1 primary", "D1 replica", "Durable Object", "outbound fetch", "rate limiter", "cache",
  "D1 after the response", "Durable Object after the response", "D1 rows written"];
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/**
 * wrangler.jsonc binds the Rate Limiting bindings in staging and production only: this copy binds
 * them at the top level with production's limits, so their calls are counted as deployed (and
 * drops the build step: the bundles are built already).
 */
function limitedConfig(label, base = configCopy) {
  const path = base(label);
  const text = readFileSync(path, "utf8").replace(/"build": \{[^}]*\},/, "").replace('"vars": {},', `"vars": {}, "ratelimits": [
    { "name": "MKIT_RATE_LIMIT", "namespace_id": "1001", "simple": { "limit": 600, "period": 60 } },
    { "name": "MKIT_TOOL_RATE_LIMIT", "namespace_id": "1003", "simple": { "limit": 300, "period": 60 } },
    { "name": "MKIT_REGISTRATION_RATE_LIMIT", "namespace_id": "1005", "simple": { "limit": 10, "period": 60 } }],`);
  assert.match(text, /"ratelimits"/);
  writeFileSync(path, text);
  return path;
}

let rs; // mKit as a resource server
let as; // mKit as the authorization server
let rc; // a resource server with each caller's counters in their own object (MKIT_COUNTERS)
let jwksServer;
let facilitator; // x402 machine payments, on the resource server
/** The JWK Set the loopback JWKS server publishes, and how often it was fetched. */
const published = { keys: [] };
let jwksFetches = 0;

before(async () => {
  jwksServer = createServer((req, res) => {
    jwksFetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(published));
  });
  await new Promise((ok) => jwksServer.listen(0, "127.0.0.1", ok));
  facilitator = await startFakeFacilitator({ network: "eip155:84532" });
  const x402 = { MKIT_X402_PAY_TO: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", MKIT_X402_NETWORK: "eip155:84532",
    MKIT_X402_FACILITATOR_URL: facilitator.url };
  [rs, as, rc] = await Promise.all([
    startStack({ name: "round-trips", script: ENTRY, config: limitedConfig("round-trips"), vars: x402 }),
    startStack({ name: "round-trips-as", script: ENTRY, config: limitedConfig("round-trips-as"),
      vars: { MKIT_AUTH_SERVER: "on", MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET } }),
    startStack({ name: "round-trips-counters", script: ENTRY, config: limitedConfig("round-trips-counters", countersConfig),
      vars: x402 }),
  ]);
});
after(async () => {
  await Promise.all([rs?.stop(), as?.stop(), rc?.stop(), facilitator?.stop(), jwksServer && new Promise((ok) => jwksServer.close(ok))]);
});

/** Each row measured: its name (the table's first column) → `{ path, total, overlapped }`. */
const measured = new Map();

/** A request's counts, once its body is read: `{ path, total, overlapped }` from GET /__io. */
async function countsOf(stack, res) {
  const id = res.headers.get("x-mkit-io-id");
  await res.arrayBuffer();
  assert.match(id ?? "", /^\d+$/, "every answer names its count");
  const io = await fetch(`${stack.worker.url}/__io?id=${id}`);
  assert.equal(io.status, 200);
  return io.json();
}

/**
 * Sends `doRequest(0)` to warm the isolate's caches, then `doRequest(1)`, whose counts are the
 * row `name`. `check(status, body)` must hold for both answers (the same kind of request twice).
 */
async function measure(stack, name, doRequest, check, { quiet = 0 } = {}) {
  assert.ok(!measured.has(name), `measured twice: ${name}`);
  let io;
  for (const i of [0, 1]) {
    const res = await doRequest(i);
    const body = await res.clone().text();
    check?.(res.status, body);
    io = await countsOf(stack, res);
    await sleep(quiet);
    assert.equal(io.overlapped, false, `${name}: another request overlapped this one`);
  }
  measured.set(name, io);
  return io;
}

const status = (want) => (got, body) => assert.equal(got, want, body);
/** A JSON-RPC answer with HTTP 200 whose `result` passes `check`. */
const rpcResult = (check) => (got, body) => {
  assert.equal(got, 200, body);
  const json = JSON.parse(body);
  assert.ok(json.result, body);
  check(json.result, body);
};
const ran = rpcResult((r, body) => assert.notEqual(r.isError, true, body));

/** POST /mcp, 2025-11-25 without a session (the stateless path), as `token`'s caller. */
const mcp = (stack, token, method, params) => fetch(`${stack.worker.url}/mcp`, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-11-25",
    authorization: `Bearer ${token}` },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, ...(params ? { params } : {}) }),
});
const call = (stack, token, name, args = {}) => mcp(stack, token, "tools/call", { name, arguments: args });
const sendEvent = (stack, ev) => deliver(stack.worker.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET);

test("the counters see every kind of call: the first /healthz's cold fetch of the issuer's keys", async (t) => {
  // The harness's readiness probe (/healthz) was the worker's first request: nothing was cached yet.
  const first = await (await fetch(`${rs.worker.url}/__io?id=1`)).json();
  t.diagnostic(`the first /healthz: ${JSON.stringify(first)}`);
  assert.ok(first.path.fetch >= 1, `the issuer's keys were fetched: ${JSON.stringify(first)}`);
  assert.ok(first.path.cache >= 1, `and looked up in the Cache API first: ${JSON.stringify(first)}`);
});

/** `stack`'s caller with `token`: their `whoami`, and `sub` given pro and ten credits (a pack paid as `session`). */
const whoamiOf = (stack) => async (t) => JSON.parse(await (await call(stack, t, "whoami")).text()).result.structuredContent;
async function proWithTenCredits(stack, token, session) {
  const { sub } = await whoamiOf(stack)(token);
  const setUp = async (ev) => assert.equal((await sendEvent(stack, ev)).status, 200);
  await setUp(envelope("customer.subscription.created", objectFor("customer.subscription.created", { user: sub })));
  const pack = objectFor("checkout.session.completed", { user: sub });
  await setUp(envelope("checkout.session.completed", { ...pack, id: session, mode: "payment", subscription: null,
    metadata: { mkit_user: sub, mkit_credits: "10" } }));
  return sub;
}

test("mKit as a resource server: each kind of request, warm", async () => {
  const url = rs.worker.url;
  const token = await rs.token();
  const whoami = whoamiOf(rs);
  // The caller has the pro entitlement and ten credits; another caller has neither.
  const sub = await proWithTenCredits(rs, token, "cs_test_round_trips");
  const setUp = async (ev) => assert.equal((await sendEvent(rs, ev)).status, 200);
  const pack = objectFor("checkout.session.completed", { user: sub });
  assert.deepEqual([(await whoami(token)).entitlements, (await whoami(token)).credits], [["pro"], 10]);
  const { access_token: stranger } = await rs.issuer.userTokens({ user: "rory" });

  await measure(rs, "404 (`GET /nope`)", () => fetch(`${url}/nope`), status(404));
  await measure(rs, "`tools/list`", () => mcp(rs, token, "tools/list"),
    rpcResult((r) => assert.ok(r.tools.some((t) => t.name === "text_stats"))));
  await measure(rs, "free `tools/call` (`test_simple_text`)", () => call(rs, token, "test_simple_text"), ran);
  await measure(rs, "free `tools/call` (`whoami`: entitlements, quotas, credits, machine payments)", () => call(rs, token, "whoami"), ran);
  await measure(rs, "paid `tools/call`, entitled (`text_stats`)", () => call(rs, token, "text_stats", { text: "One two." }), ran);
  await measure(rs, "paid `tools/call`, not entitled (`text_stats`, refused)",
    () => call(rs, stranger, "text_stats", { text: "One two." }),
    rpcResult((r, body) => assert.equal(r.structuredContent?.error, "payment_required", body)));
  await measure(rs, "`tools/call` in a free quota (`test_free_quota`)", () => call(rs, token, "test_free_quota"), ran);
  await measure(rs, "`tools/call` paid in credits (`test_credits`)", () => call(rs, token, "test_credits"), ran);
  await measure(rs, "metered `tools/call` (`test_metered`)", () => call(rs, token, "test_metered", { units: 2 }), ran);
  assert.equal((await whoami(token)).credits, 8, "the warm-up and the measured call each spent a credit");

  await measureMachinePayment(rs, token, "`tools/call` paid per call in x402 (`test_credits`, a machine payment)");
  assert.equal((await whoami(token)).credits, 8, "a machine payment spends no credits");

  // A 2025 client that can be asked (elicitation) on a deployment with asking tools holds a session.
  const initialize = () => fetch(`${url}/mcp`, { method: "POST", headers: { "content-type": "application/json",
    accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", authorization: `Bearer ${token}` },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25",
    capabilities: { elicitation: {} }, clientInfo: { name: "round-trips", version: "1.0.0" } } }) });
  const held = (got, body) => assert.equal(got, 200, body);
  let session;
  await measure(rs, "`initialize` of a held session (2025-11-25, the client can be asked)", async () => {
    const res = await initialize();
    session = res.headers.get("mcp-session-id");
    assert.ok(session, "a held session id");
    return res;
  }, held);
  await measure(rs, "`tools/list` on a held session", () => fetch(`${url}/mcp`, { method: "POST", headers: {
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25",
    "mcp-session-id": session, authorization: `Bearer ${token}` },
  body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) }), held);

  const webhook = (check) => (got, body) => { assert.equal(got, 200, body); check(JSON.parse(body)); };
  await measure(rs, "Stripe webhook: a new subscription",
    (i) => sendEvent(rs, envelope("customer.subscription.created", objectFor("customer.subscription.created",
      { user: `hook-${randomUUID()}-${i}` }))),
    webhook((b) => assert.deepEqual([b.duplicate, b.changes > 0], [false, true], JSON.stringify(b))));
  const packFor = (i) => envelope("checkout.session.completed", { ...pack, id: `cs_test_round_trips_${randomUUID()}_${i}`,
    mode: "payment", subscription: null, metadata: { mkit_user: sub, mkit_credits: "5" } });
  await measure(rs, "Stripe webhook: a credit pack paid", (i) => sendEvent(rs, packFor(i)),
    webhook((b) => assert.deepEqual([b.duplicate, b.changes > 0], [false, true], JSON.stringify(b))));
  const again = packFor(2);
  await setUp(again);
  await measure(rs, "Stripe webhook: a redelivery", () => sendEvent(rs, again),
    webhook((b) => assert.equal(b.duplicate, true, JSON.stringify(b))));
});

test("mKit as the authorization server: its endpoints, warm", async () => {
  const url = as.worker.url;
  /** `make client-create` against this worker's local D1 (scripts/clients.mjs, as machine-clients.test.mjs runs it). */
  const createClient = async (...args) => JSON.parse((await run(process.execPath,
    [join(ROOT, "scripts/clients.mjs"), "create", ...args, "--json"],
    { cwd: ROOT, env: { ...process.env, MKIT_CLIENTS_D1_PERSIST: as.worker.persist } })).stdout);
  const tokenRequest = (params, headers = {}) => fetch(`${url}/oauth/token`, { method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(params) });
  const issued = (got, body) => { assert.equal(got, 200, body); assert.ok(JSON.parse(body).access_token, body); };

  await measure(as, "`GET /.well-known/oauth-authorization-server`",
    () => fetch(`${url}/.well-known/oauth-authorization-server`), status(200));
  await measure(as, "`GET /.well-known/oauth-protected-resource`",
    () => fetch(`${url}/.well-known/oauth-protected-resource`), status(200));
  await measure(as, "`GET /oauth/jwks.json`", () => fetch(`${url}/oauth/jwks.json`), status(200));
  await measure(as, "`POST /oauth/register` (Dynamic Client Registration)", () => fetch(`${url}/oauth/register`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], client_name: "round trips",
      grant_types: ["authorization_code", "refresh_token"], application_type: "native" }) }), status(201));

  const withSecret = await createClient("--name", "round trips", "--scopes", "mcp");
  const basic = { authorization: `Basic ${Buffer.from(`${withSecret.client_id}:${withSecret.client_secret}`).toString("base64")}` };
  await measure(as, "`POST /oauth/token`: `client_credentials`, a client secret",
    () => tokenRequest({ grant_type: "client_credentials" }, basic), issued);

  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  published.keys = [{ ...publicKey.export({ format: "jwk" }), kid: "round-trips-1", alg: "ES256", use: "sig" }];
  const jwksUri = `http://127.0.0.1:${jwksServer.address().port}/jwks.json`;
  const withKeys = await createClient("--name", "round trips keys", "--scopes", "mcp", "--jwks-uri", jwksUri);
  const assertion = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: withKeys.client_id, sub: withKeys.client_id, aud: url, iat: now, exp: now + 60, jti: randomUUID() })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: "round-trips-1" }).sign(privateKey);
  };
  let fetchesBefore;
  const io = await measure(as, "`POST /oauth/token`: `client_credentials`, `private_key_jwt` (keys at a `jwks_uri`)",
    async () => {
      const jwt = await assertion();
      fetchesBefore = jwksFetches;
      return tokenRequest({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: jwt });
    }, issued);
  // The outbound fetch counter against the server's own tally for the measured request.
  assert.equal(io.path.fetch, jwksFetches - fetchesBefore, "each fetch of the client's keys is counted");

  const own = JSON.parse(await (await tokenRequest({ grant_type: "client_credentials" }, basic)).text()).access_token;
  await measure(as, "free `tools/call` (`whoami`) with a machine client's token (mKit's own, its revocation read)",
    () => call(as, own, "whoami"), ran);
});

/** docs/architecture.md's round-trip table: row name → its counts, in COLUMNS' order. */
function documentedTable() {
  const text = readFileSync(DOC, "utf8");
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  assert.ok(start >= 0 && end > start, `docs/architecture.md holds ${BEGIN} … ${END}`);
  const lines = text.slice(start + BEGIN.length, end).split("\n").map((l) => l.trim()).filter((l) => l.startsWith("|"));
  const cells = (line) => line.replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
  assert.deepEqual(cells(lines[0]), COLUMNS, "the table's columns");
  assert.ok(cells(lines[1]).every((c) => /^:?-{3,}:?$/.test(c)), "the header's separator row");
  const rows = new Map();
  for (const line of lines.slice(2)) {
    const [name, ...counts] = cells(line);
    assert.equal(counts.length, COLUMNS.length - 1, `row "${name}": ${COLUMNS.length} cells`);
    assert.ok(!rows.has(name), `row "${name}" documented twice`);
    rows.set(name, counts.map((c) => {
      assert.match(c, /^\d+$/, `row "${name}": a count, not "${c}"`);
      return Number(c);
    }));
  }
  return rows;
}

test("each caller's counters in their own object (MKIT_COUNTERS): no D1 write on a paid call's path", async () => {
  const token = await rc.token();
  const whoami = whoamiOf(rc);
  const sub = await proWithTenCredits(rc, token, "cs_test_round_trips_counters");
  assert.equal((await whoami(token)).credits, 10, "the object read the balance from D1 when it first served the caller");
  // The object writes its counts to D1 a second after a call: the quiet time keeps that write out
  // of the next request's counts (it is counted in the text, per flush, not per call).
  const quiet = { quiet: 1500 };
  const tag = "counters in the caller's object (`MKIT_COUNTERS`)";
  await measure(rc, `free \`tools/call\` (\`whoami\`), ${tag}`, () => call(rc, token, "whoami"), ran, quiet);
  await measure(rc, `\`tools/call\` in a free quota (\`test_free_quota\`), ${tag}`, () => call(rc, token, "test_free_quota"), ran, quiet);
  await measure(rc, `\`tools/call\` paid in credits (\`test_credits\`), ${tag}`, () => call(rc, token, "test_credits"), ran, quiet);
  await measure(rc, `metered \`tools/call\` (\`test_metered\`), ${tag}`, () => call(rc, token, "test_metered", { units: 2 }), ran, quiet);
  const wallet = await measureMachinePayment(rc, token,
    `\`tools/call\` paid per call in x402 (\`test_credits\`, a machine payment), the payer's claims in their object (\`MKIT_COUNTERS\`)`,
    quiet);
  assert.equal((await whoami(token)).credits, 8, "the warm-up and the measured call each spent a credit");
  const rows = await d1(rc.worker, `SELECT (SELECT balance FROM credit_balances WHERE user_sub = '${sub}') AS balance,
    (SELECT COUNT(*) FROM meter_outbox WHERE user_sub = '${sub}') AS usage,
    (SELECT COUNT(*) FROM machine_payments WHERE payer = '${wallet.address}' AND state = 'settled') AS paid`);
  assert.deepEqual(rows, [{ balance: 8, usage: 2, paid: 2 }], "and D1 took them all, after the responses");
});

/**
 * An agent's machine payment (x402) as row `name`: the offer, then a paid call with a fresh
 * payment each time (`quiet`: as `measure`); the wallet that paid.
 */
async function measureMachinePayment(stack, token, name, quiet) {
  const wallet = payer();
  facilitator.fund(wallet.address, 1_000_000n);
  const offered = await (await mcp(stack, token, "tools/call", { name: "test_credits", arguments: {},
    _meta: { "x402/payment": { x402Version: 2 } } })).json();
  const offer = offered.result.structuredContent;
  assert.equal(offer.x402Version, 2, JSON.stringify(offered));
  await measure(stack, name, async () => mcp(stack, token, "tools/call", { name: "test_credits", arguments: {},
    _meta: { "x402/payment": await wallet.pay(offer) } }),
  rpcResult((r, body) => assert.equal(r._meta?.["x402/payment-response"]?.success, true, body)), quiet);
  return wallet;
}

/** A measurement as a table row's counts (D1 replica: queries in a session a replica may answer). */
function rowOf({ path, total }) {
  return [path.d1, path.d1_replica, path.do, path.fetch, path.limit, path.cache,
    total.d1 + total.d1_replica - path.d1 - path.d1_replica, total.do - path.do, total.d1_rows_written];
}

test("docs/architecture.md's round-trip table is what was measured, row by row", (t) => {
  assert.ok(measured.size > 0, "the measurements ran");
  const table = ["| " + COLUMNS.join(" | ") + " |", "| --- |" + " ---: |".repeat(COLUMNS.length - 1)];
  for (const [name, io] of measured) {
    // Only D1 and Durable Objects have a column for what runs after the response: nothing else may.
    for (const kind of ["fetch", "limit", "cache"]) {
      assert.equal(io.total[kind], io.path[kind], `${name}: ${kind} after the response (${JSON.stringify(io)})`);
    }
    table.push(`| ${name} | ${rowOf(io).join(" | ")} |`);
  }
  t.diagnostic(`measured:\n${table.join("\n")}`);
  // `make bench` prints what was measured (scripts/bench.sh), whether or not the docs agree.
  if (process.env.MKIT_ROUND_TRIPS_OUT) writeFileSync(process.env.MKIT_ROUND_TRIPS_OUT, table.join("\n") + "\n");
  const documented = documentedTable();
  const problems = [];
  for (const [name, io] of measured) {
    if (!documented.has(name)) problems.push(`measured, not documented: ${name}`);
    else if (JSON.stringify(documented.get(name)) !== JSON.stringify(rowOf(io))) {
      problems.push(`${name}: documented ${documented.get(name).join(" ")}, measured ${rowOf(io).join(" ")}`);
    }
  }
  for (const name of documented.keys()) if (!measured.has(name)) problems.push(`documented, not measured: ${name}`);
  assert.deepEqual(problems, [], `docs/architecture.md's table differs from the measurements:\n${problems.join("\n")}` +
    `\nmeasured:\n${table.join("\n")}`);
});
