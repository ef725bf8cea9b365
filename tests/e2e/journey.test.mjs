// The paying user's journey end to end (issue #12): an MCP client is refused a paid tool and
// handed a pay link; a real browser opens it, signs in at the real issuer, and lands on (fake)
// Stripe Checkout; Stripe's webhooks grant the entitlement; the client's retry runs the tool and
// the manage link opens the billing portal. Then what must not happen: a link opened by someone
// else (phishing), Stripe failing, expired and garbage links; and how each protocol era is
// asked to pay.
//
// Peers: the fixtures build of the worker (its MKIT_TEST_STRIPE_API points Stripe calls at the
// fake), oidc-provider (issuer.mjs), chromium (browser.mjs), the fake Stripe (fake-stripe.mjs),
// whose recorded calls are compared with stripe-node's own requests for the same calls.
//
// Who is who. A pay link is bound to the `sub` of the MCP caller's access token, and opens only
// for a browser signed in with that same `sub`. issuer.mjs's client_credentials tokens have
// `sub` = the client id (`mkit-test`): a machine, not a person who could sign in. oidc-provider's
// devInteractions give an account the `sub` of its login name. So the MCP callers here get their
// tokens the way a real MCP client does, with the authorization code flow (PKCE, resource
// indicator) for a named user, and the browser signs in as that same user name: the subs match
// because they are the same person at the same issuer, not because a test aligned two ids.
// (`userToken` drives that flow with fetch; the code is redirected to a loopback URI that is
// never contacted, as a native MCP client's would be.)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startWorker, defaultVars, freePort, TEST_WEBHOOK_SECRET, TEST_DEPLOYMENT_SECRET } from "./harness.mjs";
import { startIssuer, peek, CLIENT_ID, CLIENT_SECRET } from "./issuer.mjs";
import { withBrowser, signInAtDevIssuer } from "./browser.mjs";
import { startFakeStripe, assertSameAsStripeNode, STRIPE_API_VERSION } from "./fake-stripe.mjs";
import { envelope, deliver } from "../../scripts/stripe-event.mjs";

const STRIPE_KEY = "sk_test_mkit_journey";
/** The native MCP client's redirect URI: registered, never listened on (the flow stops at the redirect). */
const MCP_CLIENT_REDIRECT = "http://127.0.0.1:9/mcp-client/callback";

let fake;
let issuer;
let worker;
let origin;
let resource;
let price;
let pack;

before(async () => {
  fake = await startFakeStripe();
  price = fake.addPrice("pro", { unit_amount: 900 });
  pack = fake.addPrice("credits_10", { unit_amount: 500, type: "one_time", recurring: null, metadata: { mkit_credits: "10" } });
  // The worker's port first: the issuer must know the pay pages' redirect URI before it starts.
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  resource = `${origin}/mcp`;
  issuer = await startIssuer({ resource, redirectUris: [`${origin}/billing/callback`, MCP_CLIENT_REDIRECT] });
  try {
    worker = await startWorker({
      name: "journey",
      script: "build-fixtures/index.js",
      port,
      vars: { ...defaultVars(), OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource, STRIPE_SECRET_KEY: STRIPE_KEY,
        MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET, MKIT_TEST_STRIPE_API: fake.url,
        MKIT_CREDIT_PACK: "credits_10" },
    });
  } catch (e) {
    await Promise.all([issuer.stop(), fake.stop()]);
    throw e;
  }
});
after(async () => {
  await worker?.stop();
  await issuer?.stop();
  await fake?.stop();
});

// ---- helpers --------------------------------------------------------------------------------

const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hmac = (key, data) => createHmac("sha256", key).update(data).digest();
/** mac::derive_key. */
const deriveKey = (purpose) => hmac(TEST_DEPLOYMENT_SECRET, `mkit/v1/${purpose}`);
const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

/** An access token for `user` from the authorization code flow, as an MCP client gets one. */
async function userToken(user) {
  const { access_token: token } = await issuer.userTokens({ user, scope: "openid mcp tools:read notes", forResource: resource,
    redirect: MCP_CLIENT_REDIRECT });
  assert.equal(peek(token).payload.sub, user);
  assert.equal(peek(token).payload.aud, resource);
  return token;
}

/** An official MCP SDK client (2025-11-25, declares no elicitation) acting for `token`. */
async function sdkClient(token) {
  const client = new Client({ name: "mkit-e2e-journey", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(resource), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  }));
  return client;
}

/** A raw POST /mcp. */
const mcp = (token, body, headers = {}) => fetch(resource, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
    authorization: `Bearer ${token}`, ...headers },
  body: JSON.stringify(body),
});

const TEXT = "Paid words. Counted here.";
const STATS = { characters: 25, words: 4, sentences: 2, unique_words: 4, reading_seconds: 2 };
const textStats = (client) => client.callTool({ name: "text_stats", arguments: { text: TEXT } });

