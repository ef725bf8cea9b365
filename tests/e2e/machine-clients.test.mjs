// Machine clients (#31), end to end on workerd: mKit as the authorization server
// (MKIT_AUTH_SERVER=on) issues tokens by the client credentials grant (the MCP extension
// io.modelcontextprotocol/oauth-client-credentials) to clients the operator registered with
// scripts/clients.mjs (`make client-create`), here writing the worker's local D1. The official SDK
// clients drive each flow through the examples a seller copies (examples/clients/machine_client.*):
// the TypeScript SDK's ClientCredentialsProvider and PrivateKeyJwtProvider, the Python SDK's
// ClientCredentialsOAuthProvider and PrivateKeyJWTOAuthProvider; and in process the TypeScript SDK
// 2.x's own two (@modelcontextprotocol/client). Then the refusals, each at the
// real token endpoint: a revoked client, a replayed or misaddressed assertion, a wrong secret, a
// scope not registered. Last, mKit as a resource server only: the same examples get their token
// from the provider's own client credentials flow. Each test names the SDK and version that drove
// it (t.diagnostic).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import * as sdk2 from "@modelcontextprotocol/client";
import { ROOT, EXAMPLES_BUILD, startWorker, defaultVars, freePort } from "./harness.mjs";
import { startIssuer, CLIENT_ID, CLIENT_SECRET } from "./issuer.mjs";
import { startStack } from "./stack.mjs";

const run = promisify(execFile);
const EXTENSION = "io.modelcontextprotocol/oauth-client-credentials";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const EXAMPLES = join(ROOT, "examples/clients");
const PYTHONPATH = join(ROOT, ".tools/python");
const version = (pkg) => JSON.parse(readFileSync(join(ROOT, `node_modules/${pkg}/package.json`), "utf8")).version;
const TS_SDK = `@modelcontextprotocol/sdk ${version("@modelcontextprotocol/sdk")}`;
const TS_SDK2 = `@modelcontextprotocol/client ${version("@modelcontextprotocol/client")}`;
let PY_SDK;

let worker;
let issuer;
let jwksServer;
let origin;
let resource;
/** The JWK Set the loopback JWKS server publishes, and how often the worker fetched it. */
const published = { keys: [] };
let jwksFetches = 0;

before(async () => {
  const { stdout } = await run("python3", ["-c", "from importlib.metadata import version; print(version('mcp'))"],
    { env: { ...process.env, PYTHONPATH } });
  PY_SDK = `mcp ${stdout.trim()} (Python)`;
  jwksServer = createServer((req, res) => {
    jwksFetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(published));
  });
  await new Promise((ok) => jwksServer.listen(0, "127.0.0.1", ok));
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  resource = `${origin}/mcp`;
  issuer = await startIssuer({ resource, redirectUris: [`${origin}/billing/callback`] });
  worker = await startWorker({ name: "machine-clients", script: EXAMPLES_BUILD, port, vars: { ...defaultVars(),
    OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource, MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET,
    MKIT_AUTH_SERVER: "on",
    // The 401 names mcp, so the Python SDK asks for it (it asks for what the 401 or the metadata
    // names, not for its own scope argument).
    OAUTH_REQUIRED_SCOPES: "mcp" } });
});
after(async () => {
  await Promise.all([worker?.stop(), issuer?.stop(), jwksServer && new Promise((ok) => jwksServer.close(ok))]);
});

/** Runs scripts/clients.mjs as `make client-…` does, against the worker's local D1. */
async function clients(...args) {
  const { stdout } = await run(process.execPath, [join(ROOT, "scripts/clients.mjs"), ...args, "--json"],
    { cwd: ROOT, env: { ...process.env, MKIT_CLIENTS_D1_PERSIST: worker.persist } });
  return JSON.parse(stdout);
}

/** `make client-create NAME=… SCOPES=… [PUBLIC_KEY=<file> | JWKS_URI=…]`: { client_id, client_secret? }. */
function createClient(name, scopes, { publicKey, jwksUri } = {}) {
  return clients("create", "--name", name, "--scopes", scopes, ...(publicKey ? ["--public-key", publicKey] : []),
    ...(jwksUri ? ["--jwks-uri", jwksUri] : []));
}

