// `make client-create|client-list|client-rotate|client-revoke` (scripts/clients.mjs, #31): machine
// clients written into a local D1 migrated with the kit's migrations (as `make dev` and the harness
// migrate theirs), then read back with `wrangler d1 execute`. No worker runs: the rows are what
// crates/mkit-oauth/src/machine_store.rs reads. Also the refusals (nothing written), the hex
// literals (no value ever reaches the SQL as text) and the DRY_RUN plans.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT, d1, filledConfig } from "./harness.mjs";
import { noLogin } from "./fake-cloudflare.mjs";
import { assembleMigrations } from "../../scripts/migrations.mjs";
import { checkJwk, createSql, thumbprint } from "../../scripts/clients.mjs";

const exec = promisify(execFile);
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const NO_CLOUDFLARE = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CLOUDFLARE_") &&
  !["DRY_RUN", "MKIT_CLIENTS_D1_PERSIST", "WRANGLER_CONFIG"].includes(k)));
const DIR = join(ROOT, ".e2e", `clients-ops-${process.pid}-${Date.now()}`);
const db = { persist: join(DIR, "state") };
const sha256 = (s) => createHash("sha256").update(s, "utf8").digest("hex");
const CLIENT_ID = /^mkit_m_[A-Za-z0-9_-]{24}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

async function runCmd(cmd, args, env) {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd: ROOT, env, timeout: 120_000, maxBuffer: 1 << 22 });
    return { code: 0, stdout, stderr, out: stdout + stderr };
  } catch (e) {
    if (e.killed) throw new Error(`${cmd} ${args.join(" ")} did not finish in time`);
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "", out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}
const LOCAL = () => ({ ...NO_CLOUDFLARE, MKIT_CLIENTS_D1_PERSIST: db.persist });
/** scripts/clients.mjs against the test D1. */
const clients = (...args) => runCmd(process.execPath, ["scripts/clients.mjs", ...args], LOCAL());
/** The make target, variables on make's command line, against the test D1. */
const make = (target, vars = {}, env = LOCAL()) =>
  runCmd("make", ["-s", target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)], env);
const rows = () => d1(db, "SELECT * FROM machine_clients ORDER BY created_at, client_id");
const row = async (id) => (await d1(db, `SELECT * FROM machine_clients WHERE client_id = '${id}'`))[0];
const key = (name, contents) => {
  const path = join(DIR, name);
  writeFileSync(path, typeof contents === "string" ? contents : JSON.stringify(contents));
  return path;
};

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");
let secretClient;
let keyClient;

before(async () => {
  mkdirSync(DIR, { recursive: true });
  assembleMigrations();
  await exec(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", db.persist],
    { cwd: ROOT, env: { ...NO_CLOUDFLARE, CI: "true", WRANGLER_SEND_METRICS: "false" } });
});
after(() => rmSync(DIR, { recursive: true, force: true }));

test("make client-create without a key: a secret printed once, only its SHA-256 stored", async () => {
  const t0 = Math.floor(Date.now() / 1000);
  const r = await make("client-create", { NAME: "nightly report", SCOPES: "mcp tools:read mcp" });
  assert.equal(r.code, 0, r.out);
  const id = r.stdout.match(/^Created machine client (\S+) in the local D1 /m)?.[1];
  const secret = r.stdout.match(/^ {2}client_secret: (\S+)$/m)?.[1];
  assert.match(id ?? "", CLIENT_ID, r.stdout);
  assert.match(secret ?? "", SECRET, r.stdout);
  assert.match(r.stdout, /^The client secret is not stored \(only its SHA-256 is\) and cannot be shown again: copy it now\.$/m);
  assert.equal(r.out.split(secret).length, 2, "the secret is printed exactly once");
  const stored = await row(id);
  assert.ok(stored, "the row is written");
  assert.equal(stored.secret_hash, sha256(secret), "secret_hash is the lowercase hex SHA-256 of the secret");
  assert.deepEqual([stored.name, stored.scopes, stored.jwks_uri, stored.jwks, stored.rotated_at, stored.revoked_at],
    ["nightly report", "mcp tools:read", null, null, null, null], "scopes deduplicated, one space apart");
  assert.ok(stored.created_at >= t0 && stored.created_at <= Math.floor(Date.now() / 1000) + 1, `created_at ${stored.created_at}`);
  assert.ok(!JSON.stringify(await rows()).includes(secret), "the secret itself is stored nowhere");
  secretClient = { id, secret, hash: stored.secret_hash };

  const json = await clients("create", "--name", "json", "--scopes", "mcp", "--json");
  assert.equal(json.code, 0, json.out);
  const created = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(created), ["client_id", "client_secret", "name", "scopes", "credential", "created_at"]);
  assert.deepEqual([created.name, created.scopes, created.credential], ["json", ["mcp"], "secret"]);
  assert.equal((await row(created.client_id)).secret_hash, sha256(created.client_secret));
  assert.match(json.stderr, /cannot be shown again/, "--json keeps the note off stdout");
});

