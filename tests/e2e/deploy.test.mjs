// `make deploy` for real (no DRY_RUN): scripts/ops.mjs runs the real, pinned Wrangler against the
// fake Cloudflare API, which keeps each Worker's Durable Object migration tag, versions and
// deployments. Every assertion is on what Wrangler itself sent to the fake. One Worker goes
// through four releases, in order:
//   1. a new Worker: its migration is pending, so deploy uses `wrangler deploy` (which applies it;
//      `wrangler versions upload` refuses), at 100%;
//   2. no new migration, PERCENT=10: `versions upload`, then `versions deploy` split 10/90;
//   3. a release that adds a migration, PERCENT=10: `wrangler deploy` again, at 100%;
//   4. `make rollback`: Wrangler's own choice, the last version that served 100% before.
// Wrangler uploads build/index.js as it is: the release build must exist (the test never builds).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, filledConfig } from "./harness.mjs";
import { ACCOUNT_ID, cloudflareEnv, startFakeCloudflare } from "./fake-cloudflare.mjs";
import { parseJsonc } from "../../scripts/jsonc.mjs";
import { kitMigrationsDir, mergeMigrations } from "../../scripts/migrations.mjs";

const COMMIT = "0123456789ab";
const TIMEOUT = { timeout: 300_000 };
const made = [];

/**
 * A filled copy of wrangler.jsonc as JSON, without build.command (Wrangler would run `make worker`;
 * the test uploads the bundle already in build/), with `extra` migrations after the kit's own.
 */
function deployConfig(label, extra = []) {
  const filled = filledConfig(label);
  const config = parseJsonc(readFileSync(filled, "utf8")).value;
  delete config.build;
  config.migrations = [...config.migrations, ...extra];
  const path = filled.replace(/\.jsonc$/, ".json");
  writeFileSync(path, JSON.stringify(config, null, 2));
  made.push(filled, path);
  return { path, config };
}

/** node scripts/ops.mjs <args>: resolves to { code, out } whatever the exit status. */
function ops(args, env) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["scripts/ops.mjs", ...args], { cwd: ROOT, env, timeout: 240_000, maxBuffer: 1 << 24 }, (e, stdout, stderr) => {
      if (e?.killed) reject(new Error(`ops ${args.join(" ")} did not finish:\n${stdout}${stderr}`));
      else resolve({ code: e ? e.code : 0, out: stdout + stderr });
    });
  });
}

let cf;
let home;
let base;
let worker;
let dbId;
const scriptPath = () => `/accounts/${ACCOUNT_ID}/workers/scripts/${worker}`;
/** The requests Wrangler sent during `fn`. */
async function during(fn) {
  const from = cf.requests.length;
  const result = await fn();
  return { ...result, sent: cf.requests.slice(from) };
}
const sent = (reqs, method, path) => reqs.filter((r) => r.method === method && r.path === path);
const envFor = (config) => cloudflareEnv({ cf, home, login: "token",
  extra: { WRANGLER_CONFIG: config, MKIT_COMMIT: COMMIT, ALLOW_DIRTY: "1", DRY_RUN: "" } });

