// `make provision` and the Cloudflare login every ops target accepts: the real, pinned Wrangler
// (and the scripts' own API calls) against a fake Cloudflare API on loopback, logged in either
// with `wrangler login`'s stored OAuth token or with an API token. Each run works on its own
// copy of wrangler.jsonc. Provision also gives each environment rate-limit namespaces of its own,
// past the ids the account's other Workers bind (the fake's Workers listing and settings).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT, configCopy, filledConfig } from "./harness.mjs";
import { ACCOUNT_ID, OAUTH_TOKEN, cloudflareEnv, noLogin, startFakeCloudflare } from "./fake-cloudflare.mjs";
import { parseJsonc } from "../../scripts/jsonc.mjs";
import { readConfig, validateConfig } from "../../scripts/wrangler-config.mjs";
import { SHIPPED_NAMESPACE_IDS, namespaceIdFor } from "../../scripts/provision.mjs";

const exec = promisify(execFile);
async function make(args, env) {
  try {
    const { stdout, stderr } = await exec("make", ["-s", ...args], { cwd: ROOT, env, timeout: 120_000, maxBuffer: 1 << 22 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    if (e.killed) throw new Error(`make ${args.join(" ")} did not finish`);
    return { code: e.code, out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}
const home = () => mkdtempSync(join(tmpdir(), "mkit-provision-"));
// The names come from wrangler.jsonc (a fork renamed by make init has its own).
const names = (env) => {
  const c = readConfig(configCopy(`names-${env}`)).env[env];
  return { worker: c.name, db: c.d1_databases[0].database_name };
};
const re = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const read = (path) => parseJsonc(readFileSync(path, "utf8")).value;

let cf;
before(async () => {
  cf = await startFakeCloudflare({ subdomain: "acme" });
});
after(() => cf?.stop());

test("provision refuses without a login, and names every bad input at once before looking anything up", async () => {
  let r = await make(["provision", "ENV=staging"], noLogin());
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: not logged in to Cloudflare/);
  const env = cloudflareEnv({ cf, home: home(), login: "token", extra: { WRANGLER_CONFIG: configCopy("refusals") } });
  const seen = cf.requests.length;
  r = await make(["provision", "ENV=prod", "DOMAIN=https://x.example.com/mcp", "ISSUER=http://auth.example.com/", "LOCATION=mars"], env);
  assert.equal(r.code, 2, r.out);
  for (const reason of [/ENV=prod is not an environment in wrangler\.jsonc \(staging, production\)/, /DOMAIN=https:\/\/x\.example\.com\/mcp is not a host name/,
    /ISSUER=http:\/\/auth\.example\.com\/ is not an https URL/, /LOCATION=mars is not one of weur, eeur, apac, oc, wnam, enam/]) {
    assert.match(r.out, reason);
  }
  r = await make(["provision", "ENV=staging", "DOMAIN=mkit.acme.workers.dev"], env);
  assert.match(r.out, /refused: DOMAIN must be your own zone's host name/);
  assert.equal(cf.requests.length, seen, "nothing was looked up");
});

test("wrangler login: DRY_RUN changes nothing, then provision creates the database and fills the workers.dev resource, once", async () => {
  const config = configCopy("oauth");
  const before = readFileSync(config, "utf8");
  const env = cloudflareEnv({ cf, home: home(), login: "oauth", extra: { WRANGLER_CONFIG: config } });
  const create = `/accounts/${ACCOUNT_ID}/d1/database`;

  const { worker, db: dbName } = names("staging");
  let r = await make(["provision", "ENV=staging", "LOCATION=weur"], { ...env, DRY_RUN: "1" });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /login: wrangler login/);
  assert.match(r.out, new RegExp(`^dry-run: wrangler d1 create ${re(dbName)} --location weur --config \\S+$`, "m"));
  assert.match(r.out, new RegExp(`^dry-run: would set env\\.staging\\.vars\\.MCP_RESOURCE = https://${re(worker)}\\.acme\\.workers\\.dev/mcp$`, "m"));
  assert.equal(readFileSync(config, "utf8"), before, "DRY_RUN writes nothing");
  assert.equal(cf.requestsTo("POST", create).length, 0, "DRY_RUN creates nothing");

  r = await make(["provision", "ENV=staging", "LOCATION=weur"], env);
  assert.equal(r.code, 0, r.out);
  const [post] = cf.requestsTo("POST", create);
  assert.deepEqual(JSON.parse(post.body), { name: dbName, primary_location_hint: "weur" }, "Wrangler's own create request");
  assert.equal(post.headers.authorization, `Bearer ${OAUTH_TOKEN}`, "with the stored login's token");
  const db = cf.databases.find((d) => d.name === dbName);
  assert.match(r.out, new RegExp(`D1 ${re(dbName)}: ${db.uuid} \\(created\\)`));
  const staging = read(config).env.staging;
  assert.equal(staging.d1_databases[0].database_id, db.uuid);
  assert.equal(staging.vars.MCP_RESOURCE, `https://${worker}.acme.workers.dev/mcp`);
  assert.equal(staging.vars.OAUTH_ISSUER, "REPLACE_WITH_STAGING_ISSUER", "no ISSUER given: left for the operator");
  assert.match(r.out, /fill REPLACE_WITH_STAGING_ISSUER/);
  assert.match(readFileSync(config, "utf8"), /^\/\/ mKit's Wrangler configuration/, "comments kept");
  const [sub] = cf.requestsTo("GET", `/accounts/${ACCOUNT_ID}/workers/subdomain`);
  assert.equal(sub.headers.authorization, `Bearer ${OAUTH_TOKEN}`, "the subdomain lookup uses wrangler's token too");

  const written = readFileSync(config, "utf8");
  r = await make(["provision", "ENV=staging"], env);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /\(already provisioned\)[\s\S]*nothing to change/);
  assert.equal(readFileSync(config, "utf8"), written, "idempotent");
  assert.equal(cf.requestsTo("POST", create).length, 1, "no second database");
});

test("API token, custom domain and issuer: an existing database is found, the route added, and the env deploys", async () => {
  const config = configCopy("domain");
  const dbName = names("production").db;
  const existing = cf.addDatabase(dbName);
  const env = cloudflareEnv({ cf, home: home(), login: "token", extra: { WRANGLER_CONFIG: config } });
  const posts = cf.requestsTo("POST", `/accounts/${ACCOUNT_ID}/d1/database`).length;
  let r = await make(["provision", "ENV=production", "DOMAIN=MCP.Example.com", "ISSUER=https://auth.example.com/"], env);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /login: CLOUDFLARE_API_TOKEN/);
  assert.match(r.out, new RegExp(`D1 ${re(dbName)}: ${existing.uuid} \\(found\\)`));
  assert.equal(cf.requestsTo("POST", `/accounts/${ACCOUNT_ID}/d1/database`).length, posts, "found, not created");
  const production = readConfig(config).env.production;
  assert.deepEqual(production.routes, [{ pattern: "mcp.example.com", custom_domain: true }]);
  assert.equal(production.vars.MCP_RESOURCE, "https://mcp.example.com/mcp");
  assert.equal(production.vars.OAUTH_ISSUER, "https://auth.example.com/");
  assert.equal(production.d1_databases[0].database_id, existing.uuid);
  // The copy's migrations_dir points back at the repository (configCopy); every other rule holds.
  assert.deepEqual(validateConfig(readConfig(config)).filter((p) => !p.includes("migrations_dir")), [],
    "Wrangler's parser reads it and the deploy rules hold");

  r = await make(["provision", "ENV=production", "DOMAIN=other.example.com"], env);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: env\.production\.vars\.MCP_RESOURCE is already https:\/\/mcp\.example\.com\/mcp; provision fills placeholders only/);
  r = await make(["deploy", "ENV=production"], { ...env, DRY_RUN: "1", ALLOW_DIRTY: "1" });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /dry-run: wrangler versions deploy <new-version-id>@100 --env production/, "no placeholders left");
});

