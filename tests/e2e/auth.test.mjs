// The OAuth 2.1 protected resource on workerd against a real authorization server
// (oidc-provider): challenges, PRM, both grant types, audience binding, scope step-up, and the
// attack cases end to end (each a 401, never a 5xx).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, createHmac, sign } from "node:crypto";
import { startStack } from "./stack.mjs";
import { CLIENT_ID, peek } from "./issuer.mjs";

let stack;
let scoped;
before(async () => {
  [stack, scoped] = await Promise.all([
    startStack({ name: "auth", script: "build-fixtures/index.js" }),
    startStack({ name: "auth-required-scopes", vars: { OAUTH_REQUIRED_SCOPES: "mcp admin", OAUTH_SCOPE_PREFIX: "api://mkit/" } }),
  ]);
});
after(async () => {
  await Promise.all([stack?.stop(), scoped?.stop()]);
});

const call = (url, token, body = { jsonrpc: "2.0", id: 1, method: "tools/list" }, headers = {}) =>
  fetch(`${url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-11-25",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
    body: JSON.stringify(body),
  });

const metadataUrl = () => `${stack.worker.url}/.well-known/oauth-protected-resource/mcp`;

test("no token: 401 with resource_metadata and no error code", async () => {
  const res = await call(stack.worker.url, undefined);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), `Bearer resource_metadata="${metadataUrl()}"`);
  assert.equal((await res.json()).error, "unauthorized");
});

test("a token in the query string is never accepted", async () => {
  const token = await stack.token();
  const res = await fetch(`${stack.worker.url}/mcp?access_token=${token}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  assert.equal(res.status, 401);
});