/** The pay link a caller without `pro` is given (the handshake era's payment_required result). */
async function checkoutLinkFor(token) {
  const res = await mcp(token, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "text_stats",
    arguments: { text: TEXT } } }, { "mcp-protocol-version": "2025-11-25" });
  const { result } = await res.json();
  assert.equal(result.structuredContent.error, "payment_required");
  return result.structuredContent.checkout_url;
}

/** What a pay link carries: its version, expiry and payload are readable, only the MAC is secret. */
function linkContents(url) {
  const t = new URL(url).searchParams.get("t");
  const body = Buffer.from(t.split(".")[0], "base64url");
  return { version: body[0], exp: Number(body.readBigUInt64BE(1)), payload: JSON.parse(body.subarray(9).toString()) };
}

/** crate::seal: base64url(1 ‖ exp ‖ json) "." base64url(HMAC(key, body ‖ each binding part length-prefixed)). */
function seal(purpose, binding, payload, exp) {
  const body = Buffer.concat([Buffer.from([1]), u64(exp), Buffer.from(JSON.stringify(payload))]);
  const parts = Buffer.concat(binding.flatMap((p) => [u64(Buffer.byteLength(p)), Buffer.from(p)]));
  return `${body.toString("base64url")}.${hmac(deriveKey(purpose), Buffer.concat([body, parts])).toString("base64url")}`;
}

/** A pay link sealed as the worker seals them (paylink::mint), for tests of expiry. */
function sealLink(sub, { kind = "c", entitlement = "pro", nonce = "00".repeat(12), exp }) {
  const t = seal("pay-link", ["pay-link", issuer.url, sub], { e: entitlement, k: kind, n: nonce }, exp);
  return `${origin}/billing/${kind === "c" ? "checkout" : "portal"}?t=${t}`;
}

/** billing::reference::client_reference. */
function clientReference(sub) {
  const tag = hmac(deriveKey("client-reference"), Buffer.concat([Buffer.from("client-reference\0"), Buffer.from(sub)]));
  return `mkit1_${Buffer.from(sub).toString("base64url")}_${tag.subarray(0, 16).toString("base64url")}`;
}

/**
 * The Checkout Idempotency-Key the worker derives from a link's nonce and the customer it reuses
 * (edge::billing::idempotency_key): the parameters behind one key never change.
 */
const idempotencyKeyFor = (url, customer = "") =>
  hmac(deriveKey("stripe-idempotency"), `${linkContents(url).payload.n}\n${customer}`).subarray(0, 16).toString("hex");

/**
 * Opens a pay link in `page`, signing in at the issuer as `user` if it asks. Returns every
 * main-frame navigation response on the way, redirects included (`hops`: [{ status, url }], the
 * last one `final`), the sign-in steps done and the final page's text.
 */
async function openPayLink(page, url, user) {
  const hops = [];
  const record = (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) hops.push({ status: r.status(), url: r.url() });
  };
  page.on("response", record);
  try {
    await page.goto(url);
    let steps = [];
    if (page.url().startsWith(issuer.url)) ({ steps } = await signInAtDevIssuer(page, user));
    await page.waitForLoadState("domcontentloaded");
    return { hops, steps, final: hops.at(-1), text: await page.locator("body").innerText() };
  } finally {
    page.off("response", record);
  }
}

const stripeCalls = (from = 0) => fake.requests.slice(from).filter((r) => r.path.startsWith("/v1/"));
/** The latest request-log line of `route` with `status` (the log reaches the file shortly after the answer). */
async function logLine(route, status) {
  for (let i = 0; i < 50; i++) {
    const line = worker.requestLogs().filter((l) => l.route === route && l.status === status).at(-1);
    if (line) return line;
    await sleep(100);
  }
  return undefined;
}

// ---- 1. the journey -------------------------------------------------------------------------