test("make client-create PUBLIC_KEY=<PEM>: a JWK Set with the key and its RFC 7638 kid", async () => {
  const pem = key("ec.pem", ec.publicKey.export({ type: "spki", format: "pem" }));
  const r = await make("client-create", { NAME: "signer", SCOPES: "mcp", PUBLIC_KEY: pem });
  assert.equal(r.code, 0, r.out);
  const id = r.stdout.match(/^Created machine client (\S+) /m)[1];
  assert.doesNotMatch(r.out, /client_secret/, "a key client gets no secret");
  const stored = await row(id);
  assert.equal(stored.secret_hash, null);
  assert.equal(stored.jwks_uri, null);
  const { x, y } = ec.publicKey.export({ format: "jwk" });
  // The thumbprint computed here from RFC 7638 §3.2 itself, not with the script's function.
  const kid = createHash("sha256").update(`{"crv":"P-256","kty":"EC","x":"${x}","y":"${y}"}`).digest("base64url");
  assert.deepEqual(JSON.parse(stored.jwks), { keys: [{ kid, kty: "EC", crv: "P-256", x, y }] });
  keyClient = { id, kid };

  // A JWK Set with its own kid keeps it; a JWKS URL is stored as given.
  const set = key("ed.jwks", { keys: [{ ...ed.publicKey.export({ format: "jwk" }), kid: "ed-1", alg: "EdDSA", x5c: ["ignored"] }] });
  const s = JSON.parse((await clients("create", "--name", "ed", "--scopes", "mcp", "--public-key", set, "--json")).stdout);
  assert.deepEqual(JSON.parse((await row(s.client_id)).jwks).keys.map((k) => [k.kid, k.kty, k.crv, k.alg, "x5c" in k]),
    [["ed-1", "OKP", "Ed25519", "EdDSA", false]]);
  const u = JSON.parse((await clients("create", "--name", "url", "--scopes", "mcp", "--jwks-uri", "https://ci.example.com/jwks.json",
    "--json")).stdout);
  assert.deepEqual([u.credential, (await row(u.client_id)).jwks_uri], ["jwks_uri", "https://ci.example.com/jwks.json"]);
});

