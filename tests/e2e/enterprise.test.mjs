// Enterprise-Managed Authorization (#31), end to end on workerd: the MCP extension
// io.modelcontextprotocol/enterprise-managed-authorization (SEP-990; spec: ext-auth
// specification/draft/enterprise-managed-authorization.mdx, cited as §n below). mKit is the
// authorization server (MKIT_AUTH_SERVER=on) and trusts the enterprise identity providers listed in
// MKIT_ENTERPRISE_IDPS. The IdPs are oidc-provider (tests/e2e/issuer.mjs with `idJag`): leg 1,
// RFC 8693 token exchange of an employee's ID token for an ID-JAG (§4). Leg 2, the RFC 7523
// jwt-bearer grant at mKit's token endpoint (§5), is driven by the official Python SDK's
// IdentityAssertionOAuthProvider (examples/clients/enterprise_client.py), by the TypeScript SDK 2.x's
// CrossAppAccessProvider (both legs by the SDK), and, since the TypeScript SDK 1.x has no ID-JAG
// provider, by a client written here from §5, whose token 1.x's Client then uses. Then the refusals, each naming the MUST it checks, at the real token endpoint.
//
// Three IdPs: "signin" is also OAUTH_ISSUER (its people keep their own sub at mKit), "acme" is an
// enterprise IdP that is not (its people are "<issuer>#<sub>"), "rogue" is one nobody listed. A
// second worker has no MKIT_ENTERPRISE_IDPS.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { SignJWT, generateKeyPair } from "jose";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import * as sdk2 from "@modelcontextprotocol/client";
import { ROOT, EXAMPLES_BUILD, startWorker, defaultVars, freePort } from "./harness.mjs";
import { startIssuer, peek, CLIENT_ID, CLIENT_SECRET, ID_JAG_TYPE, ID_JAG_TTL } from "./issuer.mjs";

const run = promisify(execFile);
const EXTENSION = "io.modelcontextprotocol/enterprise-managed-authorization";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ID_JAG_PROFILE = "urn:ietf:params:oauth:grant-profile:id-jag";
const PYTHONPATH = join(ROOT, ".tools/python");
const version = (pkg) => JSON.parse(readFileSync(join(ROOT, `node_modules/${pkg}/package.json`), "utf8")).version;
const TS_SDK = `@modelcontextprotocol/sdk ${version("@modelcontextprotocol/sdk")}`;
const TS_SDK2 = `@modelcontextprotocol/client ${version("@modelcontextprotocol/client")}`;
let PY_SDK;

let worker;
let plain;
let origin;
let resource;
let signin;
let acme;
let rogue;
/** The machine clients at mKit: `assistant` is the enterprise MCP client, `other` another one. */
let assistant;
let other;
/** Each IdP's mapping of its MCP client (CLIENT_ID) to that client's id at mKit (§6.1), filled once made. */
const clientMap = {};