test("provision refuses an id the account does not have, and an account without a workers.dev subdomain", async () => {
  const env = cloudflareEnv({ cf, home: home(), login: "token", extra: { WRANGLER_CONFIG: filledConfig("unknown-id") } });
  let r = await make(["provision", "ENV=staging"], env);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: env\.staging names D1 database_id 11111111-1111-1111-1111-111111111111, which this account does not have/);
  cf.setSubdomain(null);
  try {
    r = await make(["provision", "ENV=staging"], { ...env, WRANGLER_CONFIG: configCopy("no-subdomain") });
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /refused: this account has no workers\.dev subdomain yet/);
  } finally {
    cf.setSubdomain("acme");
  }
});

test("every ops target accepts wrangler login instead of an API token", async () => {
  const env = cloudflareEnv({ cf, home: home(), login: "oauth", extra: { WRANGLER_CONFIG: filledConfig("oauth-ops"), DRY_RUN: "1", ALLOW_DIRTY: "1" } });
  const expect = {
    deploy: /dry-run: wrangler versions upload --env staging/,
    promote: /dry-run: wrangler versions deploy v1@100 --env staging/,
    rollback: /dry-run: wrangler rollback v1 --env staging/,
    secrets: /dry-run: wrangler secret list --env staging --format json/,
    tail: /dry-run: wrangler tail --env staging --format json/,
    ledger: /dry-run: wrangler d1 execute DB --remote --env staging --json/,
  };
  for (const [target, plan] of Object.entries(expect)) {
    const r = await make([target, "ENV=staging", "VERSION=v1", "USER=someone"], env);
    assert.equal(r.code, 0, `${target}: ${r.out}`);
    assert.match(r.out, plan, target);
  }
});