before(async () => {
  assert.ok(existsSync(join(ROOT, "build/index.js")), "build/index.js is missing: build the worker first (make worker)");
  base = deployConfig("deploy");
  worker = base.config.env.staging.name;
  dbId = base.config.env.staging.d1_databases[0].database_id;
  cf = await startFakeCloudflare({ subdomain: "acme" });
  cf.addDatabase(base.config.env.staging.d1_databases[0].database_name, dbId);
  home = mkdtempSync(join(tmpdir(), "mkit-deploy-"));
});
after(async () => {
  await cf?.stop();
  for (const f of made) rmSync(f, { force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

test("a new Worker: D1 migrations, then `wrangler deploy` applies the Durable Object migration at 100%", TIMEOUT, async () => {
  const r = await during(() => ops(["deploy", "--env", "staging"], envFor(base.path)));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /pending Durable Object migration \(a new Worker; wrangler\.jsonc ends at v1-mcp-objects\)/);
  assert.match(r.out, /This step is NOT gradual: the new version serves 100% of staging at once/);

  const files = mergeMigrations([kitMigrationsDir(), join(ROOT, "migrations")]).map((f) => f.name);
  assert.ok(files.includes("0001_init.sql") && files.includes("0002_notes.sql"), `the kit's and the server's: ${files}`);
  assert.deepEqual(cf.d1.get(dbId).applied, files, "every D1 migration, the kit's and the server's, in order");
  const put = sent(r.sent, "PUT", scriptPath());
  assert.equal(put.length, 1, "one script upload (wrangler deploy)");
  assert.equal(sent(r.sent, "POST", `${scriptPath()}/versions`).length, 0, "no versions upload");
  const lastD1 = r.sent.findLastIndex((q) => q.path.endsWith(`/d1/database/${dbId}/query`));
  assert.ok(lastD1 < r.sent.indexOf(put[0]), "the schema is migrated before the upload");

  const s = cf.scripts.get(worker);
  assert.equal(s.migration_tag, "v1-mcp-objects");
  assert.deepEqual(s.migrations, [{ old_tag: null, new_tag: "v1-mcp-objects",
    steps: [{ new_sqlite_classes: base.config.migrations[0].new_sqlite_classes }] }]);
  const [version] = s.versions;
  assert.deepEqual(s.deployments[0].versions, [{ version_id: version.id, percentage: 100 }]);
  assert.ok(version.modules.some((m) => m.endsWith(".wasm")), `the release bundle's wasm was uploaded: ${version.modules}`);
  assert.equal(version.annotations["workers/tag"], COMMIT);
  assert.equal(version.annotations["workers/message"], `mkit ${COMMIT}`);
  assert.match(r.out, new RegExp(`deploy: version ${version.id} serves 100% of staging, migration v1-mcp-objects applied`));
  // `wrangler deploy` also set up what `versions deploy` leaves alone: the cron and workers.dev.
  assert.deepEqual(s.schedules, base.config.triggers.crons.map((cron) => ({ cron })));
});

test("no new migration, PERCENT=10: versions upload, then versions deploy split 10/90 with the live version", TIMEOUT, async () => {
  const s = cf.scripts.get(worker);
  const live = s.versions[0].id;
  const applied = [...cf.d1.get(dbId).applied];
  const r = await during(() => ops(["deploy", "--env", "staging", "--percentage", "10"], envFor(base.path)));
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /pending Durable Object migration/);
  assert.equal(sent(r.sent, "PUT", scriptPath()).length, 0, "no wrangler deploy");
  assert.equal(sent(r.sent, "POST", `${scriptPath()}/versions`).length, 1, "one versions upload");
  assert.deepEqual(cf.d1.get(dbId).applied, applied, "no D1 migration was left to apply");

  const [post] = sent(r.sent, "POST", `${scriptPath()}/deployments`);
  const uploaded = s.versions.at(-1).id;
  assert.deepEqual(JSON.parse(post.body).versions, [{ version_id: uploaded, percentage: 10 }, { version_id: live, percentage: 90 }]);
  assert.deepEqual(s.deployments[0].versions, JSON.parse(post.body).versions);
  assert.equal(s.migration_tag, "v1-mcp-objects", "no migration applied");
  assert.match(r.out, new RegExp(`make promote ENV=staging VERSION=${uploaded}`));
});

test("a release that adds a migration: `wrangler deploy` again, 100% at once, PERCENT ignored", TIMEOUT, async () => {
  // A migration step with only a tag: the fake applies it like any other, and the bundle need not change.
  const next = deployConfig("deploy-v2", [{ tag: "v2-e2e-release" }]);
  const s = cf.scripts.get(worker);
  const r = await during(() => ops(["deploy", "--env", "staging", "--percentage", "10"], envFor(next.path)));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /pending Durable Object migration \(the Worker is at v1-mcp-objects; wrangler\.jsonc ends at v2-e2e-release\)/);
  assert.match(r.out, /NOT gradual: the new version serves 100% of staging at once \(PERCENT=10 is ignored for it\)/);
  assert.equal(sent(r.sent, "PUT", scriptPath()).length, 1, "wrangler deploy");
  assert.equal(sent(r.sent, "POST", `${scriptPath()}/versions`).length, 0, "no versions upload");
  assert.equal(s.migration_tag, "v2-e2e-release");
  assert.deepEqual(s.migrations.at(-1), { old_tag: "v1-mcp-objects", new_tag: "v2-e2e-release", steps: [{}] });
  assert.deepEqual(s.deployments[0].versions, [{ version_id: s.versions.at(-1).id, percentage: 100 }], "the 10/90 split is replaced");
});

test("make rollback: Wrangler deploys the last version that served 100% before, and the fake knew every call", TIMEOUT, async () => {
  const s = cf.scripts.get(worker);
  const r = await during(() => ops(["rollback", "--env", "staging"], envFor(base.path)));
  assert.equal(r.code, 0, r.out);
  const [post] = sent(r.sent, "POST", `${scriptPath()}/deployments`);
  const first = s.versions[0].id;
  const body = JSON.parse(post.body);
  assert.deepEqual(body.versions, [{ version_id: first, percentage: 100 }]);
  assert.equal(body.annotations["workers/message"], "make rollback");
  assert.deepEqual(s.deployments[0].versions, [{ version_id: first, percentage: 100 }]);
  assert.deepEqual(cf.unrouted().map((q) => `${q.method} ${q.path}`), [], "every call Wrangler made has a route in the fake");
});