before(async () => {
  const { stdout } = await run("python3", ["-c", "from importlib.metadata import version; print(version('mcp'))"],
    { env: { ...process.env, PYTHONPATH } });
  PY_SDK = `mcp ${stdout.trim()} (Python)`;
  const [port, plainPort] = [await freePort(), await freePort()];
  origin = `http://127.0.0.1:${port}`;
  resource = `${origin}/mcp`;
  // The IT administrator's configuration at each IdP for this MCP server: audience = mKit's issuer
  // (the origin of MCP_RESOURCE), resource = the /mcp URL, the client mapping; acme's policy lets
  // the client have mcp and admin there, not notes.
  const policy = { audience: origin, resource, clientMap };
  [signin, acme, rogue] = await Promise.all([
    startIssuer({ resource, idJag: policy }),
    startIssuer({ resource, idJag: { ...policy, scope: "mcp admin" } }),
    startIssuer({ resource, idJag: policy }),
  ]);
  const vars = { ...defaultVars(), OAUTH_ISSUER: signin.url, MKIT_WEB_CLIENT_ID: CLIENT_ID,
    MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET, MKIT_AUTH_SERVER: "on", OAUTH_REQUIRED_SCOPES: "mcp",
    // Everyone may have mcp and notes, admin only the IdP's mcp-admins group (on the grant's claims).
    MKIT_AUTH_OPEN_SCOPES: "mcp,notes", MKIT_AUTH_SCOPE_RULES: "admin=groups=mcp-admins", MKIT_AUTH_CLAIMS: "email" };
  [worker, plain] = await Promise.all([
    // The issuer identifiers exactly as the IdPs put them in iss (oidc-provider's end in "/").
    startWorker({ name: "enterprise", script: EXAMPLES_BUILD, port, vars: { ...vars, MCP_RESOURCE: resource,
      MKIT_ENTERPRISE_IDPS: `${acme.url},${signin.url}` } }),
    startWorker({ name: "enterprise-off", script: EXAMPLES_BUILD, port: plainPort,
      vars: { ...vars, MCP_RESOURCE: `http://127.0.0.1:${plainPort}/mcp` } }),
  ]);
  assistant = await createClient("acme assistant", "mcp notes admin");
  other = await createClient("another client", "mcp notes admin");
  clientMap[CLIENT_ID] = assistant.client_id;
});
after(async () => {
  await Promise.all([worker?.stop(), plain?.stop(), signin?.stop(), acme?.stop(), rogue?.stop()]);
});

/** `make client-create NAME=… SCOPES=…` (scripts/clients.mjs) against the worker's local D1: { client_id, client_secret }. */
async function createClient(name, scopes) {
  const { stdout } = await run(process.execPath, [join(ROOT, "scripts/clients.mjs"), "create", "--name", name,
    "--scopes", scopes, "--json"], { cwd: ROOT, env: { ...process.env, MKIT_CLIENTS_D1_PERSIST: worker.persist } });
  const client = JSON.parse(stdout);
  assert.match(client.client_id, /^mkit_m_/);
  assert.ok(client.client_secret, "a client with a secret");
  return client;
}

const basic = (id, secret) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)
  .toString("base64")}` });

/**
 * Leg 2 as the extension's §5 words it: POST the token endpoint with grant_type jwt-bearer and the
 * ID-JAG as assertion, the client authenticated "with its credentials as registered" (here
 * client_secret_basic; `headers` replaces that). Resolves with { status, headers, body }.
 */
async function redeem(idJag, { client = assistant, headers = basic(client.client_id, client.client_secret), at = origin,
  extra = {} } = {}) {
  const res = await fetch(`${at}/oauth/token`, { method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: idJag, ...extra }) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** An employee's ID token from single sign-on at `idp` (§3), issued to the MCP client there (CLIENT_ID). */
async function idToken(idp, user) {
  return (await idp.userTokens({ user, scope: "openid email" })).id_token;
}

/** Leg 1 (§4) at `idp`: an ID-JAG for this server; fails the test unless the IdP issues one. */
async function idJag(idp, user, { scope } = {}) {
  const { status, body } = await idp.exchange({ idToken: await idToken(idp, user), audience: origin, resource, scope });
  assert.equal(status, 200, `the IdP's token exchange: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The claims of a well-formed ID-JAG from `idp` for `user` (§4.3), `over` replacing or (undefined) removing some. */