/** A key pair; the private key as a PKCS#8 PEM file under the worker's directory. */
function keyPair(label, type, options) {
  const { publicKey, privateKey } = generateKeyPairSync(type, options);
  const file = join(worker.dir, `${label}.key.pem`);
  writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }));
  return { publicKey, privateKey, file };
}
const ecKey = (label) => keyPair(label, "ec", { namedCurve: "P-256" });
const rsaKey = (label) => keyPair(label, "rsa", { modulusLength: 2048 });

/** Writes `text` under the worker's directory; its path. */
function file(name, text) {
  const path = join(worker.dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * Runs an example as a seller's program runs it: `ts` (node) or `py` (python3), the client's id and
 * secret or private key file in its environment. Resolves with { code, stdout, stderr, result },
 * result being the last output line (whoami's structured result), parsed.
 */
async function runExample(lang, client, { secret, keyFile, url = resource, env: more = {} } = {}) {
  const [command, script] = lang === "ts" ? [process.execPath, "machine_client.mjs"] : ["python3", "machine_client.py"];
  const env = { ...process.env, PYTHONPATH, MKIT_CLIENT_ID: client.client_id,
    ...(secret ? { MKIT_CLIENT_SECRET: secret } : {}), ...(keyFile ? { MKIT_PRIVATE_KEY: keyFile } : {}) };
  delete env.MKIT_ISSUER;
  delete env.MKIT_SCOPE;
  Object.assign(env, more);
  try {
    const { stdout, stderr } = await run(command, [join(EXAMPLES, script), url], { cwd: ROOT, env, timeout: 60_000 });
    return { code: 0, stdout, stderr, result: JSON.parse(stdout.trim().split("\n").at(-1)) };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** whoami's result from an example that must succeed. */
async function whoami(lang, client, credential) {
  const out = await runExample(lang, client, credential);
  assert.equal(out.code, 0, `${lang} example exited ${out.code}:\n${out.stdout}\n${out.stderr}`);
  return out.result;
}

const form = (params) => new URLSearchParams(params);
/** POST /oauth/token with a form, as a client sends it. */
async function tokenRequest(params, headers = {}) {
  const res = await fetch(`${origin}/oauth/token`, { method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(params) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}
const basic = (id, secret) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)
  .toString("base64")}` });

/** A client assertion (RFC 7523 §2.2) signed by hand: iss = sub = the client, aud = mKit's issuer. */
async function assertion(client, key, alg, claims = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: client.client_id, sub: client.client_id, aud: origin, iat: now, exp: now + 60, jti: randomUUID(),
    ...claims }).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
}
const withAssertion = (jwt, extra = {}) => tokenRequest({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE,
  client_assertion: jwt, ...extra });

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

test("the metadata: the grant, the client authentication methods and their algorithms", async () => {
  const meta = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json();
  assert.equal(meta.issuer, origin);
  assert.ok(meta.grant_types_supported.includes("client_credentials"), JSON.stringify(meta.grant_types_supported));
  for (const m of ["private_key_jwt", "client_secret_basic", "client_secret_post"]) {
    assert.ok(meta.token_endpoint_auth_methods_supported.includes(m), `${m}: ${meta.token_endpoint_auth_methods_supported}`);
  }
  for (const alg of ["ES256", "RS256"]) {
    assert.ok(meta.token_endpoint_auth_signing_alg_values_supported?.includes(alg),
      `${alg}: ${meta.token_endpoint_auth_signing_alg_values_supported}`);
  }
  assert.ok(!meta.token_endpoint_auth_signing_alg_values_supported.includes("none"));
});

test("a client with a secret: both SDKs get a token whose sub is the client id; initialize and server/discover announce " +
  "the extension", async (t) => {
  const client = await createClient("nightly report", "mcp notes");
  assert.match(client.client_id, /^mkit_m_/);
  assert.ok(client.client_secret);

  t.diagnostic(`TypeScript: ${TS_SDK}, ClientCredentialsProvider (examples/clients/machine_client.mjs)`);
  const ts = await whoami("ts", client, { secret: client.client_secret });
  assert.equal(ts.sub, client.client_id);
  assert.equal(ts.client_id, client.client_id);
  assert.deepEqual(ts.scopes, ["mcp", "notes"], "no scope asked: every scope registered to the client");

  t.diagnostic(`Python: ${PY_SDK}, ClientCredentialsOAuthProvider (examples/clients/machine_client.py)`);
  const py = await whoami("py", client, { secret: client.client_secret });
  assert.equal(py.sub, client.client_id);
  assert.equal(py.client_id, client.client_id);
  assert.ok(py.scopes.includes("mcp"), JSON.stringify(py.scopes));

  t.diagnostic(`initialize: ${TS_SDK}, ClientCredentialsProvider in process`);
  const mcp = new Client({ name: "machine-test", version: "1.0.0" });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: new ClientCredentialsProvider({
    clientId: client.client_id, clientSecret: client.client_secret, expectedIssuer: origin }) }));
  try {
    assert.deepEqual(mcp.getServerCapabilities().extensions?.[EXTENSION], {});
  } finally {
    await mcp.close();
  }

  const { body } = await tokenRequest({ grant_type: "client_credentials" }, basic(client.client_id, client.client_secret));
  const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" } };
  const discover = await fetch(resource, { method: "POST", headers: { authorization: `Bearer ${body.access_token}`,
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28",
    "mcp-method": "server/discover" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta } }) });
  assert.equal(discover.status, 200);
  assert.deepEqual((await discover.json()).result.capabilities.extensions?.[EXTENSION], {});
});

test("the token response: an RFC 9068 token for the machine, and no refresh token", async () => {
  const client = await createClient("token shape", "mcp");
  for (const [how, params, headers] of [
    ["client_secret_basic", {}, basic(client.client_id, client.client_secret)],
    ["client_secret_post", { client_id: client.client_id, client_secret: client.client_secret, resource }, {}],
  ]) {
    const res = await tokenRequest({ grant_type: "client_credentials", ...params }, headers);
    assert.equal(res.status, 200, `${how}: ${JSON.stringify(res.body)}`);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.body.token_type, "Bearer");
    assert.equal(typeof res.body.expires_in, "number");
    assert.equal(res.body.scope, "mcp");
    assert.ok(!("refresh_token" in res.body), `${how}: no refresh token (OAuth 2.1 §4.2.3): ${JSON.stringify(res.body)}`);
    const header = JSON.parse(Buffer.from(res.body.access_token.split(".")[0], "base64url").toString());
    assert.equal(header.typ, "at+jwt");
    const claims = claimsOf(res.body.access_token);
    assert.equal(claims.sub, client.client_id);
    assert.equal(claims.client_id, client.client_id);
    assert.equal(claims.iss, origin);
    assert.equal(claims.aud, resource);
  }
  const elsewhere = await tokenRequest({ grant_type: "client_credentials", resource: "https://other.example/mcp" },
    basic(client.client_id, client.client_secret));
  assert.equal(elsewhere.status, 400);
  assert.equal(elsewhere.body.error, "invalid_target");
});

test("a client with a stored key: TypeScript PrivateKeyJwtProvider (ES256, PEM), Python PrivateKeyJWTOAuthProvider " +
  "(RS256, JWK), both with Ed25519", async (t) => {
  const ec = ecKey("stored-ec");
  const ecClient = await createClient("ec key", "mcp", {
    publicKey: file("stored-ec.pub.pem", ec.publicKey.export({ type: "spki", format: "pem" })) });
  assert.equal(ecClient.credential, "keys");
  assert.equal(ecClient.client_secret, undefined);
  t.diagnostic(`TypeScript: ${TS_SDK}, PrivateKeyJwtProvider ES256 (examples/clients/machine_client.mjs)`);
  const ts = await whoami("ts", ecClient, { keyFile: ec.file });
  assert.equal(ts.sub, ecClient.client_id);

  const rsa = rsaKey("stored-rsa");
  const rsaClient = await createClient("rsa key", "mcp", {
    publicKey: file("stored-rsa.pub.jwk", JSON.stringify(rsa.publicKey.export({ format: "jwk" }))) });
  t.diagnostic(`Python: ${PY_SDK}, PrivateKeyJWTOAuthProvider with SignedJWTParameters RS256 (examples/clients/machine_client.py)`);
  const py = await whoami("py", rsaClient, { keyFile: rsa.file });
  assert.equal(py.sub, rsaClient.client_id);

  // Ed25519, as docs/runbook.md's openssl example makes it: EdDSA from both SDKs.
  const ed = keyPair("stored-ed25519", "ed25519");
  const edClient = await createClient("ed25519 key", "mcp", {
    publicKey: file("stored-ed25519.pub.pem", ed.publicKey.export({ type: "spki", format: "pem" })) });
  t.diagnostic(`TypeScript: ${TS_SDK}, PrivateKeyJwtProvider EdDSA; Python: ${PY_SDK}, PrivateKeyJWTOAuthProvider EdDSA`);
  assert.equal((await whoami("ts", edClient, { keyFile: ed.file })).sub, edClient.client_id);
  assert.equal((await whoami("py", edClient, { keyFile: ed.file })).sub, edClient.client_id);

  // Each key is its own client's only: the ES256 key does not authenticate the RSA client.
  const foreign = await withAssertion(await assertion(rsaClient, ec.privateKey, "ES256"));
  assert.equal(foreign.status, 401);
  assert.equal(foreign.body.error, "invalid_client");
});

test("a client whose keys are published at a jwks_uri (http on loopback): both SDKs", async (t) => {
  const key = ecKey("published");
  published.keys = [{ ...key.publicKey.export({ format: "jwk" }), kid: "published-1", alg: "ES256", use: "sig" }];
  const jwksUri = `http://127.0.0.1:${jwksServer.address().port}/jwks.json`;
  const client = await createClient("published keys", "mcp", { jwksUri });
  assert.equal(client.credential, "jwks_uri");
  const before = jwksFetches;
  t.diagnostic(`TypeScript: ${TS_SDK}, PrivateKeyJwtProvider ES256 against ${jwksUri}`);
  assert.equal((await whoami("ts", client, { keyFile: key.file })).sub, client.client_id);
  t.diagnostic(`Python: ${PY_SDK}, PrivateKeyJWTOAuthProvider ES256 against ${jwksUri}`);
  assert.equal((await whoami("py", client, { keyFile: key.file })).sub, client.client_id);
  assert.ok(jwksFetches > before, "the worker read the client's keys from its jwks_uri");

  // The URL is the truth: once the key is gone from it, its assertions are refused.
  published.keys = [];
  const gone = await withAssertion(await assertion(client, key.privateKey, "ES256"));
  assert.equal(gone.status, 401);
  assert.equal(gone.body.error, "invalid_client");
});

test("the TypeScript SDK 2.x: ClientCredentialsProvider and PrivateKeyJwtProvider (ES256), each bound to mKit's issuer " +
  "(SEP-2352), and refused by one that expects another", async (t) => {
  t.diagnostic(`TypeScript: ${TS_SDK2}, ClientCredentialsProvider and PrivateKeyJwtProvider in process`);
  const withSecret = await createClient("v2 secret", "mcp");
  // ES256: 2.4.0 signs a PEM key with RS*, PS*, ES* or HS* only (EdDSA is tested on 1.x and Python above).
  const ec = ecKey("v2-ec");
  const withKey = await createClient("v2 key", "mcp", {
    publicKey: file("v2-ec.pub.pem", ec.publicKey.export({ type: "spki", format: "pem" })) });
  const connect = async (authProvider) => {
    const mcp = new sdk2.Client({ name: "machine-test", version: "2.0.0" });
    await mcp.connect(new sdk2.StreamableHTTPClientTransport(new URL(resource), { authProvider }));
    try {
      return (await mcp.callTool({ name: "whoami", arguments: {} })).structuredContent;
    } finally {
      await mcp.close();
    }
  };
  const secret = (expectedIssuer) => new sdk2.ClientCredentialsProvider({ clientId: withSecret.client_id,
    clientSecret: withSecret.client_secret, expectedIssuer });
  assert.equal((await connect(secret(origin))).sub, withSecret.client_id);
  const key = new sdk2.PrivateKeyJwtProvider({ clientId: withKey.client_id, algorithm: "ES256", expectedIssuer: origin,
    privateKey: ec.privateKey.export({ type: "pkcs8", format: "pem" }) });
  assert.equal((await connect(key)).sub, withKey.client_id);
  // Credentials registered at another authorization server are never presented to this one.
  await assert.rejects(connect(secret("https://elsewhere.example")), (e) => {
    assert.ok(sdk2.AuthorizationServerMismatchError.isInstance(e), `${e.name}: ${e.message}`);
    return true;
  });
});

test("a revoked client is refused at the token endpoint, and neither SDK connects", async (t) => {
  const client = await createClient("to revoke", "mcp");
  const creds = basic(client.client_id, client.client_secret);
  const issued = await tokenRequest({ grant_type: "client_credentials" }, creds);
  assert.equal(issued.status, 200);
  const whoami = () => fetch(resource, { method: "POST", headers: { authorization: `Bearer ${issued.body.access_token}`,
    "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }) });
  assert.equal((await whoami()).status, 200, "its token works before the revocation");
  const revoked = await clients("revoke", "--client", client.client_id);
  assert.equal(typeof revoked.revoked_at, "number");
  // The token it already holds is refused at once, not when it expires in 15 minutes.
  const refused = await whoami();
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get("www-authenticate") ?? "", /invalid_token.*has been revoked/);

  const res = await tokenRequest({ grant_type: "client_credentials" }, creds);
  assert.equal(res.status, 401);
  assert.equal(res.body.error, "invalid_client");
  assert.match(res.body.error_description, /revoked/);

  t.diagnostic(`TypeScript: ${TS_SDK}, ClientCredentialsProvider`);
  const ts = await runExample("ts", client, { secret: client.client_secret });
  assert.notEqual(ts.code, 0, ts.stdout);
  assert.match(ts.stderr, /InvalidClientError: this client has been revoked/);
  t.diagnostic(`Python: ${PY_SDK}, ClientCredentialsOAuthProvider`);
  const py = await runExample("py", client, { secret: client.client_secret });
  assert.notEqual(py.code, 0, py.stdout);
  assert.match(py.stderr, /OAuthTokenError: Token exchange failed \(401\).*invalid_client.*revoked/);
});

test("an assertion is single-use: the same one twice is refused the second time", async () => {
  const key = ecKey("replay");
  const client = await createClient("replay", "mcp", {
    publicKey: file("replay.pub.pem", key.publicKey.export({ type: "spki", format: "pem" })) });
  const jwt = await assertion(client, key.privateKey, "ES256");
  const first = await withAssertion(jwt);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(claimsOf(first.body.access_token).sub, client.client_id);
  const second = await withAssertion(jwt);
  assert.equal(second.status, 401);
  assert.equal(second.body.error, "invalid_client");
  assert.match(second.body.error_description, /jti/);
  // A fresh assertion from the same key is fine.
  assert.equal((await withAssertion(await assertion(client, key.privateKey, "ES256"))).status, 200);
});

test("an assertion's aud, exp and jti: this server only, at most 5 minutes, a jti required", async () => {
  const key = rsaKey("claims");
  const client = await createClient("claims", "mcp", {
    publicKey: file("claims.pub.pem", key.publicKey.export({ type: "spki", format: "pem" })) });
  const sign = (claims) => assertion(client, key.privateKey, "RS256", claims);
  // The issuer identifier (what the SDKs send) and the token endpoint (RFC 7523) both name mKit.
  assert.equal((await withAssertion(await sign({}))).status, 200);
  assert.equal((await withAssertion(await sign({ aud: `${origin}/oauth/token` }))).status, 200);
  const now = Math.floor(Date.now() / 1000);
  for (const [why, claims, pattern] of [
    ["aud is another server", { aud: "https://other.example" }, /aud/],
    ["aud is the MCP server, not the authorization server", { aud: resource }, /aud/],
    ["exp an hour away", { exp: now + 3600 }, /5 minutes/],
    ["expired", { iat: now - 600, exp: now - 120 }, /expired/],
    ["no jti", { jti: undefined }, /jti/],
    ["iss is not the client", { iss: "someone-else" }, /iss/],
  ]) {
    const res = await withAssertion(await sign(claims));
    assert.equal(res.status, 401, `${why}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, "invalid_client", why);
    assert.match(res.body.error_description, pattern, why);
  }
});

test("a wrong secret is refused with invalid_client", async () => {
  const client = await createClient("wrong secret", "mcp");
  const viaBasic = await tokenRequest({ grant_type: "client_credentials" }, basic(client.client_id, "not-the-secret"));
  assert.equal(viaBasic.status, 401);
  assert.equal(viaBasic.body.error, "invalid_client");
  const viaPost = await tokenRequest({ grant_type: "client_credentials", client_id: client.client_id,
    client_secret: `${client.client_secret}x` });
  assert.equal(viaPost.status, 401);
  assert.equal(viaPost.body.error, "invalid_client");
  // An assertion for a client that has a secret is refused too: it authenticates one way only.
  const key = ecKey("not-its-key");
  const res = await withAssertion(await assertion(client, key.privateKey, "ES256"));
  assert.equal(res.status, 401);
  assert.equal(res.body.error, "invalid_client");
});

test("a 401 to Authorization: Basic names the scheme in WWW-Authenticate (RFC 6749 §5.2, OAuth 2.1 §3.2.4)", async () => {
  const client = await createClient("www-authenticate", "mcp");
  const res = await tokenRequest({ grant_type: "client_credentials" }, basic(client.client_id, "not-the-secret"));
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Basic\b/i,
    "a client that authenticated with the Authorization header gets WWW-Authenticate with its scheme");
});

test("scopes: a request is narrowed to the client's registration (RFC 6749 §3.3); none registered is invalid_scope", async () => {
  const client = await createClient("narrow", "mcp");
  const creds = basic(client.client_id, client.client_secret);
  const narrowed = await tokenRequest({ grant_type: "client_credentials", scope: "mcp admin" }, creds);
  assert.equal(narrowed.status, 200, "the registered part is granted");
  assert.equal(narrowed.body.scope, "mcp", "the response names what was granted");
  const none = await tokenRequest({ grant_type: "client_credentials", scope: "admin" }, creds);
  assert.equal(none.status, 400);
  assert.equal(none.body.error, "invalid_scope");
  assert.match(none.body.error_description, /admin/);
  const all = await tokenRequest({ grant_type: "client_credentials" }, creds);
  assert.equal(all.body.scope, "mcp", "no scope asked: every registered one");
});

test("in resource-server mode: the examples get their token from the provider's own client credentials flow", async (t) => {
  // oidc-provider as the authorization server, its confidential client mkit-test as the machine;
  // mKit only checks the tokens, with the settings every token passes (OAUTH_ISSUER, aud).
  const rs = await startStack({ name: "machine-clients-rs", vars: { OAUTH_REQUIRED_SCOPES: "mcp" } });
  try {
    const machine = { client_id: CLIENT_ID };
    const env = { MKIT_ISSUER: rs.issuer.url, MKIT_SCOPE: "mcp" };
    t.diagnostic(`TypeScript: ${TS_SDK}, ClientCredentialsProvider against ${rs.issuer.url}`);
    const ts = await whoami("ts", machine, { secret: CLIENT_SECRET, url: rs.resource, env });
    t.diagnostic(`Python: ${PY_SDK}, ClientCredentialsOAuthProvider against ${rs.issuer.url}`);
    const py = await whoami("py", machine, { secret: CLIENT_SECRET, url: rs.resource, env });
    for (const me of [ts, py]) {
      assert.equal(me.client_id, CLIENT_ID);
      assert.ok(me.scopes.includes("mcp"), JSON.stringify(me.scopes));
    }
    t.diagnostic(`the provider's sub for its machine: ${JSON.stringify(ts.sub)}`);
  } finally {
    await rs.stop();
  }
});