test("private keys, keys the worker would not take and bad values are refused, and nothing is written", async () => {
  const before = (await rows()).length;
  const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" });
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ type: "spki", format: "pem" });
  const cases = [
    [{ PUBLIC_KEY: key("private.pem", ec.privateKey.export({ type: "pkcs8", format: "pem" })) },
      /refused: PUBLIC_KEY \S+ holds a private key \(-----BEGIN PRIVATE KEY-----\)/],
    [{ PUBLIC_KEY: key("private-ec.pem", ec.privateKey.export({ type: "sec1", format: "pem" })) }, /holds a private key \(-----BEGIN EC PRIVATE KEY/],
    [{ PUBLIC_KEY: key("private.jwk", ed.privateKey.export({ format: "jwk" })) }, /is a private key \(it has "d"\)/],
    [{ PUBLIC_KEY: key("private-set.jwks", { keys: [ec.publicKey.export({ format: "jwk" }), ec.privateKey.export({ format: "jwk" })] }) },
      /key #2 is a private key/],
    [{ PUBLIC_KEY: key("rsa1024.pem", rsa1024) }, /is an RSA key of 1024 bits; accepted: RSA of 2048 to 4096 bits .* EC P-256 .* OKP Ed25519/],
    [{ PUBLIC_KEY: key("p384.pem", p384) }, /is an EC key on "P-384"; accepted: /],
    [{ PUBLIC_KEY: key("oct.jwk", { kty: "oct", k: "c2VjcmV0" }) }, /is a private key \(it has "k"\)/],
    [{ PUBLIC_KEY: key("enc.jwk", { ...ec.publicKey.export({ format: "jwk" }), use: "enc" }) }, /"use" is "enc"; the worker takes "sig" only/],
    [{ PUBLIC_KEY: join(DIR, "missing.pem") }, /PUBLIC_KEY \S+ cannot be read: ENOENT/],
    [{ JWKS_URI: "http://ci.example.com/jwks" }, /JWKS_URI=http:\/\/ci\.example\.com\/jwks must be an https:\/\/ URL/],
    [{ JWKS_URI: "https://ci.example.com/jwks#k" }, /must not have a fragment/],
    [{ JWKS_URI: "https://a.example/x", PUBLIC_KEY: key("ec2.pem", ec.publicKey.export({ type: "spki", format: "pem" })) },
      /give JWKS_URI or PUBLIC_KEY, not both/],
    [{ SCOPES: "mcp \"admin\"" }, /SCOPES: "\\"admin\\"" is not a scope: RFC 6749 §3\.3/],
    [{ SCOPES: "mcp a\\b" }, /is not a scope/],
    [{ SCOPES: "" }, /refused: SCOPES is required/],
    [{ NAME: "" }, /refused: NAME is required/],
    [{ NAME: "x".repeat(101) }, /NAME is longer than 100 characters/],
  ];
  const flag = { NAME: "--name", SCOPES: "--scopes", PUBLIC_KEY: "--public-key", JWKS_URI: "--jwks-uri" };
  for (const [i, [vars, refusal]] of cases.entries()) {
    // The first through make (its variables reach the script), the rest straight to the script.
    const all = { NAME: "refused", SCOPES: "mcp", ...vars };
    const r = i === 0 ? await make("client-create", all)
      : await clients("create", ...Object.entries(all).flatMap(([k, v]) => [flag[k], v]));
    assert.equal(r.code, 2, `${JSON.stringify(vars)}: ${r.out}`);
    assert.match(r.out, refusal, JSON.stringify(vars));
  }
  const bell = await clients("create", "--name", "a\u0007b", "--scopes", "mcp");
  assert.equal(bell.code, 2);
  assert.match(bell.out, /refused: NAME has control characters/);
  // The environment's NAME is not make's NAME.
  const exported = await make("client-create", { SCOPES: "mcp" }, { ...LOCAL(), NAME: "from-the-shell" });
  assert.equal(exported.code, 2, exported.out);
  assert.match(exported.out, /refused: NAME is required/);
  assert.equal((await rows()).length, before, "no refusal wrote a row");
  assert.equal((await rows()).filter((r) => r.name === "refused").length, 0);
});

test("a NAME with quotes and SQL in it is stored verbatim, as a hex literal", async () => {
  const name = "o'brien\"; DROP TABLE machine_clients; --";
  const r = await make("client-create", { NAME: name, SCOPES: "mcp" });
  assert.equal(r.code, 0, r.out);
  const id = r.stdout.match(/^Created machine client (\S+) /m)[1];
  assert.equal((await row(id)).name, name);
  assert.ok((await rows()).length >= 5, "the table is still there, with every client");
  const sql = createSql({ client_id: "mkit_m_x", name: "o'b", scopes: ["a'b"], jwks_uri: "https://x/'" }, 1);
  assert.match(sql, /CAST\(X'6f2762' AS TEXT\), CAST\(X'612762' AS TEXT\), NULL, CAST\(X'[0-9a-f]+' AS TEXT\), NULL, 1\)$/);
  assert.doesNotMatch(sql, /o'b|a'b|https/, "no value appears as SQL text");
});