function claims(idp, user, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const c = { iss: idp.url, sub: user, aud: origin, resource, client_id: assistant.client_id, jti: randomUUID(), iat: now,
    exp: now + ID_JAG_TTL, scope: "mcp", ...over };
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

/** Asserts a refusal: the status, the RFC 6749 §5.2 error code, and the description matching `why`. */
function refused(res, status, error, why, must) {
  assert.equal(res.status, status, `${must}: expected ${status} ${error}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error, error, `${must}: ${JSON.stringify(res.body)}`);
  if (why) assert.match(res.body.error_description ?? "", why, `${must}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.access_token, undefined, `${must}: no token`);
}

/** The TypeScript SDK's Client on /mcp with a bearer token got outside it; `use(client)`, then closed. */
async function withMcpClient(token, use) {
  const client = new Client({ name: "enterprise-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(resource),
    { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

test("discovery: the metadata lists the jwt-bearer grant and the ID-JAG grant profile; without MKIT_ENTERPRISE_IDPS " +
  "neither, and the grant is unsupported", async () => {
  const meta = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json();
  assert.equal(meta.issuer, origin, "mKit's issuer identifier, the ID-JAG's aud (§4.3), is the origin of MCP_RESOURCE");
  assert.ok(meta.grant_types_supported?.includes(JWT_BEARER), JSON.stringify(meta.grant_types_supported));
  assert.deepEqual(meta.authorization_grant_profiles_supported, [ID_JAG_PROFILE]);

  const off = await (await fetch(`${plain.url}/.well-known/oauth-authorization-server`)).json();
  assert.ok(off.grant_types_supported?.length, JSON.stringify(off));
  assert.ok(!off.grant_types_supported.includes(JWT_BEARER), JSON.stringify(off.grant_types_supported));
  assert.equal(off.authorization_grant_profiles_supported, undefined);
  const jag = await signin.signIdJag(claims(signin, "alice", { aud: plain.url, resource: `${plain.url}/mcp` }));
  refused(await redeem(jag, { at: plain.url }), 400, "unsupported_grant_type", /enterprise identity provider/,
    "RFC 6749 §5.2: a grant the server does not support");
});

test("the test IdP follows the extension's §4 and §4.1 (leg 1)", async () => {
  const token = await idToken(acme, "alice");
  const ok = await acme.exchange({ idToken: token, scope: "mcp notes admin" });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.issued_token_type, ID_JAG_TYPE, "§4.2");
  assert.equal(ok.body.token_type, "N_A", "§4.2");
  assert.equal(ok.body.expires_in, ID_JAG_TTL);
  assert.equal(ok.body.scope, "mcp admin", "§4.2: fewer scopes than requested, so scope is sent; the IdP's policy dropped notes");
  const { header, payload } = peek(ok.body.access_token);
  assert.equal(header.typ, "oauth-id-jag+jwt", "§4.3");
  assert.equal(payload.iss, acme.url);
  assert.equal(payload.sub, "alice");
  assert.equal(payload.aud, origin);
  assert.equal(payload.resource, resource);
  assert.equal(payload.client_id, assistant.client_id, "§6.1: the mapped client_id at mKit, not the IdP's own");
  assert.equal(payload.exp - payload.iat, ID_JAG_TTL);
  assert.ok(payload.jti);

  const cases = [
    [{ requestedTokenType: "urn:ietf:params:oauth:token-type:access_token" }, "invalid_request", /requested_token_type/],
    [{ subjectTokenType: "urn:ietf:params:oauth:token-type:saml2" }, "invalid_request", /subject_token_type/],
    [{ audience: "" }, "invalid_request", /audience/],
    [{ resource: "" }, "invalid_request", /resource/],
    [{ audience: "https://other-server.example" }, "invalid_target", /policy/],
  ];
  for (const [over, error, why] of cases) {
    refused(await acme.exchange({ idToken: token, ...over }), 400, error, why, `§4 ${JSON.stringify(over)}`);
  }
  const access = (await acme.userTokens({ user: "alice", scope: "openid" })).access_token;
  refused(await acme.exchange({ idToken: access }), 400, "invalid_grant", /ID token/,
    "§4.1: the IdP MUST validate the subject token (an access token is not an ID token issued to this client)");
  refused(await acme.exchange({ idToken: await idToken(signin, "alice") }), 400, "invalid_grant", /ID token/,
    "§4.1: the IdP MUST validate the subject token (another IdP's)");
});

test("Python SDK: IdentityAssertionOAuthProvider with an ID-JAG from acme (examples/clients/enterprise_client.py)",
  async (t) => {
  t.diagnostic(`Python: ${PY_SDK}, IdentityAssertionOAuthProvider; leg 1 in the example's assertion_provider`);
  const env = { ...process.env, PYTHONPATH, IDP_ISSUER: acme.url, IDP_CLIENT_ID: CLIENT_ID, IDP_CLIENT_SECRET: CLIENT_SECRET,
    IDP_ID_TOKEN: await idToken(acme, "admin-ann"), MKIT_CLIENT_ID: assistant.client_id,
    MKIT_CLIENT_SECRET: assistant.client_secret };
  delete env.MKIT_ISSUER;
  delete env.MKIT_SCOPE;
  let stdout;
  try {
    ({ stdout } = await run("python3", [join(ROOT, "examples/clients/enterprise_client.py"), resource],
      { cwd: ROOT, env, timeout: 60_000 }));
  } catch (e) {
    assert.fail(`the example exited ${e.code}:\n${e.stdout}\n${e.stderr}`);
  }
  const me = JSON.parse(stdout.trim().split("\n").at(-1));
  assert.equal(me.sub, `${acme.url}#admin-ann`, "an IdP other than OAUTH_ISSUER: its people are <issuer>#<sub>");
  assert.equal(me.client_id, assistant.client_id);
  assert.deepEqual([...me.scopes].sort(), ["admin", "mcp"],
    "open mcp and notes, admin by the rule on the grant's groups; acme's policy dropped notes");
  assert.deepEqual(me.claims, { email: "admin-ann@example.test" }, "MKIT_AUTH_CLAIMS carried from the ID-JAG");
});

test("TypeScript SDK: leg 2 written from §5, then the SDK's Client with mKit's token; initialize announces the " +
  "extension", async (t) => {
  t.diagnostic(`TypeScript: ${TS_SDK} (no ID-JAG provider: leg 2 by hand, then Client with the bearer token)`);
  const jag = await idJag(signin, "alice", { scope: "mcp notes admin" });
  const res = await redeem(jag);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  // §5.2: an OAuth 2.0 token response (RFC 6749 §5.1).
  assert.equal(res.body.token_type, "Bearer", "§5.2 / RFC 6749 §5.1: token_type");
  assert.ok(res.body.access_token, "§5.2: access_token");
  assert.match(res.headers.get("cache-control") ?? "", /no-store/, "RFC 6749 §5.1: Cache-Control: no-store");
  assert.equal(res.body.scope, "mcp notes", "admin dropped: alice is not in mcp-admins (MKIT_AUTH_SCOPE_RULES)");
  assert.equal(res.body.refresh_token, undefined, "a new ID-JAG, not a refresh token, gets the next token");
  const issued = peek(res.body.access_token).payload;
  assert.equal(issued.aud, resource, "the access token is audience-restricted to the ID-JAG's resource");
  assert.equal(issued.iss, origin);

  await withMcpClient(res.body.access_token, async (client) => {
    assert.deepEqual(client.getServerCapabilities()?.extensions?.[EXTENSION], {},
      `initialize announces ${EXTENSION}: ${JSON.stringify(client.getServerCapabilities())}`);
    const me = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent;
    assert.equal(me.sub, "alice", "the IdP is OAUTH_ISSUER: the person's own sub, as when they sign in");
    assert.equal(me.client_id, assistant.client_id);
    assert.deepEqual(me.scopes, ["mcp", "notes"]);
    assert.deepEqual(me.claims, { email: "alice@example.test" });
  });

  // The scope asked for at mKit narrows further (nothing widens).
  const narrowed = await redeem(await idJag(signin, "alice"), { extra: { scope: "notes" } });
  assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
  assert.equal(narrowed.body.scope, "notes");
});

test("TypeScript SDK 2.x: CrossAppAccessProvider, leg 1 by the SDK's discoverAndRequestJwtAuthGrant at acme, leg 2 " +
  "by the provider from the 401", async (t) => {
  t.diagnostic(`TypeScript: ${TS_SDK2}, CrossAppAccessProvider with discoverAndRequestJwtAuthGrant`);
  const employee = await idToken(acme, "admin-bo");
  const asked = [];
  const provider = new sdk2.CrossAppAccessProvider({
    assertion: async (ctx) => {
      asked.push(ctx);
      const grant = await sdk2.discoverAndRequestJwtAuthGrant({ idpUrl: acme.url, audience: ctx.authorizationServerUrl,
        resource: ctx.resourceUrl, idToken: employee, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scope: ctx.scope,
        fetchFn: ctx.fetchFn });
      return grant.jwtAuthGrant;
    },
    clientId: assistant.client_id, clientSecret: assistant.client_secret, clientName: "acme assistant", expectedIssuer: origin,
  });
  const client = new sdk2.Client({ name: "enterprise-test", version: "2.0.0" });
  await client.connect(new sdk2.StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }));
  try {
    assert.equal(asked.length, 1, "one ID-JAG for the connection");
    assert.equal(new URL(asked[0].authorizationServerUrl).origin, origin, "from the 401's protected resource metadata");
    assert.equal(asked[0].resourceUrl, resource);
    const me = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent;
    assert.equal(me.sub, `${acme.url}#admin-bo`, "an IdP other than OAUTH_ISSUER: <issuer>#<sub>");
    assert.equal(me.client_id, assistant.client_id);
    assert.ok(me.scopes.includes("mcp"), JSON.stringify(me.scopes));
    assert.ok(!me.scopes.includes("notes"), "acme's policy drops notes, and nothing at mKit widens it back");
  } finally {
    await client.close();
  }
});

test("refusals at mKit's token endpoint, each a MUST of the extension §5.1 or RFC 7521 §5.2", async (t) => {
  // The control: a grant signed by hand with signin's key, as the refusals below are, is accepted.
  const control = await redeem(await signin.signIdJag(claims(signin, "carol")));
  assert.equal(control.status, 200, `control: a well-formed ID-JAG signed by a listed IdP: ${JSON.stringify(control.body)}`);

  // §5.1: "Validate the JWT typ is oauth-id-jag+jwt (per RFC 8725)".
  refused(await redeem(await signin.signIdJag(claims(signin, "carol"), { typ: "JWT" })), 400, "invalid_grant", null,
    "§5.1: typ MUST be oauth-id-jag+jwt (a plain JWT)");
  refused(await redeem(await signin.signIdJag(claims(signin, "carol"), {})), 400, "invalid_grant", null,
    "§5.1: typ MUST be oauth-id-jag+jwt (no typ)");
  // The refusal names the type an ID-JAG must have (it once named the access token's, at+jwt).
  const wrongType = await redeem(await signin.signIdJag(claims(signin, "carol"), { typ: "JWT" }));
  assert.match(wrongType.body.error_description ?? "", /oauth-id-jag\+jwt/, JSON.stringify(wrongType.body));
  // §5.1: aud MUST identify the Issuer URL of the MCP server's authorization server (RFC 7521 §5.2:
  // the AS MUST reject an assertion without its own identity as the audience).
  refused(await redeem(await signin.signIdJag(claims(signin, "carol", { aud: "https://other-server.example" }))), 400,
    "invalid_grant", /aud/, "§5.1 / RFC 7521 §5.2: aud MUST be mKit's issuer (another server's)");
  refused(await redeem(await signin.signIdJag(claims(signin, "carol", { aud: resource }))), 400,
    "invalid_grant", /aud/, "§5.1: aud MUST be the authorization server's issuer, not the MCP resource");
  // §4.3: resource is REQUIRED, the MCP server's resource identifier.
  refused(await redeem(await signin.signIdJag(claims(signin, "carol", { resource: "https://other-server.example/mcp" }))),
    400, "invalid_grant", /resource/, "§4.3: resource MUST be this MCP server");
  // §5.1: client_id MUST identify the same client as the client authentication.
  refused(await redeem(await idJag(signin, "carol"), { client: other }), 400, "invalid_grant", /client_id/,
    "§5.1: client_id MUST be the authenticated client (the ID-JAG names another)");
  // RFC 7521 §5.2: the AS MUST reject expired assertions; RFC 7521 §4.1.1: invalid_grant.
  const past = Math.floor(Date.now() / 1000) - 3600;
  refused(await redeem(await signin.signIdJag(claims(signin, "carol", { iat: past - 300, exp: past }))), 400,
    "invalid_grant", /expired/, "RFC 7521 §5.2: an expired assertion MUST be rejected");
  // §4.3 / RFC 7521 §5.2: iss, sub, exp REQUIRED.
  for (const missing of ["sub", "exp", "jti"]) {
    refused(await redeem(await signin.signIdJag(claims(signin, "carol", { [missing]: undefined }))), 400, "invalid_grant",
      null, `§4.3: ${missing} is REQUIRED`);
  }
  // RFC 7521 §5.2: the AS MUST reject an assertion with an invalid signature: one signed by a key
  // that is not the listed IdP's, though it names that IdP as its issuer.
  const { privateKey } = await generateKeyPair("RS256");
  const forged = await new SignJWT(claims(signin, "carol")).setProtectedHeader({ alg: "RS256", typ: "oauth-id-jag+jwt",
    kid: peek(await signin.signIdJag({})).header.kid }).sign(privateKey);
  refused(await redeem(forged), 400, "invalid_grant", null, "RFC 7521 §5.2: an invalid signature MUST be rejected");
  // An IdP the operator did not list (MKIT_ENTERPRISE_IDPS), with an otherwise sound ID-JAG from its own token exchange.
  refused(await redeem(await idJag(rogue, "carol")), 400, "invalid_grant",
    new RegExp(`${rogue.url.replace(/[.]/g, "\\.")} is not an identity provider this server trusts`),
    "RFC 7521 §5.2: the issuer must be one the AS trusts (MKIT_ENTERPRISE_IDPS)");

  // Replay: §4.3 makes jti REQUIRED; RFC 7523 §3 lets the AS keep used jti values, and mKit spends each once.
  const once = await idJag(acme, "carol");
  assert.equal((await redeem(once)).status, 200, "first use");
  refused(await redeem(once), 400, "invalid_grant", /jti/, "RFC 7523 §3: a replayed ID-JAG (its jti) is refused");
});

test("refusals of the client: a confidential client, registered at mKit, MUST authenticate (§5, §6.1)", async () => {
  const jag = () => idJag(signin, "dave");
  // No client authentication at all, only client_id.
  refused(await redeem(await jag(), { headers: {}, extra: { client_id: assistant.client_id } }), 401, "invalid_client", null,
    "§5: the client authenticates with its credentials as registered (none sent)");
  const wrong = await redeem(await jag(), { headers: basic(assistant.client_id, "not-the-secret") });
  refused(wrong, 401, "invalid_client", null, "§5: the client authenticates with its credentials as registered (a wrong secret)");
  assert.match(wrong.headers.get("www-authenticate") ?? "", /^Basic/i,
    "RFC 6749 §5.2: a client that tried the Authorization header MUST get 401 with WWW-Authenticate");
  // A public client (Dynamic Client Registration, token_endpoint_auth_method none) named in the ID-JAG.
  const reg = await fetch(`${origin}/oauth/register`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "public", redirect_uris: ["http://127.0.0.1:9/callback"],
      token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"], application_type: "native" }) });
  const pub = await reg.json();
  assert.equal(reg.status, 201, JSON.stringify(pub));
  const forPublic = await signin.signIdJag(claims(signin, "dave", { client_id: pub.client_id }));
  refused(await redeem(forPublic, { headers: {}, extra: { client_id: pub.client_id } }), 401, "invalid_client", null,
    "§5: a public client cannot authenticate, so it gets no token for an ID-JAG");
});
