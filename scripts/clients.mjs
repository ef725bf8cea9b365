// Machine clients (#31): the clients of the OAuth client credentials grant (the MCP extension
// io.modelcontextprotocol/oauth-client-credentials), registered by the operator here, never by a
// request. The rows are the machine_clients table (crates/mkit/migrations/0011_machine_clients.sql),
// which the worker reads (crates/mkit-oauth/src/machine_store.rs).
//
//   make client-create NAME=<name> SCOPES='<scopes>' [JWKS_URI=<https URL> | PUBLIC_KEY=<file>] [ENV=…]
//   make client-list [ENV=…]
//   make client-rotate CLIENT=<client_id> [PUBLIC_KEY=<file> | JWKS_URI=<url>] [ENV=…]
//   make client-revoke CLIENT=<client_id> [ENV=…]
//   node scripts/clients.mjs create|list|rotate|revoke [--env …] [--name …] [--scopes …]
//     [--jwks-uri …] [--public-key …] [--client …] [--json]
//
// create: client_id = mkit_m_ + base64url of 18 random bytes. Without JWKS_URI or PUBLIC_KEY the
// client gets a secret (base64url of 32 random bytes), printed once; only its SHA-256 (lowercase
// hex) is stored. PUBLIC_KEY is a file holding PEM public keys (SPKI, or PKCS#1 RSA), a JWK or a
// JWK Set; it is stored as a JWK Set, each key with a kid (its RFC 7638 thumbprint when it has
// none). Keys are checked as the worker checks them (crates/mkit-auth/src/jwk.rs): RSA of 2048 to
// 4096 bits, EC P-256 or OKP Ed25519; private keys are refused. rotate: a secret client gets a
// new secret; a key client the keys or JWKS URL given (either may also switch a client to the
// other kind); rotated_at is set. revoke: revoked_at is set, and the worker refuses the client
// from then on. list: every client, never a secret hash (the SELECT does not read it).
//
// Where: with ENV, the environment's remote D1 (`wrangler d1 execute DB --remote --env ENV`;
// refused without a Cloudflare login, or while its D1 id is a placeholder). Without ENV, the
// local D1 of `make dev` (`--local --config .wrangler/dev/wrangler.json --persist-to .wrangler/state`).
// Tests: MKIT_CLIENTS_D1_PERSIST=<dir> uses `--local --persist-to <dir>` instead.
//
// Every value reaches the SQL as a hex blob, CAST(X'…' AS TEXT): Wrangler's --command takes no
// parameters, and no quote or character in a value can escape from a hex literal. DRY_RUN=1 prints
// the Wrangler command instead of running it. Refusals exit 2, before anything is written.

import { createHash, createPublicKey, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Refusal, requireLogin, runMain, wranglerJson } from "./cloudflare.mjs";
import { readConfig, ROOT } from "./wrangler-config.mjs";

export const CLIENT_ID_PREFIX = "mkit_m_";
const DEV_CONFIG = ".wrangler/dev/wrangler.json";
const DEV_STATE = ".wrangler/state";
const USAGE = "usage: node scripts/clients.mjs create|list|rotate|revoke [--env <environment>] [--name <name>] " +
  "[--scopes '<scopes>'] [--jwks-uri <url>] [--public-key <file>] [--client <client_id>] [--json]";
/** The options each subcommand takes (an empty value counts as not given: make passes '' for a variable not set). */
const TAKES = {
  create: ["env", "name", "scopes", "jwks-uri", "public-key"],
  list: ["env"],
  rotate: ["env", "client", "jwks-uri", "public-key"],
  revoke: ["env", "client"],
};
const VARIABLE = { name: "NAME", scopes: "SCOPES", "jwks-uri": "JWKS_URI", "public-key": "PUBLIC_KEY", client: "CLIENT", env: "ENV" };

export function parseArgs(argv) {
  const [command, ...rest] = argv;
  if (!TAKES[command]) throw new Refusal(`unknown command ${JSON.stringify(command ?? "")}; ${USAGE}`);
  const opts = { command, json: false };
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i].slice(2);
    if (rest[i] === "--json") opts.json = true;
    else if (rest[i].startsWith("--") && name in VARIABLE && i + 1 < rest.length) {
      const value = rest[++i];
      if (value === "") continue;
      if (!TAKES[command].includes(name)) throw new Refusal(`${command} takes no ${VARIABLE[name]}`);
      opts[name] = value;
    } else throw new Refusal(`unexpected argument ${rest[i]}; ${USAGE}`);
  }
  return opts;
}