test("the journey: payment_required → sign-in → Checkout → webhooks → the tool runs → the portal", async (t) => {
  const user = "alice";
  const token = await userToken(user);
  const client = await sdkClient(token);
  try {
    await client.listTools(); // the SDK then validates structuredContent against outputSchema
    // a. Refused, with alice's own checkout link.
    const refused = await textStats(client);
    assert.equal(refused.isError, true);
    const checkoutUrl = refused.structuredContent.checkout_url;
    assert.deepEqual(refused.structuredContent,
      { error: "payment_required", entitlement: "pro", upgrade_url: null, checkout_url: checkoutUrl });
    assert.match(checkoutUrl, new RegExp(`^${origin}/billing/checkout\\?t=[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    assert.ok(refused.content[0].text.includes(checkoutUrl), "the text names the link for the model");
    assert.ok(!checkoutUrl.includes(user), "no personal data in the link");
    const link = linkContents(checkoutUrl);
    assert.equal(link.payload.k, "c");
    assert.equal(link.payload.e, "pro");
    assert.ok(link.exp > now() + 29 * 60 && link.exp <= now() + 30 * 60 + 1, "a link lasts 30 minutes");
    t.diagnostic(`payment_required (SDK client, 2025-11-25 without elicitation): ${JSON.stringify(refused)}`);

    await withBrowser(async (page) => {
      // b. The browser: the worker → the issuer → sign-in → the callback → the link → Checkout.
      const from = fake.requests.length;
      const opened = await openPayLink(page, checkoutUrl, user);
      assert.deepEqual(opened.steps, ["login", "consent"]);
      const statuses = opened.hops.map((h) => [h.status, new URL(h.url).origin + new URL(h.url).pathname]);
      assert.deepEqual(statuses[0], [303, `${origin}/billing/checkout`], "not signed in: off to the issuer");
      const back = opened.hops.findIndex((h) => h.url.startsWith(`${origin}/billing/callback`));
      assert.ok(back > 0, `came back through the callback: ${JSON.stringify(statuses)}`);
      assert.deepEqual(statuses.slice(back), [
        [303, `${origin}/billing/callback`],
        [303, `${origin}/billing/checkout`],
        [200, `${fake.url}/pay/${opened.final.url.split("/pay/")[1]}`],
      ]);
      assert.equal(opened.hops[back + 1].url, checkoutUrl, "the callback returns to the very link");
      assert.match(page.url(), new RegExp(`^${fake.url}/pay/cs_test_[0-9a-f]+$`));
      assert.equal(await page.title(), "Fake Stripe Checkout");
      const sessionId = page.url().split("/pay/")[1];

      // c. What the worker asked Stripe, call by call, and stripe-node's own requests for the same calls.
      const calls = stripeCalls(from);
      assert.deepEqual(calls.map((r) => `${r.method} ${r.path} ${r.status}`),
        ["GET /v1/prices 200", "POST /v1/checkout/sessions 200"]);
      const [lookup, create] = calls;
      assert.deepEqual(lookup.query, { lookup_keys: ["pro"], active: "true", limit: "1" });
      await assertSameAsStripeNode(lookup, (s) => s.prices.list({ lookup_keys: ["pro"], active: true, limit: 1 }));
      const expected = {
        mode: "subscription",
        line_items: [{ price: price.id, quantity: 1 }],
        success_url: `${origin}/billing/success`,
        cancel_url: `${origin}/billing/cancel`,
        metadata: { mkit_user: user },
        subscription_data: { metadata: { mkit_user: user } },
        client_reference_id: clientReference(user),
      };
      assert.equal(create.body.mode, "subscription");
      assert.equal(create.body.line_items[0].price, price.id);
      assert.deepEqual(create.body.metadata, { mkit_user: user });
      assert.deepEqual(create.body.subscription_data, { metadata: { mkit_user: user } });
      assert.ok(create.body.success_url.startsWith(`${origin}/`) && create.body.cancel_url.startsWith(`${origin}/`));
      assert.match(create.body.client_reference_id, /^mkit1_/);
      assert.equal(create.body.client_reference_id, clientReference(user), "a reference mKit can verify");
      assert.equal(create.body.customer, undefined, "no customer yet: Checkout creates one");
      assert.equal(create.headers["stripe-version"], STRIPE_API_VERSION);
      assert.equal(create.headers.authorization, `Bearer ${STRIPE_KEY}`);
      const idempotencyKey = create.headers["idempotency-key"];
      assert.equal(idempotencyKey, idempotencyKeyFor(checkoutUrl), "the key derives from the link's nonce");
      await assertSameAsStripeNode(create, (s) => s.checkout.sessions.create(expected, { idempotencyKey }));

      // Stripe's success_url: the worker's own page.
      const thanks = await page.goto(create.body.success_url);
      assert.equal(thanks.status(), 200);
      assert.equal(await page.title(), "Thank you");

      // f. The same link again (signed in now: no issuer): the same key, and Stripe replays the session.
      const again = await openPayLink(page, checkoutUrl, user);
      assert.deepEqual(again.hops.map((h) => h.status), [303, 200]);
      assert.ok(!again.hops.some((h) => h.url.startsWith(issuer.url)), "no second sign-in");
      assert.equal(page.url(), `${fake.url}/pay/${sessionId}`, "the same Checkout Session");
      const creates = fake.requestsTo("POST", "/v1/checkout/sessions").slice(-2);
      assert.equal(creates[1].headers["idempotency-key"], idempotencyKey);
      assert.deepEqual(creates[1].body, creates[0].body);

      // d. Alice pays; Stripe sends the webhooks for that session, signed by Stripe's library.
      const t0 = now();
      const customer = `cus_${randomBytes(7).toString("hex")}`;
      const subscription = fake.addSubscription({ customer, price: price.id, metadata: { mkit_user: user }, created: t0 });
      assert.ok(subscription.items.data[0].current_period_end > t0 + 86400);
      const completed = envelope("checkout.session.completed", {
        id: sessionId, object: "checkout.session", mode: "subscription", status: "complete", payment_status: "paid",
        customer, subscription: subscription.id, client_reference_id: create.body.client_reference_id,
        metadata: { mkit_user: user }, success_url: create.body.success_url, cancel_url: create.body.cancel_url,
      }, { created: t0 });
      const createdEvent = envelope("customer.subscription.created", subscription, { created: t0 + 1 });
      for (const ev of [completed, createdEvent]) {
        const res = await deliver(worker.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET);
        const body = await res.json();
        assert.equal(res.status, 200, `${ev.type}: ${JSON.stringify(body)}`);
        assert.deepEqual([body.type, body.outcome, body.duplicate, body.conflicts], [ev.type, "applied", false, 0]);
        assert.ok(body.changes > 0, ev.type);
      }

      // e. The client's retry runs the tool; the result says where the subscription is managed.
      const paid = await textStats(client);
      assert.equal(paid.isError, false);
      assert.deepEqual(paid.structuredContent, STATS);
      const manageUrl = paid._meta["mkit/manage_url"];
      assert.match(manageUrl, new RegExp(`^${origin}/billing/portal\\?t=`));
      const who = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent;
      assert.equal(who.sub, user);
      assert.deepEqual(who.entitlements, ["pro"]);
      assert.match(who.manage_url, new RegExp(`^${origin}/billing/portal\\?t=`));

      const beforePortal = fake.requests.length;
      const portal = await openPayLink(page, manageUrl, user);
      assert.deepEqual(portal.hops.map((h) => h.status), [303, 200]);
      assert.ok(!portal.hops.some((h) => h.url.startsWith(issuer.url)), "already signed in: no issuer round trip");
      assert.match(page.url(), new RegExp(`^${fake.url}/portal/bps_[0-9a-f]+$`));
      assert.equal(await page.title(), "Fake Stripe Billing Portal");
      const portalCalls = stripeCalls(beforePortal);
      assert.deepEqual(portalCalls.map((r) => `${r.method} ${r.path} ${r.status}`), ["POST /v1/billing_portal/sessions 200"]);
      const [bps] = portalCalls;
      assert.deepEqual(bps.body, { customer, return_url: `${origin}/billing/done` }, "the customer bound to alice");
      // Portal sessions are made on demand: the key changes every minute (edge::billing::portal).
      const minute = Math.floor(Date.now() / 60_000);
      assert.ok([minute, minute - 1].some((m) => bps.headers["idempotency-key"] === idempotencyKeyFor(manageUrl, `${customer}\n${m}`)));
      await assertSameAsStripeNode(bps, (s) => s.billingPortal.sessions.create(
        { customer, return_url: `${origin}/billing/done` }, { idempotencyKey: bps.headers["idempotency-key"] }));
    });
  } finally {
    await client.close();
  }
  // The pay pages' request log: the hops above, each with its code, and no 5xx.
  const pages = worker.requestLogs().filter((l) => l.route?.startsWith("/billing/"));
  assert.ok(pages.length >= 5 && pages.every((l) => l.status < 500), JSON.stringify(pages));
});

// ---- 1b. a credit pack --------------------------------------------------------------------

test("a credit pack: a short balance gets a pack link → sign-in → Checkout (payment) → the webhook adds the credits once → the tool runs", async () => {
  const user = "carol";
  const token = await userToken(user);
  const call = async (name) => (await (await mcp(token, { jsonrpc: "2.0", id: 1, method: "tools/call",
    params: { name, arguments: {} } }, { "mcp-protocol-version": "2025-11-25" })).json()).result;
  const refused = await call("test_credits");
  assert.equal(refused.structuredContent.error, "payment_required");
  assert.equal(refused.structuredContent.credits, 1);
  const url = refused.structuredContent.checkout_url;
  assert.ok(refused.content[0].text.includes(url) && /buy credits/.test(refused.content[0].text));
  assert.equal(linkContents(url).payload.e, "credits_10", "the link sells the pack");

  await withBrowser(async (page) => {
    const from = fake.requests.length;
    await openPayLink(page, url, user);
    assert.match(page.url(), new RegExp(`^${fake.url}/pay/cs_test_[0-9a-f]+$`));
    const sessionId = page.url().split("/pay/")[1];
    const calls = stripeCalls(from);
    assert.deepEqual(calls.map((r) => `${r.method} ${r.path} ${r.status}`),
      ["GET /v1/prices 200", "POST /v1/checkout/sessions 200"]);
    const [lookup, create] = calls;
    await assertSameAsStripeNode(lookup, (s) => s.prices.list({ lookup_keys: ["credits_10"], active: true, limit: 1 }));
    const expected = {
      mode: "payment",
      line_items: [{ price: pack.id, quantity: 1 }],
      success_url: `${origin}/billing/success`,
      cancel_url: `${origin}/billing/cancel`,
      metadata: { mkit_user: user, mkit_credits: "10" },
      client_reference_id: clientReference(user),
      customer_creation: "always",
    };
    assert.deepEqual(create.body.metadata, expected.metadata, "the count is the price's, set server-side");
    await assertSameAsStripeNode(create, (s) => s.checkout.sessions.create(expected,
      { idempotencyKey: create.headers["idempotency-key"] }));

    // Carol pays; Stripe says so, twice (a redelivery).
    const customer = `cus_${randomBytes(7).toString("hex")}`;
    const completed = envelope("checkout.session.completed", {
      id: sessionId, object: "checkout.session", mode: "payment", status: "complete", payment_status: "paid",
      customer, subscription: null, client_reference_id: create.body.client_reference_id, metadata: create.body.metadata,
    });
    for (const duplicate of [false, true]) {
      const res = await deliver(worker.url, JSON.stringify(completed), TEST_WEBHOOK_SECRET);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).duplicate, duplicate);
    }
  });
  assert.equal((await call("whoami")).structuredContent.credits, 10);
  assert.equal((await call("test_credits")).isError, undefined, "the retry runs");
  assert.equal((await call("whoami")).structuredContent.credits, 9);
  // Holding credits is not holding a subscription: the pack link opens Checkout again.
  const again = await checkoutLinkFor(token);
  assert.equal(linkContents(again).payload.e, "pro");
});

// ---- 2. phishing ----------------------------------------------------------------------------

test("phishing: bob's link opened by mallory's browser is refused (403) and nothing reaches Stripe", async () => {
  const bobLink = await checkoutLinkFor(await userToken("bob"));
  const from = fake.requests.length;
  await withBrowser(async (page) => {
    const opened = await openPayLink(page, bobLink, "mallory");
    assert.deepEqual(opened.steps, ["login", "consent"], "mallory signed in at the issuer");
    assert.deepEqual(opened.hops.slice(-2).map((h) => [h.status, new URL(h.url).pathname]),
      [[303, "/billing/callback"], [403, "/billing/checkout"]]);
    assert.equal(page.url(), bobLink);
    assert.equal(await page.title(), "This link is not yours");
    assert.match(opened.text, /made for another account .* Nothing was created/s);
    assert.ok(!opened.text.includes("bob") && !opened.text.includes("mallory"), "names no one");
  });
  assert.deepEqual(stripeCalls(from), [], "no price lookup, no Checkout Session");
  assert.equal(fake.requests.slice(from).length, 0);
  assert.equal((await logLine("/billing/checkout", 403))?.error, "pay_link_wrong_user");
});

test("phishing, the manage link: bob's opened by mallory is refused; mallory's own, without a subscription, is a 404 page", async () => {
  const whoami = async (token) => (await (await mcp(token, { jsonrpc: "2.0", id: 1, method: "tools/call",
    params: { name: "whoami" } }, { "mcp-protocol-version": "2025-11-25" })).json()).result.structuredContent;
  const bob = await whoami(await userToken("bob"));
  const mallory = await whoami(await userToken("mallory"));
  assert.match(bob.manage_url, new RegExp(`^${origin}/billing/portal\\?t=`));
  const from = fake.requests.length;
  await withBrowser(async (page) => {
    const stolen = await openPayLink(page, bob.manage_url, "mallory");
    assert.deepEqual(stolen.final, { status: 403, url: bob.manage_url });
    assert.equal(await page.title(), "This link is not yours");
    const own = await openPayLink(page, mallory.manage_url, "mallory");
    assert.deepEqual(own.steps, [], "already signed in");
    assert.deepEqual(own.final, { status: 404, url: mallory.manage_url });
    assert.equal(await page.title(), "Nothing to manage yet");
    assert.match(own.text, /no subscription/);
  });
  assert.deepEqual(stripeCalls(from), [], "no portal session for anyone");
  assert.equal((await logLine("/billing/portal", 404))?.error, "portal_no_customer");
});

// ---- 3. how each protocol era is asked to pay ------------------------------------------------

test("protocol eras: input_required (2026-07-28), -32042 (2025-11-25 with URL elicitation), else payment_required", async (t) => {
  const user = "carol";
  const token = await userToken(user);
  const call = { name: "text_stats", arguments: { text: TEXT } };

  // 2026-07-28, declaring URL elicitation in _meta.
  const stateless = (params, capabilities = { elicitation: { url: {} } }) => mcp(token,
    { jsonrpc: "2.0", id: 26, method: "tools/call", params: { ...call, ...params, _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": capabilities,
      "io.modelcontextprotocol/clientInfo": { name: "raw-2026", version: "1" } } } },
    { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "text_stats" });
  let res = await stateless({});
  assert.equal(res.status, 200);
  const asked = await res.json();
  t.diagnostic(`2026-07-28 + elicitation.url: HTTP ${res.status} ${JSON.stringify(asked)}`);
  const { result } = asked;
  assert.equal(result.resultType, "input_required");
  assert.deepEqual(Object.keys(result.inputRequests), ["pay"]);
  const pay = result.inputRequests.pay;
  assert.equal(pay.method, "elicitation/create");
  assert.equal(pay.params.mode, "url");
  assert.match(pay.params.url, new RegExp(`^${origin}/billing/checkout\\?t=`));
  assert.match(pay.params.message, /"pro" entitlement/);
  assert.equal(typeof result.requestState, "string");
  assert.equal(linkContents(pay.params.url).payload.e, "pro");
  // The user declines: a plain payment_required result, not the same question again.
  res = await stateless({ requestState: result.requestState, inputResponses: { pay: { action: "decline" } } });
  const declined = await res.json();
  t.diagnostic(`2026-07-28 retry after decline: HTTP ${res.status} ${JSON.stringify(declined)}`);
  assert.equal(declined.result.resultType, "complete");
  assert.equal(declined.result.isError, true);
  assert.equal(declined.result.structuredContent.error, "payment_required");
  // The user accepted but has not paid yet: asked again.
  res = await stateless({ requestState: result.requestState, inputResponses: { pay: { action: "accept" } } });
  const again = await res.json();
  assert.equal(again.result.resultType, "input_required");
  // The requestState lasts 10 minutes, the link 30: a user still unpaid who answers later is told to start again.
  const stale = seal("mcp-request-state", ["mcp-request-state", issuer.url, user, "text_stats"], { stage: "pay" }, now() - 1);
  res = await stateless({ requestState: stale, inputResponses: { pay: { action: "accept" } } });
  const expiredState = await res.json();
  t.diagnostic(`2026-07-28 retry with an expired requestState: HTTP ${res.status} ${JSON.stringify(expiredState)}`);
  assert.equal(expiredState.error.code, -32602);
  assert.match(expiredState.error.message, /requestState: expired; start the call again/);
  // Without URL elicitation: the tool result.
  res = await stateless({}, {});
  const plain2026 = await res.json();
  t.diagnostic(`2026-07-28 without elicitation.url: HTTP ${res.status} ${JSON.stringify(plain2026)}`);
  assert.equal(plain2026.result.resultType, "complete");
  assert.equal(plain2026.result.structuredContent.error, "payment_required");
  assert.match(plain2026.result.structuredContent.checkout_url, new RegExp(`^${origin}/billing/checkout\\?t=`));

  // 2025-11-25: the declaration at initialize comes back in the Mcp-Session-Id (this build holds
  // sessions, its tools ask the client; a release build seals the declaration alone).
  const init = (capabilities, protocolVersion = "2025-11-25") => mcp(token, { jsonrpc: "2.0", id: 1, method: "initialize",
    params: { protocolVersion, capabilities, clientInfo: { name: "raw-2025", version: "1" } } });
  res = await init({ elicitation: { url: {} } });
  assert.equal(res.status, 200);
  const session = res.headers.get("mcp-session-id");
  assert.equal((await res.json()).result.protocolVersion, "2025-11-25");
  assert.ok(session, "an Mcp-Session-Id for a client that declared URL elicitation");
  t.diagnostic(`2025-11-25 initialize {elicitation:{url:{}}}: Mcp-Session-Id: ${session}`);
  const none = await init({});
  assert.equal(none.headers.get("mcp-session-id"), null, "no session for a client that declares nothing");
  await none.arrayBuffer();
  const handshakeCall = (headers, who = token) => mcp(who, { jsonrpc: "2.0", id: 25, method: "tools/call", params: call },
    { "mcp-protocol-version": "2025-11-25", ...headers });
  res = await handshakeCall({ "mcp-session-id": session });
  const elicit = await res.json();
  t.diagnostic(`2025-11-25 tools/call with the session id: HTTP ${res.status} ${JSON.stringify(elicit)}`);
  assert.equal(res.status, 200);
  assert.equal(elicit.error.code, -32042);
  assert.equal(elicit.error.data.elicitations.length, 1);
  const [e] = elicit.error.data.elicitations;
  assert.equal(e.mode, "url");
  assert.match(e.url, new RegExp(`^${origin}/billing/checkout\\?t=`));
  assert.equal(e.elicitationId, linkContents(e.url).payload.n, "the elicitation id is the link's nonce");
  assert.match(e.message, /"pro" entitlement/);
  res = await handshakeCall({});
  const plain2025 = await res.json();
  t.diagnostic(`2025-11-25 tools/call without the session id: HTTP ${res.status} ${JSON.stringify(plain2025)}`);
  assert.equal(plain2025.result.isError, true);
  assert.equal(plain2025.result.structuredContent.error, "payment_required");
  assert.match(plain2025.result.structuredContent.checkout_url, new RegExp(`^${origin}/billing/checkout\\?t=`));
  // carol's session id presented by someone else, or altered, names no session: 404.
  const dave = await userToken("dave");
  res = await handshakeCall({ "mcp-session-id": session }, dave);
  assert.equal(res.status, 404, "dave presenting carol's session id");
  assert.match((await res.json()).error.message, /session not found/);
  res = await handshakeCall({ "mcp-session-id": `${session.slice(0, -2)}AA` });
  assert.equal(res.status, 404, "an altered session id");
  await res.arrayBuffer();

  // carol pays (the webhook alone stands for the browser part here); each era's retry runs the tool.
  const subscription = fake.addSubscription({ customer: `cus_${randomBytes(7).toString("hex")}`, price: price.id,
    metadata: { mkit_user: user } });
  const granted = await deliver(worker.url, JSON.stringify(envelope("customer.subscription.created", subscription)),
    TEST_WEBHOOK_SECRET);
  assert.equal(granted.status, 200);
  res = await stateless({ requestState: result.requestState, inputResponses: { pay: { action: "accept" } } });
  const ran2026 = await res.json();
  t.diagnostic(`2026-07-28 retry (requestState + accept) once paid: HTTP ${res.status} ${JSON.stringify(ran2026)}`);
  assert.equal(ran2026.result.resultType, "complete");
  assert.equal(ran2026.result.isError, false);
  assert.deepEqual(ran2026.result.structuredContent, STATS);
  assert.match(ran2026.result._meta["mkit/manage_url"], new RegExp(`^${origin}/billing/portal\\?t=`));
  res = await handshakeCall({ "mcp-session-id": session });
  const ran2025 = await res.json();
  t.diagnostic(`2025-11-25 retry with the session id once paid: HTTP ${res.status} ${JSON.stringify(ran2025)}`);
  assert.equal(ran2025.result.isError, false);
  assert.deepEqual(ran2025.result.structuredContent, STATS);
  assert.match(ran2025.result._meta["mkit/manage_url"], new RegExp(`^${origin}/billing/portal\\?t=`));
});

// ---- 4. failure paths -----------------------------------------------------------------------

test("Stripe failing: a 500 on Checkout is a clear 502 page, nothing created; a new link then works", async () => {
  const user = "erin";
  const token = await userToken(user);
  const first = await checkoutLinkFor(token);
  await withBrowser(async (page) => {
    fake.failNext("/v1/checkout/sessions", 500, { method: "POST" });
    const from = fake.requests.length;
    const failed = await openPayLink(page, first, user);
    assert.deepEqual(failed.final, { status: 502, url: first });
    assert.equal(await page.title(), "Payment page unavailable");
    assert.match(failed.text, /Stripe could not open the page\. Nothing was charged/);
    assert.deepEqual(stripeCalls(from).map((r) => `${r.method} ${r.path} ${r.status}`),
      ["GET /v1/prices 200", "POST /v1/checkout/sessions 500"]);
    assert.equal((await logLine("/billing/checkout", 502))?.error, "stripe_refused");

    // Real Stripe saves a 500 under its idempotency key and replays it for 24 h, so the same link
    // cannot succeed later; a new link (a later tool call: another nonce, another key) does.
    await sleep(1100);
    const second = await checkoutLinkFor(token);
    assert.notEqual(idempotencyKeyFor(second), idempotencyKeyFor(first));
    const ok = await openPayLink(page, second, user);
    assert.equal(ok.final.status, 200);
    assert.match(page.url(), new RegExp(`^${fake.url}/pay/cs_test_`));
  });
});

test("Stripe failing: no active price for the entitlement is a 502 saying the plan is not on sale", async () => {
  const user = "frank";
  const link = await checkoutLinkFor(await userToken(user));
  fake.failNext("/v1/prices", 200, { method: "GET", body: { object: "list", data: [], has_more: false, url: "/v1/prices" } });
  const from = fake.requests.length;
  await withBrowser(async (page) => {
    const opened = await openPayLink(page, link, user);
    assert.deepEqual(opened.final, { status: 502, url: link });
    assert.match(opened.text, /This plan is not on sale right now/);
  });
  assert.deepEqual(stripeCalls(from).map((r) => `${r.method} ${r.path}`), ["GET /v1/prices"], "no Checkout Session");
});

test("bad links: expired → 410, missing or undecodable t → 400, all before any sign-in", async () => {
  const page = async (url) => {
    const res = await fetch(url, { redirect: "manual" });
    return { status: res.status, type: res.headers.get("content-type"), csp: res.headers.get("content-security-policy"),
      cache: res.headers.get("cache-control"), location: res.headers.get("location"), text: await res.text() };
  };
  // A link the worker really minted (its MAC verifies) whose 30 minutes are over.
  const expired = await page(sealLink("grace", { exp: now() - 60 }));
  assert.equal(expired.status, 410);
  assert.match(expired.text, /<title>This link has expired<\/title>/);
  assert.match(expired.text, /Pay links last 30 minutes/);
  assert.equal(expired.type, "text/html; charset=utf-8");
  assert.equal(expired.cache, "no-store");
  assert.match(expired.csp, /^default-src 'none'/);
  const portal = await page(sealLink("grace", { kind: "p", entitlement: "", exp: now() - 60 }));
  assert.equal(portal.status, 410);
  // The same link, still valid, goes to the issuer: the expiry was the only reason for the 410.
  const valid = await page(sealLink("grace", { exp: now() + 600 }));
  assert.equal(valid.status, 303);
  assert.ok(valid.location.startsWith(`${issuer.url}auth?`), valid.location);
  // A callback this browser did not start (no sign-in cookie): refused, nothing exchanged.
  const forged = await page(`${origin}/billing/callback?code=stolen&state=guess`);
  assert.equal(forged.status, 400);
  assert.match(forged.text, /<title>Sign-in expired<\/title>/);
  for (const url of [`${origin}/billing/checkout`, `${origin}/billing/checkout?t=%zz`,
    `${origin}/billing/portal?x=1`]) {
    const bad = await page(url);
    assert.equal(bad.status, 400, url);
    assert.match(bad.text, /<title>This link is not valid<\/title>/, url);
  }
});

// Defects this file found, fixed in the worker; each test failed before its fix.

test("a garbage t is 'not valid' (400), not 'expired' (410)", async () => {
  for (const t of ["", "garbage", "abc.def", "AAAA.AAAA"]) {
    const res = await fetch(`${origin}/billing/checkout?t=${t}`, { redirect: "manual" });
    assert.equal(res.status, 400, `t=${t}: HTTP ${res.status} ${(await res.text()).match(/<title>(.*?)<\/title>/)?.[1]}`);
  }
});

test("an entitled user is not sent to Stripe again by a pay link", async (t) => {
  const user = "heidi";
  const token = await userToken(user);
  const link = await checkoutLinkFor(token);
  await sleep(1100);
  const later = await checkoutLinkFor(token); // a second tool call, a second link
  assert.notEqual(later, link);
  await withBrowser(async (page) => {
    const first = await openPayLink(page, link, user);
    assert.equal(first.final.status, 200, "Checkout opened");
    const customer = `cus_${randomBytes(7).toString("hex")}`;
    const subscription = fake.addSubscription({ customer, price: price.id, metadata: { mkit_user: user } });
    for (const ev of [envelope("checkout.session.completed", { id: page.url().split("/pay/")[1], object: "checkout.session",
      mode: "subscription", status: "complete", customer, subscription: subscription.id, metadata: { mkit_user: user } }),
    envelope("customer.subscription.created", subscription)]) {
      assert.equal((await deliver(worker.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET)).status, 200);
    }
    const who = await (await mcp(token, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } },
      { "mcp-protocol-version": "2025-11-25" })).json();
    assert.deepEqual(who.result.structuredContent.entitlements, ["pro"], "heidi holds pro");
    const outcomes = [];
    for (const [what, url] of [["the paid link again", link], ["the second link", later]]) {
      const from = fake.requests.length;
      const opened = await openPayLink(page, url, user);
      const calls = stripeCalls(from).map((r) => `${r.method} ${r.path} ${r.status}${r.body.customer ? ` customer=${r.body.customer}` : ""}`);
      const outcome = `${what}: HTTP ${opened.final.status} at ${new URL(opened.final.url).pathname}, Stripe calls: ${calls.join(", ") || "none"}`;
      t.diagnostic(outcome);
      outcomes.push([outcome, opened.final.status, calls.filter((c) => c.startsWith("POST /v1/checkout/sessions"))]);
    }
    for (const [outcome, status, checkouts] of outcomes) {
      assert.ok(status < 500, outcome);
      assert.deepEqual(checkouts, [], `no Checkout for an entitlement already held (${outcome})`);
    }
  });
});

// Last, because it replaces the fake's Checkout route until the fake is reset.
test("after Stripe fails, the page's advice works against a Stripe that replays the failure", async () => {
  const user = "judy";
  const link = await checkoutLinkFor(await userToken(user));
  // What Stripe documents (docs.stripe.com/api/idempotent_requests): the first answer under a key
  // is saved once the endpoint has started, a 500 included, and every retry with the key gets it.
  const saved = new Map();
  fake.respond("POST", "/v1/checkout/sessions", (rec) => {
    const key = rec.headers["idempotency-key"];
    if (!saved.has(key)) {
      const id = `cs_test_${randomBytes(12).toString("hex")}`;
      saved.set(key, saved.size === 0
        ? { status: 500, body: { error: { type: "api_error", message: "An unknown error occurred" } } }
        : { status: 200, body: { id, object: "checkout.session", url: `${fake.url}/pay/${id}` } });
    }
    return saved.get(key);
  });
  try {
    await withBrowser(async (page) => {
      const failed = await openPayLink(page, link, user);
      assert.equal(failed.final.status, 502);
      const advice = failed.text;
      const again = await openPayLink(page, link, user);
      assert.ok(again.final.status === 200 || !/open the link again/i.test(advice),
        `the page advised "${advice.replace(/\s+/g, " ").trim()}", and the same link then answered HTTP ${again.final.status}`);
    });
  } finally {
    fake.reset();
  }
});
