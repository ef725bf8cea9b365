// `make idp-check`: against local oidc-provider issuers (JWT and opaque tokens, registration on and
// off) and against every provider fixture, whose settings it must propose exactly.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";
import { startIssuer } from "./issuer.mjs";
import { assess } from "../../scripts/idp-check.mjs";

const RESOURCE = "https://mcp.example.com/mcp";
let open;
let closed;
let opaque;
before(async () => {
  [open, closed, opaque] = await Promise.all([
    startIssuer({ resource: RESOURCE, registration: true }),
    startIssuer({ resource: RESOURCE }),
    startIssuer({ resource: RESOURCE, opaque: true, registration: true }),
  ]);
});
after(async () => Promise.all([open, closed, opaque].map((i) => i?.stop())));

const idpCheck = (args) => new Promise((ok) => execFile("make", ["-s", "idp-check", ...args], { cwd: ROOT },
  (e, stdout, stderr) => ok({ code: e?.code ?? 0, out: stdout + stderr })));

test("every provider fixture's token gets exactly the fixture's settings proposed", () => {
  const dir = join(ROOT, "tests/fixtures/providers");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  assert.ok(files.length >= 12);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  for (const file of files) {
    const f = JSON.parse(readFileSync(join(dir, file), "utf8"));
    const doc = { issuer: f.settings.OAUTH_ISSUER, code_challenge_methods_supported: ["S256"], registration_endpoint: "r", jwks_uri: "j" };
    const token = `${b64(f.header)}.${b64(f.claims)}.c2ln`;
    const { settings, authServer } = assess({ issuer: f.settings.OAUTH_ISSUER, doc, token, resource: RESOURCE });
    const { OAUTH_CLAIMS: _claims, ...want } = f.settings; // which claims tools read is the operator's choice
    assert.deepEqual(settings, want, file);
    assert.equal(authServer, false, file);
    const id = assess({ issuer: f.settings.OAUTH_ISSUER, doc, token: `${b64(f.id_token.header)}.${b64(f.id_token.claims)}.c2ln`, resource: RESOURCE });
    assert.equal(id.checks.find((c) => c.name === "token kind").ok, false, `${file}: its ID token is named as one`);
  }
});

test("a provider with DCR, PKCE and JWT access tokens: the settings, nothing missing", async () => {
  const token = await open.clientCredentialsToken({ forResource: RESOURCE });
  const r = await idpCheck([`ISSUER=${open.url}`, `TOKEN=${token}`, `RESOURCE=${RESOURCE}`]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^metadata: .*\/.well-known\/oauth-authorization-server$/m);
  for (const name of ["issuer", "pkce", "client registration", "jwks", "token kind", "token iss", "token aud"]) {
    assert.match(r.out, new RegExp(`^ok   ${name} `, "m"), name);
  }
  assert.match(r.out, /token aud\s+names https:\/\/mcp\.example\.com\/mcp \(RFC 8707\)/);
  assert.match(r.out, new RegExp(`^  OAUTH_ISSUER=${open.url}$`, "m"));
  assert.doesNotMatch(r.out, /OAUTH_ACCEPT_JWT_TYP|OAUTH_AUDIENCE|MKIT_AUTH_SERVER/, "RFC 9068 tokens need nothing else");
});

test("without client registration it says to turn on mKit's authorization server", async () => {
  const r = await idpCheck([`ISSUER=${closed.url}`]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^MISS client registration\s+no registration_endpoint; no Client ID Metadata Documents/m);
  assert.match(r.out, /MKIT_AUTH_SERVER=on/);
  assert.match(r.out, /give TOKEN=/);
});

test("opaque tokens point at introspection; an ID token is named as one", async () => {
  const token = await opaque.clientCredentialsToken({ forResource: RESOURCE });
  const r = await idpCheck([`ISSUER=${opaque.url}`, `TOKEN=${token}`]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^ok   token\s+opaque: checked by introspection/m);
  assert.match(r.out, new RegExp(`^  OAUTH_INTROSPECTION_URL=${opaque.url}token/introspection$`, "m"));
  const { id_token: idToken } = await open.userTokens({ user: "ida", scope: "openid mcp", forResource: RESOURCE });
  const id = await idpCheck([`ISSUER=${open.url}`, `TOKEN=${idToken}`, `RESOURCE=${RESOURCE}`]);
  assert.match(id.out, /^MISS token kind\s+this is an ID token \(or looks like one/m);
});

test("bad usage is refused (2); an issuer without metadata fails (1)", async () => {
  const script = (args) => new Promise((ok) => execFile(process.execPath, ["scripts/idp-check.mjs", ...args], { cwd: ROOT },
    (e, stdout, stderr) => ok({ code: e?.code ?? 0, out: stdout + stderr })));
  for (const args of [[], ["--issuer", "ftp://x.example"], ["--issuer", "not a url"], ["--issuer"]]) {
    const r = await script(args);
    assert.equal(r.code, 2, `${args}: ${r.out}`);
    assert.match(r.out, /^refused: /m);
  }
  assert.match((await idpCheck([])).out, /refused: usage: make idp-check ISSUER=/, "through make too");
  const r = await script(["--issuer", "http://127.0.0.1:9/nothing"]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /failed: no metadata document: .*oauth-authorization-server/);
});