// ---- values ------------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A text value as an SQL expression no character can break out of. */
export function textLiteral(value) {
  return `CAST(X'${Buffer.from(value, "utf8").toString("hex")}' AS TEXT)`;
}
const nullable = (value) => (value === null || value === undefined ? "NULL" : textLiteral(value));

export function checkName(name) {
  if (!name) throw new Refusal("NAME is required: what the client is, for you (1 to 100 characters), e.g. NAME='nightly report'");
  if (CONTROL.test(name)) throw new Refusal("NAME has control characters");
  if ([...name].length > 100) throw new Refusal("NAME is longer than 100 characters");
  return name;
}

/** SCOPES as its scope tokens (RFC 6749 §3.3): printable ASCII but space, " and \, space-separated. */
export function checkScopes(scopes) {
  if (!scopes || !scopes.trim()) {
    throw new Refusal("SCOPES is required: the scopes the client may be granted, space-separated, e.g. SCOPES='mcp tools:read'");
  }
  if (CONTROL.test(scopes)) throw new Refusal("SCOPES has control characters (tabs and newlines included): separate scopes with spaces");
  if (scopes.length > 2048) throw new Refusal("SCOPES is longer than 2,048 characters");
  const tokens = [];
  for (const s of scopes.trim().split(/ +/)) {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)) {
      throw new Refusal(`SCOPES: ${JSON.stringify(s)} is not a scope: RFC 6749 §3.3 allows printable ASCII except space, " and \\`);
    }
    if (!tokens.includes(s)) tokens.push(s);
  }
  for (const s of tokens.filter((t) => t.includes(","))) {
    console.error(`note: SCOPES are space-separated: ${JSON.stringify(s)} is one scope`);
  }
  return tokens;
}

/** A JWK Set URL the worker will fetch: https, or http on a loopback host (local testing only). */
export function checkJwksUri(uri) {
  const bad = (why) => new Refusal(`JWKS_URI=${uri} ${why}`);
  if (CONTROL.test(uri) || /\s/.test(uri)) throw bad("has spaces or control characters");
  if (uri.length > 2048) throw new Refusal("JWKS_URI is longer than 2,048 characters");
  let u;
  try {
    u = new URL(uri);
  } catch {
    throw bad("is not a URL");
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
  if (!(uri.startsWith("https://") || (uri.startsWith("http://") && loopback))) {
    throw bad("must be an https:// URL (http:// only on localhost or 127.0.0.1, for local testing)");
  }
  if (!u.hostname) throw bad("has no host");
  if (u.username || u.password) throw bad("must not carry a user name or password");
  if (uri.includes("#")) throw bad("must not have a fragment");
  return uri;
}

export function checkClientId(id) {
  if (!id) throw new Refusal("CLIENT is required: the client_id, as make client-list shows it (mkit_m_…)");
  if (!id.startsWith(CLIENT_ID_PREFIX) || !/^[A-Za-z0-9_-]{8,128}$/.test(id)) {
    throw new Refusal(`CLIENT=${JSON.stringify(id)} is not a machine client's id (mkit_m_ and base64url characters)`);
  }
  return id;
}

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
export const newClientId = () => CLIENT_ID_PREFIX + b64url(randomBytes(18));
export const newSecret = () => b64url(randomBytes(32));
/** What the worker compares a presented secret with (crates/mkit-oauth/src/grant.rs secret_hash). */
export const secretHash = (secret) => createHash("sha256").update(secret, "utf8").digest("hex");

// ---- keys (what crates/mkit-auth/src/jwk.rs parse_jwk accepts) ---------------------------------

export const ACCEPTED_KEYS = "accepted: RSA of 2048 to 4096 bits (RS256, RS384, RS512, PS256, PS384, PS512), " +
  "EC P-256 (ES256) or OKP Ed25519 (EdDSA)";
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const ALGS = { RSA: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"], EC: ["ES256"], OKP: ["EdDSA"] };
/** RFC 7638 §3.2 (and RFC 8037 §2 for OKP): the members a thumbprint covers, in order. */
const REQUIRED = { RSA: ["e", "kty", "n"], EC: ["crv", "kty", "x", "y"], OKP: ["crv", "kty", "x"] };
const MAX_JWKS_BYTES = 16 * 1024;
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** A base64url member, strictly (no padding, no stray bits), as the worker decodes it. */
function b64Member(jwk, name, label) {
  const s = jwk[name];
  if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s) || Buffer.from(s, "base64url").toString("base64url") !== s) {
    throw new Refusal(`${label}: "${name}" is missing or not base64url`);
  }
  return Buffer.from(s, "base64url");
}