test("make client-list shows every client and its credential kind, never a secret hash", async () => {
  const json = await clients("list", "--json");
  assert.equal(json.code, 0, json.out);
  const list = JSON.parse(json.stdout);
  const byId = Object.fromEntries(list.map((c) => [c.client_id, c]));
  assert.deepEqual(list.map((c) => c.client_id).sort(), (await rows()).map((r) => r.client_id).sort());
  assert.deepEqual([byId[secretClient.id].credential, byId[secretClient.id].scopes, byId[secretClient.id].name],
    ["secret", ["mcp", "tools:read"], "nightly report"]);
  assert.deepEqual([byId[keyClient.id].credential, byId[keyClient.id].kids], ["keys", [keyClient.kid]]);
  assert.ok(list.some((c) => c.credential === "jwks_uri" && c.jwks_uri === "https://ci.example.com/jwks.json"));
  const text = await make("client-list");
  assert.equal(text.code, 0, text.out);
  assert.match(text.stdout, /^Machine clients in the local D1 \S+: \d+$/m);
  assert.match(text.stdout, new RegExp(`^ {2}${secretClient.id} {2}"nightly report"\\n {6}scopes: mcp tools:read\\n {6}credential: secret\\n` +
    " {6}created \\S+Z {2}rotated never {2}revoked no$", "m"));
  assert.match(text.stdout, new RegExp(`credential: keys \\(kid ${keyClient.kid}\\)`));
  const hashes = (await rows()).map((r) => r.secret_hash).filter(Boolean);
  assert.ok(hashes.length >= 2);
  for (const out of [json.out, text.out]) {
    for (const h of hashes) assert.ok(!out.includes(h), "a secret hash is printed");
    assert.doesNotMatch(out, /secret_hash/);
  }
});

test("make client-rotate: a new secret for a secret client, the given key for a key client", async () => {
  const t0 = Math.floor(Date.now() / 1000);
  const r = await make("client-rotate", { CLIENT: secretClient.id });
  assert.equal(r.code, 0, r.out);
  const secret = r.stdout.match(/^ {2}client_secret: (\S+)$/m)?.[1];
  assert.match(secret ?? "", SECRET, r.out);
  assert.notEqual(secret, secretClient.secret);
  assert.match(r.stdout, /cannot be shown again/);
  const stored = await row(secretClient.id);
  assert.notEqual(stored.secret_hash, secretClient.hash, "the hash changed");
  assert.equal(stored.secret_hash, sha256(secret));
  assert.ok(stored.rotated_at >= t0, `rotated_at ${stored.rotated_at}`);
  assert.deepEqual([stored.jwks, stored.jwks_uri, stored.revoked_at], [null, null, null]);

  // A key client: refused without a key, given the new one with it.
  const none = await make("client-rotate", { CLIENT: keyClient.id });
  assert.equal(none.code, 2, none.out);
  assert.match(none.out, /authenticates with stored keys, not a secret: give its new key as PUBLIC_KEY=<file> or its URL as JWKS_URI=<url>/);
  assert.equal((await row(keyClient.id)).rotated_at, null, "the refused rotation changed nothing");
  const ed2 = key("ed2.jwk", ed.publicKey.export({ format: "jwk" }));
  const k = await make("client-rotate", { CLIENT: keyClient.id, PUBLIC_KEY: ed2 });
  assert.equal(k.code, 0, k.out);
  const rotated = await row(keyClient.id);
  assert.deepEqual(JSON.parse(rotated.jwks).keys.map((j) => [j.kty, j.crv, j.x]), [["OKP", "Ed25519", ed.publicKey.export({ format: "jwk" }).x]]);
  assert.ok(rotated.rotated_at >= t0);
  const unknown = await make("client-rotate", { CLIENT: "mkit_m_nobodyAAAAAAAAAAAAAAAAA" });
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /refused: no machine client mkit_m_nobodyAAAAAAAAAAAAAAAAA in /);
});