test("rate-limit namespaces: the shipped ids are replaced by ids of the env's own, past those other Workers bind, once", async () => {
  const config = configCopy("namespaces");
  const shipped = readConfig(config);
  assert.deepEqual([...Object.values(shipped.env).flatMap((c) => c.ratelimits.map((r) => r.namespace_id))].sort(),
    [...SHIPPED_NAMESPACE_IDS].sort(), "provision knows the ids wrangler.jsonc ships with");
  const { worker } = names("staging");
  const [perCaller, perTool] = shipped.env.staging.ratelimits.map((r) => r.name);
  // Another project in the account already binds the id provision would try first for one binding.
  const first = namespaceIdFor(worker, perCaller);
  cf.addWorker(`other-project-${process.pid}`, { bindings: [{ type: "ratelimit", name: "LIMIT", namespace_id: first, simple: { limit: 5, period: 10 } }] });
  const env = cloudflareEnv({ cf, home: home(), login: "token", extra: { WRANGLER_CONFIG: config } });

  let r = await make(["provision", "ENV=staging"], { ...env, DRY_RUN: "1" });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`^dry-run: would set env\\.staging\\.ratelimits\\.0\\.namespace_id = ${Number(first) + 1}$`, "m"), r.out);
  r = await make(["provision", "ENV=staging"], env);
  assert.equal(r.code, 0, r.out);
  const staging = read(config).env.staging.ratelimits;
  assert.equal(staging[0].namespace_id, String(Number(first) + 1), "moved past the id the other Worker binds");
  assert.equal(staging[1].namespace_id, namespaceIdFor(worker, perTool), "the derived id, free in the account");
  assert.match(r.out, new RegExp(`rate-limit namespace ${perCaller}: ${staging[0].namespace_id} \\(was 7001, the id wrangler\\.jsonc ships with`));
  assert.match(readFileSync(config, "utf8"), /\/\/ namespace_id: unique per account\./, "comments kept");
  const listed = cf.requestsTo("GET", `/accounts/${ACCOUNT_ID}/workers/scripts`);
  assert.ok(listed.length >= 1, "the account's Workers were listed");

  const written = readFileSync(config, "utf8");
  r = await make(["provision", "ENV=staging"], env);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /nothing to change/);
  assert.equal(readFileSync(config, "utf8"), written, "idempotent");

  // production gets ids of its own, none of staging's; every environment deploys (no shared counter).
  r = await make(["provision", "ENV=production"], env);
  assert.equal(r.code, 0, r.out);
  const ids = Object.values(read(config).env).flatMap((c) => c.ratelimits.map((x) => x.namespace_id));
  assert.equal(new Set(ids).size, SHIPPED_NAMESPACE_IDS.length, ids.join());
  assert.ok(ids.every((id) => /^[1-9]\d{8}$/.test(id) && !SHIPPED_NAMESPACE_IDS.includes(id)), ids.join());
  assert.deepEqual(validateConfig(readConfig(config)).filter((p) => !p.includes("migrations_dir")), []);
});

test("rate-limit namespaces: an id the operator set is kept, and one another Worker binds too is named", async () => {
  const config = configCopy("namespaces-kept");
  writeFileSync(config, readFileSync(config, "utf8").replace('"namespace_id": "7001"', '"namespace_id": "424242"')
    .replace('"namespace_id": "7003"', '"namespace_id": "424242"'));
  cf.addWorker(`shares-424242-${process.pid}`, { bindings: [{ type: "ratelimit", name: "L", namespace_id: "424242", simple: { limit: 1, period: 60 } }] });
  const env = cloudflareEnv({ cf, home: home(), login: "token", extra: { WRANGLER_CONFIG: config } });
  const r = await make(["provision", "ENV=staging"], env);
  assert.equal(r.code, 0, r.out);
  const [a, b] = read(config).env.staging.ratelimits;
  assert.equal(a.namespace_id, "424242", "kept");
  assert.match(r.out, new RegExp(`note: ratelimit ${a.name}: namespace 424242 kept; Worker shares-424242-${process.pid} binds it too`));
  assert.notEqual(b.namespace_id, "424242", "a second binding of the same env never shares the counter");
  assert.match(r.out, new RegExp(`rate-limit namespace ${b.name}: ${b.namespace_id} \\(was 424242, another binding of this environment has it`));
  assert.deepEqual(validateConfig({ env: { a: { ratelimits: [{ name: "X", namespace_id: "1" }] }, b: { ratelimits: [{ name: "Y", namespace_id: "1" }] } } })
    .filter((p) => p.includes("namespace")), ["env.b: ratelimit Y has namespace_id 1, as env.a X does: they would share one counter (make provision gives each its own)"]);
});