/** The RFC 7638 thumbprint of a public JWK: base64url SHA-256 of its required members. */
export function thumbprint(jwk) {
  const canonical = `{${REQUIRED[jwk.kty].map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(",")}}`;
  return b64url(createHash("sha256").update(canonical, "utf8").digest());
}

/** One public JWK, checked as the worker checks it, reduced to the members it reads, with a kid. */
export function checkJwk(jwk, label) {
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk)) throw new Refusal(`${label} is not a JWK (a JSON object)`);
  const secret = PRIVATE_MEMBERS.filter((m) => m in jwk);
  if (secret.length) {
    throw new Refusal(`${label} is a private key (it has ${secret.map((m) => `"${m}"`).join(", ")}): give the public key only, ` +
      "and keep the private one with the client");
  }
  if ("use" in jwk && jwk.use !== "sig") throw new Refusal(`${label}: "use" is ${JSON.stringify(jwk.use)}; the worker takes "sig" only`);
  if ("key_ops" in jwk && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify"))) {
    throw new Refusal(`${label}: "key_ops" lacks "verify"`);
  }
  const out = { kty: jwk.kty };
  if (jwk.kty === "RSA") {
    const trim = (b) => {
      const first = b.findIndex((x) => x !== 0);
      return b.subarray(first < 0 ? b.length : first);
    };
    const n = trim(b64Member(jwk, "n", label));
    const e = trim(b64Member(jwk, "e", label));
    const bits = n.length ? n.length * 8 - Math.clz32(n[0]) + 24 : 0;
    if (bits < 2048 || bits > 4096) throw new Refusal(`${label} is an RSA key of ${bits} bits; ${ACCEPTED_KEYS}`);
    const exponent = e.length <= 5 ? e.reduce((acc, b) => acc * 256 + b, 0) : Infinity;
    if (!(n[n.length - 1] & 1) || !(e[e.length - 1] & 1) || exponent < 3 || exponent >= 2 ** 33) {
      throw new Refusal(`${label}: the RSA modulus or exponent is out of bounds (an odd modulus, an odd exponent from 3 to 2^33 - 1)`);
    }
    Object.assign(out, { n: jwk.n, e: jwk.e });
  } else if (jwk.kty === "EC") {
    if (jwk.crv !== "P-256") throw new Refusal(`${label} is an EC key on ${JSON.stringify(jwk.crv)}; ${ACCEPTED_KEYS}`);
    if (b64Member(jwk, "x", label).length !== 32 || b64Member(jwk, "y", label).length !== 32) {
      throw new Refusal(`${label}: "x" and "y" must be 32 bytes each`);
    }
    try {
      createPublicKey({ key: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, format: "jwk" });
    } catch {
      throw new Refusal(`${label}: the point (x, y) is not on P-256`);
    }
    Object.assign(out, { crv: jwk.crv, x: jwk.x, y: jwk.y });
  } else if (jwk.kty === "OKP") {
    if (jwk.crv !== "Ed25519") throw new Refusal(`${label} is an OKP key on ${JSON.stringify(jwk.crv)}; ${ACCEPTED_KEYS}`);
    if (b64Member(jwk, "x", label).length !== 32) throw new Refusal(`${label}: "x" must be 32 bytes`);
    Object.assign(out, { crv: jwk.crv, x: jwk.x });
  } else {
    throw new Refusal(`${label} has key type ${JSON.stringify(jwk.kty)}; ${ACCEPTED_KEYS}`);
  }
  if ("alg" in jwk && !ALGS[jwk.kty].includes(jwk.alg)) {
    throw new Refusal(`${label}: "alg" ${JSON.stringify(jwk.alg)} does not fit a ${jwk.kty} key (${ALGS[jwk.kty].join(", ")})`);
  }
  if ("kid" in jwk && (typeof jwk.kid !== "string" || !jwk.kid || jwk.kid.length > 256 || CONTROL.test(jwk.kid))) {
    throw new Refusal(`${label}: "kid" must be a string of 1 to 256 characters`);
  }
  for (const m of ["alg", "use", "key_ops"]) if (m in jwk) out[m] = jwk[m];
  return { kid: jwk.kid ?? thumbprint(out), ...out };
}