test("make client-revoke sets revoked_at once; a revoked client is not rotated", async () => {
  const t0 = Math.floor(Date.now() / 1000);
  const r = await make("client-revoke", { CLIENT: secretClient.id });
  assert.equal(r.code, 0, r.out);
  assert.match(r.stdout, new RegExp(`^Revoked machine client ${secretClient.id} \\("nightly report"\\) .*: the worker refuses it from now on$`, "m"));
  const revokedAt = (await row(secretClient.id)).revoked_at;
  assert.ok(revokedAt >= t0, `revoked_at ${revokedAt}`);
  const again = await clients("revoke", "--client", secretClient.id, "--json");
  assert.equal(again.code, 0, again.out);
  assert.deepEqual([JSON.parse(again.stdout).already_revoked, JSON.parse(again.stdout).revoked_at], [true, revokedAt]);
  const hash = (await row(secretClient.id)).secret_hash;
  const rotate = await make("client-rotate", { CLIENT: secretClient.id });
  assert.equal(rotate.code, 2, rotate.out);
  assert.match(rotate.out, /was revoked at .*: a revoked client stays revoked; create a new one/);
  assert.equal((await row(secretClient.id)).secret_hash, hash, "a revoked client keeps its row as it was");
  assert.match((await make("client-list")).stdout, new RegExp(`${secretClient.id}[^\\n]*\\n.*\\n.*\\n.* revoked \\S+Z: refused`));
  const bad = await make("client-revoke", { CLIENT: "x' OR '1'='1" });
  assert.equal(bad.code, 2);
  assert.match(bad.out, /is not a machine client's id/);
  assert.equal((await rows()).filter((c) => c.revoked_at !== null).length, 1, "only the one client is revoked");
});

test("where: ENV's remote D1 (login, placeholders), else make dev's local D1; DRY_RUN prints the command", async () => {
  let r = await make("client-list", { ENV: "staging" }, noLogin());
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: not logged in to Cloudflare/);
  const token = { ...NO_CLOUDFLARE, CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: "a" };
  r = await make("client-list", { ENV: "staging" }, token);
  assert.match(r.out, /refused: wrangler\.jsonc env\.staging still has placeholders: REPLACE_WITH_STAGING_D1_ID/);
  r = await make("client-list", { ENV: "prod" }, token);
  assert.match(r.out, /refused: ENV=prod is not an environment in wrangler\.jsonc \(staging, production\)/);

  const name = "o'brien";
  r = await make("client-create", { ENV: "production", NAME: name, SCOPES: "mcp" },
    { ...token, WRANGLER_CONFIG: filledConfig("clients"), DRY_RUN: "1" });
  assert.equal(r.code, 0, r.out);
  const lines = r.out.trim().split("\n");
  assert.equal(lines.length, 1, r.out);
  assert.ok(lines[0].startsWith("dry-run: wrangler d1 execute DB --remote --env production --json --command \"INSERT INTO machine_clients "),
    lines[0]);
  assert.ok(lines[0].includes(`CAST(X'${Buffer.from(name).toString("hex")}' AS TEXT)`), lines[0]);
  assert.ok(!lines[0].includes("brien"), "the name never appears as SQL text");
  assert.match(lines[0], / --config \S+$/);

  // An ENV exported in the shell is not make's ENV: the local D1 of make dev, never a remote one.
  r = await make("client-list", {}, { ...NO_CLOUDFLARE, ENV: "production", DRY_RUN: "1" });
  if (existsSync(join(ROOT, ".wrangler/dev/wrangler.json"))) {
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^dry-run: wrangler d1 execute DB --local --config \.wrangler\/dev\/wrangler\.json --persist-to \.wrangler\/state --json --command "SELECT /);
  } else {
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /refused: no local D1 yet \(\.wrangler\/dev\/wrangler\.json is missing\): run make dev once first/);
  }
  r = await make("client-revoke", { CLIENT: keyClient.id }, { ...LOCAL(), DRY_RUN: "1" });
  assert.match(r.out, new RegExp(`^dry-run: wrangler d1 execute DB --local --persist-to ${db.persist.replaceAll(".", "\\.")} --json --command "SELECT `));
  assert.equal((await row(keyClient.id)).revoked_at, null, "DRY_RUN changed nothing");
});

test("the key checks follow the worker's (crates/mkit-auth/src/jwk.rs)", () => {
  const rsa = (bits) => generateKeyPairSync("rsa", { modulusLength: bits }).publicKey.export({ format: "jwk" });
  assert.equal(checkJwk(rsa(2048), "k").kty, "RSA");
  assert.throws(() => checkJwk(rsa(4096 + 64), "k"), /RSA key of 4160 bits/);
  assert.doesNotThrow(() => checkJwk({ ...rsa(2048), e: "Aw" }, "k"), "e = 3 is allowed");
  assert.throws(() => checkJwk({ ...rsa(2048), e: "AQ" }, "k"), /out of bounds/, "e = 1 is not");
  assert.throws(() => checkJwk({ ...rsa(2048), e: "AQAB=" }, "k"), /"e" is missing or not base64url/, "padding refused, as the worker does");
  const p = ec.publicKey.export({ format: "jwk" });
  assert.throws(() => checkJwk({ ...p, y: p.x }, "k"), /not on P-256/);
  assert.throws(() => checkJwk({ ...p, alg: "RS256" }, "k"), /"alg" "RS256" does not fit a EC key/);
  assert.equal(checkJwk({ ...p, kid: "mine" }, "k").kid, "mine");
  // RFC 7638 §3.1's example.
  assert.equal(thumbprint({ kty: "RSA", e: "AQAB", n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw" }),
  "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
});
