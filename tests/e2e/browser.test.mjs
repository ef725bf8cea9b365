// Self-test of browser.mjs: chromium signs in at the real test issuer (oidc-provider's
// devInteractions) through an authorization code + PKCE flow and lands on a local redirect
// target with `code` and `state`; the code is then redeemed to show it is the user's. Also: a
// second flow in the same browser skips the login, off-loopback requests are blocked, and the
// fake Stripe's checkout page can be landed on. No worker needed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { startIssuer, peek, CLIENT_ID, CLIENT_SECRET } from "./issuer.mjs";
import { freePort } from "./harness.mjs";
import { withBrowser, signInAtDevIssuer, SELECTORS } from "./browser.mjs";
import { startFakeStripe } from "./fake-stripe.mjs";

const SCREENSHOT = "/tmp/mkit-dev-issuer-login.png";
let issuer;
let target;

/** The redirect target: records each hit and shows a tiny page. */
async function startRedirectTarget() {
  const port = await freePort();
  const hits = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    hits.push(url);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>callback</title><h1 id="done">signed in</h1>`);
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  return {
    uri: `http://127.0.0.1:${port}/callback`,
    hits,
    stop: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

/** An authorization request with PKCE (S256): its URL and the values to check the answer with. */
function authorizationRequest() {
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(12).toString("base64url");
  const nonce = randomBytes(12).toString("base64url");
  const url = new URL("auth", issuer.url);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: target.uri,
    scope: "openid",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    state,
    nonce,
  }).toString();
  return { url: url.href, verifier, state, nonce };
}

async function redeem(code, verifier) {
  const res = await fetch(new URL("token", issuer.url), {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: target.uri, code_verifier: verifier }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

before(async () => {
  target = await startRedirectTarget();
  issuer = await startIssuer({ redirectUris: [target.uri] });
});
after(async () => {
  await issuer?.stop();
  await target?.stop();
});

test("chromium signs in at the dev issuer and lands on the redirect URI with code and state", async () => {
  await withBrowser(async (page, context) => {
    const first = authorizationRequest();
    await page.goto(first.url);
    assert.match(new URL(page.url()).pathname, /^\/interaction\//);
    await page.locator(SELECTORS.loginForm).waitFor();
    assert.equal(await page.title(), "Sign-in");
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`login page screenshot: ${SCREENSHOT}`);

    const { url, steps } = await signInAtDevIssuer(page, "alice");
    assert.deepEqual(steps, ["login", "consent"]);
    const landed = new URL(url);
    assert.equal(`${landed.origin}${landed.pathname}`, target.uri);
    assert.equal(landed.searchParams.get("state"), first.state);
    const code = landed.searchParams.get("code");
    assert.ok(code, `a code in ${url}`);
    assert.equal(landed.searchParams.get("iss"), issuer.url, "RFC 9207 iss");
    assert.equal(await page.locator("#done").innerText(), "signed in");
    assert.equal(target.hits.at(-1).searchParams.get("code"), code, "the target server saw the same code");

    // The code is alice's, and only redeemable with the PKCE verifier.
    const tokens = await redeem(code, first.verifier);
    const { payload } = peek(tokens.id_token);
    assert.equal(payload.sub, "alice");
    assert.equal(payload.nonce, first.nonce);

    // A second flow in the same browser: the session and grant stand, nothing to fill in.
    const second = authorizationRequest();
    await page.goto(second.url);
    const again = await signInAtDevIssuer(page, "alice");
    assert.ok(!again.steps.includes("login"), `no second login (steps: ${again.steps})`);
    assert.equal(new URL(again.url).searchParams.get("state"), second.state);

    // The issuer's pages @import a web font: blocked, not fetched.
    assert.ok(context.blocked.some((u) => u.startsWith("https://fonts.googleapis.com/")), context.blocked.join(" "));
  });
});

test("a different user gets a different subject; a wrong verifier is refused", async () => {
  await withBrowser(async (page) => {
    const req = authorizationRequest();
    await page.goto(req.url);
    const { url } = await signInAtDevIssuer(page, "bob");
    const code = new URL(url).searchParams.get("code");
    const bad = await fetch(new URL("token", issuer.url), {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: target.uri,
        code_verifier: randomBytes(32).toString("base64url") }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, "invalid_grant");
  });
  // (The failed redemption consumed the code; a fresh flow shows bob's subject.)
  await withBrowser(async (page) => {
    const req = authorizationRequest();
    await page.goto(req.url);
    const { url } = await signInAtDevIssuer(page, "bob");
    const tokens = await redeem(new URL(url).searchParams.get("code"), req.verifier);
    assert.equal(peek(tokens.id_token).payload.sub, "bob");
  });
});

test("the issuer's error page is reported, not mistaken for a redirect", async () => {
  await withBrowser(async (page) => {
    const req = new URL(authorizationRequest().url);
    req.searchParams.set("redirect_uri", "http://127.0.0.1:9/not-registered");
    await page.goto(req.href);
    await assert.rejects(signInAtDevIssuer(page, "alice"), /the issuer refused .*redirect_uri/s);
  });
});

test("a browser can land on the fake Stripe's checkout page", async () => {
  const stripe = await startFakeStripe();
  try {
    stripe.addPrice("mkit_pro_monthly", { id: "price_1" });
    const res = await fetch(`${stripe.url}/v1/checkout/sessions`, {
      method: "POST",
      headers: { authorization: "Bearer sk_test_x", "content-type": "application/x-www-form-urlencoded", "idempotency-key": "k1" },
      body: "mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=1&success_url=http%3A%2F%2F127.0.0.1%2Fok",
    });
    const session = await res.json();
    await withBrowser(async (page) => {
      const response = await page.goto(session.url);
      assert.equal(response.status(), 200);
      assert.equal(await page.title(), "Fake Stripe Checkout");
      assert.equal(await page.locator("#session").innerText(), session.id);
    });
    assert.deepEqual(stripe.requestsTo("GET", "/pay/:id").map((r) => r.path), [`/pay/${session.id}`]);
  } finally {
    await stripe.stop();
  }
});