/** PEM blocks as public JWKs; private keys and anything else refused. */
function pemKeys(text, file) {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)];
  const labels = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  if (labels.some((l) => l.includes("PRIVATE KEY"))) {
    throw new Refusal(`PUBLIC_KEY ${file} holds a private key (-----BEGIN ${labels.find((l) => l.includes("PRIVATE KEY"))}-----): ` +
      "give the public key only (e.g. openssl pkey -in private.pem -pubout -out public.pem), and keep the private one with the client");
  }
  if (blocks.length !== labels.length) throw new Refusal(`PUBLIC_KEY ${file}: a PEM block has no matching END line`);
  return blocks.map(([pem, label], i) => {
    const where = `PUBLIC_KEY ${file}${blocks.length > 1 ? ` (PEM block ${i + 1})` : ""}`;
    if (label !== "PUBLIC KEY" && label !== "RSA PUBLIC KEY") {
      throw new Refusal(`${where} is a ${label}: give a PEM public key (-----BEGIN PUBLIC KEY-----), a JWK or a JWK Set`);
    }
    let key;
    try {
      key = createPublicKey(pem);
    } catch (e) {
      throw new Refusal(`${where} is not a public key Node can read: ${e.message}`);
    }
    let jwk;
    try {
      jwk = key.export({ format: "jwk" });
    } catch {
      throw new Refusal(`${where} is a ${key.asymmetricKeyType} key; ${ACCEPTED_KEYS}`);
    }
    return checkJwk(jwk, where);
  });
}

/** The JWK Set document to store for PUBLIC_KEY's file. */
export function jwksFromFile(file) {
  let bytes;
  try {
    bytes = readFileSync(resolve(file));
  } catch (e) {
    throw new Refusal(`PUBLIC_KEY ${file} cannot be read: ${e.code ?? e.message}`);
  }
  if (bytes.length > MAX_KEY_FILE_BYTES) throw new Refusal(`PUBLIC_KEY ${file} is larger than 64 KiB`);
  const text = bytes.toString("utf8").trim();
  let keys;
  if (text.startsWith("{")) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Refusal(`PUBLIC_KEY ${file} is not valid JSON: ${e.message}`);
    }
    if ("keys" in doc) {
      if (!Array.isArray(doc.keys) || doc.keys.length === 0) throw new Refusal(`PUBLIC_KEY ${file}: a JWK Set needs a non-empty "keys" array`);
      keys = doc.keys.map((k, i) => checkJwk(k, `PUBLIC_KEY ${file} key #${i + 1}${typeof k?.kid === "string" ? ` (kid ${k.kid})` : ""}`));
    } else keys = [checkJwk(doc, `PUBLIC_KEY ${file}`)];
  } else if (text.includes("-----BEGIN ")) {
    keys = pemKeys(text, file);
  } else if (/^(ssh-|ecdsa-sha2-)/.test(text)) {
    throw new Refusal(`PUBLIC_KEY ${file} is an OpenSSH key: convert it with ssh-keygen -e -m PKCS8 -f ${file} > public.pem`);
  } else {
    throw new Refusal(`PUBLIC_KEY ${file} is neither a PEM public key (-----BEGIN PUBLIC KEY-----), a JWK nor a JWK Set`);
  }
  const kids = keys.map((k) => k.kid);
  const twice = kids.find((k, i) => kids.indexOf(k) !== i);
  if (twice !== undefined) throw new Refusal(`PUBLIC_KEY ${file}: two keys have kid ${JSON.stringify(twice)}`);
  const doc = JSON.stringify({ keys });
  if (Buffer.byteLength(doc) > MAX_JWKS_BYTES) throw new Refusal(`PUBLIC_KEY ${file}: the JWK Set is larger than 16 KiB`);
  return doc;
}