test("Protected Resource Metadata at both well-known paths", async () => {
  for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
    const res = await fetch(`${stack.worker.url}${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("cache-control"), /max-age=\d+/);
    const prm = await res.json();
    assert.equal(prm.resource, stack.resource);
    assert.deepEqual(prm.authorization_servers, [stack.issuer.url]);
    assert.deepEqual(prm.bearer_methods_supported, ["header"]);
    assert.ok(prm.scopes_supported.includes("admin"), "scopes come from the tools");
    assert.equal(prm.resource_name, "mKit");
  }
});

test("client_credentials tokens signed RS256 and ES256 are accepted", async () => {
  for (const alg of ["RS256", "ES256"]) {
    stack.issuer.setAlg(alg);
    const token = await stack.token();
    assert.equal(peek(token).header.alg, alg);
    const res = await call(stack.worker.url, token, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } });
    assert.equal(res.status, 200, alg);
    assert.equal((await res.json()).result.structuredContent.sub, CLIENT_ID);
  }
  stack.issuer.setAlg("RS256");
});

test("authorization code + PKCE with a resource indicator (dev interactions)", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "alice", scope: "openid mcp tools:read" });
  assert.equal(peek(token).payload.aud, stack.resource);
  assert.equal(peek(token).payload.sub, "alice");
  const whoami = await call(stack.worker.url, token, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } });
  assert.equal(whoami.status, 200);
  assert.equal((await whoami.json()).result.structuredContent.sub, "alice");
});

test("a token for another resource gets 401 invalid_token", async () => {
  const token = await stack.token({ forResource: "https://other.example.com/mcp" });
  const res = await call(stack.worker.url, token);
  assert.equal(res.status, 401);
  const h = res.headers.get("www-authenticate");
  assert.match(h, /error="invalid_token"/);
  assert.match(h, /error_description="token not issued for this resource"/);
  assert.match(h, new RegExp(`resource_metadata="${metadataUrl()}"`));
});

test("scope step-up: 403 insufficient_scope for a tool; tools/list hides it", async () => {
  const token = await stack.token();
  const list = await (await call(stack.worker.url, token)).json();
  assert.ok(!list.result.tools.some((t) => t.name === "test_scoped_admin"));
  const res = await call(stack.worker.url, token, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "test_scoped_admin" } });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("www-authenticate"),
    `Bearer error="insufficient_scope", scope="admin", resource_metadata="${metadataUrl()}"`);
});

test("OAUTH_REQUIRED_SCOPES gates all of /mcp; clients see scopes with OAUTH_SCOPE_PREFIX", async () => {
  const none = await call(scoped.worker.url, undefined);
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate"), /scope="api:\/\/mkit\/mcp api:\/\/mkit\/admin"/);
  const res = await call(scoped.worker.url, await scoped.token());
  assert.equal(res.status, 403, "the token's bare mcp counts; admin is missing");
  assert.match(res.headers.get("www-authenticate"), /error="insufficient_scope", scope="api:\/\/mkit\/mcp api:\/\/mkit\/admin"/);
  const prm = await (await fetch(`${scoped.worker.url}/.well-known/oauth-protected-resource/mcp`)).json();
  assert.deepEqual(prm.scopes_supported, ["api://mkit/admin", "api://mkit/mcp"]);
});

test("attack tokens end to end: each a 401 (or 400 for a malformed header), never a 5xx", async () => {
  const good = await stack.token();
  const [h, p, s] = good.split(".");
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const header = peek(good).header;
  const claims = peek(good).payload;
  const now = Math.floor(Date.now() / 1000);
  const { privateKey: attackerKey, publicKey: attackerPub } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signWith = async (hdr, pl) => {
    const input = `${b64(hdr)}.${b64(pl)}`;
    return `${input}.${sign("sha256", Buffer.from(input), attackerKey).toString("base64url")}`;
  };
  const hs = (hdr, pl) => {
    const input = `${b64(hdr)}.${b64(pl)}`;
    return `${input}.${createHmac("sha256", "secret").update(input).digest("base64url")}`;
  };
  const cases = {
    "alg none": `${b64({ alg: "none", typ: "at+jwt" })}.${p}.`,
    "stripped signature": `${h}.${p}.`,
    "tampered payload": `${h}.${b64({ ...claims, sub: "admin" })}.${s}`,
    "bad base64url": `${h}.${p}.${s}==`,
    "HS256": hs({ ...header, alg: "HS256" }, claims),
    "unknown kid": await signWith({ alg: "RS256", typ: "at+jwt", kid: "attacker" }, claims),
    "kid path trick": await signWith({ alg: "RS256", typ: "at+jwt", kid: `../${header.kid}` }, claims),
    "embedded jwk": await signWith({ alg: "RS256", typ: "at+jwt", kid: header.kid,
      jwk: attackerPub.export({ format: "jwk" }) }, claims),
    "jku": await signWith({ alg: "RS256", typ: "at+jwt", kid: header.kid, jku: "https://evil.example.com/jwks" }, claims),
    "expired (self-signed)": await signWith({ alg: "RS256", typ: "at+jwt", kid: header.kid }, { ...claims, exp: now - 3600 }),
    "crit": await signWith({ alg: "RS256", typ: "at+jwt", kid: header.kid, crit: ["x"], x: 1 }, claims),
    "oversize": `${h}.${b64({ ...claims, pad: "x".repeat(9000) })}.${s}`,
    "duplicate claim": `${h}.${Buffer.from(JSON.stringify(claims).replace("{", '{"sub":"admin",')).toString("base64url")}.${s}`,
    "not a JWT": "opaque-token-value",
  };
  for (const [what, token] of Object.entries(cases)) {
    const res = await call(stack.worker.url, token);
    assert.equal(res.status, 401, what);
    assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/, what);
  }
  for (const header of ["Bearer a b", "Bearer"]) {
    const res = await call(stack.worker.url, undefined, undefined, { authorization: header });
    assert.equal(res.status, 400, header);
    assert.match(res.headers.get("www-authenticate"), /error="invalid_request"/);
  }
  // Another scheme is no bearer credential: RFC 6750 §3.1's bare challenge, which starts a
  // client's OAuth discovery (a 400 would not).
  for (const header of ["Basic abc", "Token x"]) {
    const res = await call(stack.worker.url, undefined, undefined, { authorization: header });
    assert.equal(res.status, 401, header);
    assert.equal(res.headers.get("www-authenticate"), `Bearer resource_metadata="${metadataUrl()}"`, header);
  }
  const logs = stack.worker.logs();
  assert.ok(!logs.includes(good), "no token in the logs");
});