/** The credential create or rotate writes: exactly one of secret_hash, jwks_uri, jwks. */
function credentialFrom(opts) {
  if (opts["jwks-uri"] && opts["public-key"]) throw new Refusal("give JWKS_URI or PUBLIC_KEY, not both");
  if (opts["jwks-uri"]) return { kind: "jwks_uri", jwks_uri: checkJwksUri(opts["jwks-uri"]) };
  if (opts["public-key"]) return { kind: "keys", jwks: jwksFromFile(opts["public-key"]) };
  const secret = newSecret();
  return { kind: "secret", secret, secret_hash: secretHash(secret) };
}

const kidsOf = (jwks) => {
  try {
    return JSON.parse(jwks).keys.map((k) => k.kid ?? "(none)");
  } catch {
    return ["(unreadable JWK Set)"];
  }
};

// ---- SQL ------------------------------------------------------------------------------------------

const COLUMNS = "client_id, name, scopes, secret_hash IS NOT NULL AS has_secret, jwks_uri, jwks, created_at, rotated_at, revoked_at";

export function createSql(c, now) {
  return "INSERT INTO machine_clients (client_id, name, scopes, secret_hash, jwks_uri, jwks, created_at) VALUES (" +
    [textLiteral(c.client_id), textLiteral(c.name), textLiteral(c.scopes.join(" ")), nullable(c.secret_hash),
      nullable(c.jwks_uri), nullable(c.jwks), String(now)].join(", ") + ")";
}

export const listSql = () => `SELECT ${COLUMNS} FROM machine_clients ORDER BY created_at, client_id`;

/** The row as it was, then the update: only a client not revoked, and without a new key only a secret client. */
export function rotateSql(id, cred, now) {
  const set = cred.kind === "secret" ? `secret_hash = ${textLiteral(cred.secret_hash)}`
    : `secret_hash = NULL, jwks_uri = ${nullable(cred.jwks_uri)}, jwks = ${nullable(cred.jwks)}`;
  return `SELECT ${COLUMNS} FROM machine_clients WHERE client_id = ${textLiteral(id)}; ` +
    `UPDATE machine_clients SET ${set}, rotated_at = ${now} WHERE client_id = ${textLiteral(id)} AND revoked_at IS NULL` +
    `${cred.kind === "secret" ? " AND secret_hash IS NOT NULL" : ""} RETURNING ${COLUMNS}`;
}

export function revokeSql(id, now) {
  return `SELECT ${COLUMNS} FROM machine_clients WHERE client_id = ${textLiteral(id)}; ` +
    `UPDATE machine_clients SET revoked_at = ${now} WHERE client_id = ${textLiteral(id)} AND revoked_at IS NULL RETURNING ${COLUMNS}`;
}

// ---- output ---------------------------------------------------------------------------------------

const iso = (secs) => (secs === null || secs === undefined ? null : new Date(secs * 1000).toISOString().replace(".000Z", "Z"));
const kindOf = (row) => (row.has_secret ? "secret" : row.jwks_uri !== null ? "jwks_uri" : row.jwks !== null ? "keys" : "none");

/** A row as the commands print it: never a secret hash (no SELECT here reads one). */
export function clientView(row) {
  const kind = kindOf(row);
  return { client_id: row.client_id, name: row.name, scopes: row.scopes.split(" ").filter(Boolean), credential: kind,
    ...(kind === "jwks_uri" ? { jwks_uri: row.jwks_uri } : {}), ...(kind === "keys" ? { kids: kidsOf(row.jwks) } : {}),
    created_at: row.created_at, rotated_at: row.rotated_at, revoked_at: row.revoked_at };
}

const credentialText = (c) => (c.credential === "secret" ? "a client secret (client_secret_basic or client_secret_post)"
  : c.credential === "jwks_uri" ? `keys published at ${c.jwks_uri} (private_key_jwt)`
    : c.credential === "keys" ? `keys stored with it, kid ${c.kids.join(", ")} (private_key_jwt)` : "none (a hand-edited row?)");

export const SECRET_NOTE = "The client secret is not stored (only its SHA-256 is) and cannot be shown again: copy it now.";

function formatClient(c) {
  return [`  ${c.client_id}  ${JSON.stringify(c.name)}`,
    `      scopes: ${c.scopes.join(" ") || "(none)"}`,
    `      credential: ${c.credential === "secret" ? "secret" : c.credential === "jwks_uri" ? `jwks_uri ${c.jwks_uri}`
      : c.credential === "keys" ? `keys (kid ${c.kids.join(", ")})` : c.credential}`,
    `      created ${iso(c.created_at)}  rotated ${iso(c.rotated_at) ?? "never"}  ` +
      `revoked ${c.revoked_at === null ? "no" : `${iso(c.revoked_at)}: refused`}`];
}

export function formatList(clients, where) {
  const revoked = clients.filter((c) => c.revoked_at !== null).length;
  return [`Machine clients in ${where}: ${clients.length}${revoked ? ` (${revoked} revoked)` : ""}`, "",
    ...(clients.length ? clients.flatMap(formatClient) : ["  (none; make client-create NAME=… SCOPES=… registers one)"])].join("\n");
}

// ---- where ----------------------------------------------------------------------------------------

/** Where to write: the environment's remote D1, make dev's local one, or (tests) a persisted one. */
export function target(env, { persist = process.env.MKIT_CLIENTS_D1_PERSIST, configPath = process.env.WRANGLER_CONFIG } = {}) {
  const configArgs = configPath ? ["--config", configPath] : [];
  if (persist) {
    const dir = resolve(persist);
    return { args: ["d1", "execute", "DB", "--local", "--persist-to", dir, ...(env ? ["--env", env] : []), "--json"], configArgs,
      label: `the local D1 ${dir}` };
  }
  if (!env) {
    if (!existsSync(join(ROOT, DEV_CONFIG))) {
      throw new Refusal(`no local D1 yet (${DEV_CONFIG} is missing): run make dev once first (it creates and migrates it), ` +
        "or name a deployed environment with ENV=…");
    }
    return { args: ["d1", "execute", "DB", "--local", "--config", DEV_CONFIG, "--persist-to", DEV_STATE, "--json"], configArgs: [],
      label: `the local D1 of make dev (${DEV_STATE})` };
  }
  const config = readConfig(configPath);
  const envs = Object.keys(config.env ?? {});
  if (!envs.includes(env)) throw new Refusal(`ENV=${env} is not an environment in wrangler.jsonc (${envs.join(", ")})`);
  const placeholders = JSON.stringify(config.env[env].d1_databases ?? []).match(/REPLACE_WITH_[A-Z0-9_]+/g);
  if (placeholders) {
    throw new Refusal(`wrangler.jsonc env.${env} still has placeholders: ${[...new Set(placeholders)].join(", ")} (see docs/deployment.md)`);
  }
  return { args: ["d1", "execute", "DB", "--remote", "--env", env, "--json"], configArgs, label: `env ${env}, remote D1` };
}

const shellWord = (a) => (/^[\w@./:=,<>-]+$/.test(a) ? a : JSON.stringify(a));

/** Runs the SQL where `where` says; the rows of each statement, or null for DRY_RUN. */
async function execute(where, sql) {
  const full = [...where.args, "--command", sql, ...where.configArgs];
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: wrangler ${full.map(shellWord).join(" ")}`);
    return null;
  }
  let results;
  try {
    results = await wranglerJson(full);
  } catch (e) {
    if (/no such table: machine_clients/.test(e.message)) {
      throw new Error(`${where.label} has no machine_clients table yet: apply the migrations first ` +
        "(make dev applies them to its local D1, make deploy ENV=… to the environment's)");
    }
    throw e;
  }
  return results.map((r, n) => {
    if (!r?.success) throw new Error(`statement ${n + 1} did not succeed: ${JSON.stringify(r)}`);
    return r.results ?? [];
  });
}

// ---- commands -------------------------------------------------------------------------------------

async function create(opts, locate) {
  const name = checkName(opts.name);
  const scopes = checkScopes(opts.scopes);
  const cred = credentialFrom(opts);
  const client = { client_id: newClientId(), name, scopes, ...cred };
  const where = await locate();
  const now = Math.floor(Date.now() / 1000);
  if (!(await execute(where, createSql(client, now)))) return;
  // From what was written, not read back: the secret is printed whatever Wrangler's answer holds.
  const c = clientView({ client_id: client.client_id, name, scopes: scopes.join(" "), has_secret: Boolean(cred.secret_hash),
    jwks_uri: cred.jwks_uri ?? null, jwks: cred.jwks ?? null, created_at: now, rotated_at: null, revoked_at: null });
  if (opts.json) {
    console.log(JSON.stringify({ client_id: c.client_id, ...(cred.secret ? { client_secret: cred.secret } : {}), name: c.name,
      scopes: c.scopes, credential: c.credential, ...(c.jwks_uri ? { jwks_uri: c.jwks_uri } : {}), ...(c.kids ? { kids: c.kids } : {}),
      created_at: c.created_at }, null, 2));
    if (cred.secret) console.error(SECRET_NOTE);
    return;
  }
  console.log([`Created machine client ${c.client_id} in ${where.label}`,
    `  name:       ${JSON.stringify(c.name)}`,
    `  scopes:     ${c.scopes.join(" ")}`,
    `  credential: ${credentialText(c)}`,
    ...(cred.secret ? [`  client_secret: ${cred.secret}`, "", SECRET_NOTE,
      `(make client-rotate CLIENT=${c.client_id} issues a new one.)`] : [])].join("\n"));
}

async function list(opts, locate) {
  const where = await locate();
  const out = await execute(where, listSql());
  if (!out) return;
  const clients = out[0].map(clientView);
  console.log(opts.json ? JSON.stringify(clients, null, 2) : formatList(clients, where.label));
}

/** The refusal for a rotate or revoke that changed nothing, from the row as it was. */
function unchanged(id, before, where, cred) {
  if (!before) throw new Refusal(`no machine client ${id} in ${where.label} (make client-list shows them)`);
  if (before.revoked_at !== null) {
    throw new Refusal(`${id} was revoked at ${iso(before.revoked_at)}: a revoked client stays revoked; create a new one`);
  }
  if (cred?.kind === "secret" && !before.has_secret) {
    throw new Refusal(`${id} authenticates with ${kindOf(before) === "jwks_uri" ? "a JWKS URL" : "stored keys"}, not a secret: ` +
      "give its new key as PUBLIC_KEY=<file> or its URL as JWKS_URI=<url>");
  }
  throw new Error(`${id} was not changed, for no reason the row shows: ${JSON.stringify(clientView(before))}`);
}

async function rotate(opts, locate) {
  const id = checkClientId(opts.client);
  const cred = credentialFrom(opts);
  const where = await locate();
  const out = await execute(where, rotateSql(id, cred, Math.floor(Date.now() / 1000)));
  if (!out) return;
  const [[before], [after]] = out;
  if (!after) unchanged(id, before, where, cred);
  const c = clientView(after);
  const was = kindOf(before);
  if (opts.json) {
    console.log(JSON.stringify({ ...c, ...(cred.secret ? { client_secret: cred.secret } : {}), previous_credential: was }, null, 2));
    if (cred.secret) console.error(SECRET_NOTE);
    return;
  }
  console.log([`Rotated machine client ${c.client_id} (${JSON.stringify(c.name)}) in ${where.label}, at ${iso(c.rotated_at)}`,
    `  credential: ${credentialText(c)}${was !== c.credential ? ` (was: ${was})` : ""}`,
    `  the previous ${was === "secret" ? "secret" : was === "jwks_uri" ? "JWKS URL" : "keys"} no longer authenticate${was === "secret" ? "s" : ""} it`,
    ...(cred.secret ? [`  client_secret: ${cred.secret}`, "", SECRET_NOTE] : [])].join("\n"));
}

async function revoke(opts, locate) {
  const id = checkClientId(opts.client);
  const where = await locate();
  const out = await execute(where, revokeSql(id, Math.floor(Date.now() / 1000)));
  if (!out) return;
  const [[before], [after]] = out;
  if (!before) unchanged(id, before, where);
  const c = clientView(after ?? before);
  if (opts.json) {
    console.log(JSON.stringify({ ...c, already_revoked: !after }, null, 2));
    return;
  }
  console.log(after ? `Revoked machine client ${c.client_id} (${JSON.stringify(c.name)}) in ${where.label}, at ${iso(c.revoked_at)}: ` +
    "the worker refuses it from now on"
    : `Machine client ${c.client_id} (${JSON.stringify(c.name)}) was already revoked, at ${iso(c.revoked_at)}: nothing changed`);
}

async function main(argv) {
  const opts = parseArgs(argv);
  // Each command checks its values first (a refusal writes nothing), then asks where to write:
  // the Cloudflare login and the environment are checked then.
  const locate = async () => {
    if (!process.env.MKIT_CLIENTS_D1_PERSIST && opts.env) await requireLogin();
    return target(opts.env);
  };
  await { create, list, rotate, revoke }[opts.command](opts, locate);
}

await runMain(import.meta, main);
