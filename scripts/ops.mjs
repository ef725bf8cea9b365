// `make deploy | promote | rollback | secrets | tail`: Wrangler, non-interactively, for one environment.
// deploy: D1 migrations (the kit's and yours, assembled by scripts/migrations.mjs), then
// `versions upload` + `versions deploy` (gradual with --percentage);
// when a Durable Object migration is pending (always on a new Worker), `wrangler deploy` instead,
// at 100%: `versions upload` refuses to apply one.
//
//   node scripts/ops.mjs deploy   --env staging [--percentage 10] [--message "…"]
//   node scripts/ops.mjs promote  --env staging --version <version id>
//   node scripts/ops.mjs rollback --env production [--version <version id>] [--message "…"]
//   node scripts/ops.mjs secrets  --env production
//   node scripts/ops.mjs tail     --env production
//
// Every command refuses to start, with the reason, when there is no Cloudflare login (neither
// CLOUDFLARE_API_TOKEN nor a stored `wrangler login`: Wrangler would otherwise wait for an
// interactive login), when the environment is not one of wrangler.jsonc's, or when its
// placeholders are not filled in.
// DRY_RUN=1 prints the Wrangler commands instead of running them (what the tests check), and
// makes no API call: it says that deploy would check for a pending Durable Object migration.

import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import { dirname, join, resolve } from "node:path";
import { undeployable } from "./bundle-check.mjs";
import { apiCredentials, cloudflareApi, Refusal, requireLogin, workerNotFound, WRANGLER } from "./cloudflare.mjs";
import { assembleMigrations, Refusal as MigrationRefusal } from "./migrations.mjs";
import { contractVars, readConfig, ROOT, SECRET_NAMES } from "./wrangler-config.mjs";

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const opts = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i]?.startsWith("--")) throw new Refusal(`unexpected argument ${rest[i]}`);
    opts[rest[i].slice(2)] = rest[i + 1] ?? "";
  }
  return { command, opts };
}

/** What every command needs before it may talk to Cloudflare. */
async function preflight(opts, { needsFilledConfig = true } = {}) {
  await requireLogin();
  const config = readConfig(process.env.WRANGLER_CONFIG);
  const envs = Object.keys(config.env ?? {});
  if (!opts.env) throw new Refusal(`ENV is required: one of ${envs.join(", ")}`);
  if (!envs.includes(opts.env)) throw new Refusal(`ENV=${opts.env} is not an environment in wrangler.jsonc (${envs.join(", ")})`);
  const placeholders = JSON.stringify(config.env[opts.env]).match(/REPLACE_WITH_[A-Z0-9_]+/g);
  if (needsFilledConfig && placeholders) {
    throw new Refusal(`wrangler.jsonc env.${opts.env} still has placeholders: ${[...new Set(placeholders)].join(", ")} (see docs/deployment.md)`);
  }
  return config;
}

const configArgs = () => (process.env.WRANGLER_CONFIG ? ["--config", process.env.WRANGLER_CONFIG] : []);

/** Runs Wrangler (or, with DRY_RUN=1, prints the command); returns its stdout when captured. */
function wrangler(args, { capture = false } = {}) {
  const full = [...args, ...configArgs()];
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: wrangler ${full.map((a) => (/^[\w@./:=,<>-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")}`);
    return Promise.resolve(capture ? null : "");
  }
  return new Promise((resolve, reject) => {
    const child = spawn(WRANGLER, full, { cwd: ROOT, stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"],
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } });
    let out = "";
    child.stdout?.on("data", (d) => { out += d; process.stdout.write(d); });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`wrangler ${args.slice(0, 2).join(" ")} exited ${code}`))));
  });
}

/** The kit's migrations and yours into the directory wrangler.jsonc names (or, with DRY_RUN=1, the command). */
function assemble() {
  if (process.env.DRY_RUN === "1") {
    console.log("dry-run: node scripts/migrations.mjs");
    return;
  }
  try {
    assembleMigrations();
  } catch (e) {
    throw e instanceof MigrationRefusal ? new Refusal(e.message) : e;
  }
}

function percentage(opts) {
  if (opts.percentage === undefined || opts.percentage === "") return 100;
  const p = Number(opts.percentage);
  if (!Number.isInteger(p) || p < 1 || p > 100) throw new Refusal(`PERCENT must be a whole number from 1 to 100, got ${opts.percentage}`);
  return p;
}

async function deploy(opts) {
  const config = await preflight(opts);
  const pct = percentage(opts);
  const commit = process.env.MKIT_COMMIT ?? "unknown";
  if (commit.endsWith("-dirty") && process.env.ALLOW_DIRTY !== "1") {
    throw new Refusal(`the build is from uncommitted changes (${commit}); commit first, or set ALLOW_DIRTY=1`);
  }
  const testOnly = process.env.DRY_RUN === "1" ? null
    : undeployable(resolve(dirname(process.env.WRANGLER_CONFIG ?? join(ROOT, "wrangler.jsonc")), config.main ?? "build/index.js"));
  if (testOnly) throw new Refusal(testOnly);
  const message = opts.message || `mkit ${commit}`;
  const env = ["--env", opts.env];
  const tag = ["--tag", commit.slice(0, 25)];
  // Schema first: the new version must never run against old tables (migrations only add).
  assemble();
  await wrangler(["d1", "migrations", "apply", "DB", "--remote", ...env]);
  const pending = await pendingMigration(config, opts.env);
  if (pending) {
    const applied = pending.applied ? `the Worker is at ${pending.applied}` : pending.exists ? "none applied yet" : "a new Worker";
    console.log(`\ndeploy: ${pending.worker} has a pending Durable Object migration (${applied}; ` +
      `wrangler.jsonc ends at ${pending.target}). \`wrangler versions upload\` refuses to apply one, so this release runs ` +
      "`wrangler deploy`, which applies it.\nThis step is NOT gradual: the new version serves 100% of " +
      `${opts.env} at once${pct < 100 ? ` (PERCENT=${pct} is ignored for it)` : ""}. ` +
      "Later releases without a new migration roll out gradually again.\n");
    const out = await wrangler(["deploy", ...env, ...tag, "--message", message], { capture: true });
    const id = out.match(/Current Version ID:\s*([0-9a-f-]{36})/)?.[1] ?? "(see wrangler's output)";
    console.log(`\ndeploy: version ${id} serves 100% of ${opts.env}, migration ${pending.target} applied. ` +
      `Next: make check URL=<${opts.env} URL> (or make rollback ENV=${opts.env})`);
    return;
  }
  const out = await wrangler(["versions", "upload", ...env, ...tag, "--message", message], { capture: true });
  const id = out === null ? "<new-version-id>" : out.match(/Worker Version ID:\s*([0-9a-f-]{36})/)?.[1];
  if (!id) throw new Error("could not read the uploaded Worker Version ID from wrangler's output");
  let specs = [`${id}@100`];
  if (pct < 100) {
    const current = await currentVersion(env);
    specs = [`${id}@${pct}`, `${current}@${100 - pct}`];
  }
  await wrangler(["versions", "deploy", ...specs, ...env, "--yes", "--message", message]);
  console.log(`\ndeploy: version ${id} serves ${pct}% of ${opts.env}. Next: make check URL=<${opts.env} URL>` +
    (pct < 100 ? `, then make promote ENV=${opts.env} VERSION=${id} (or make rollback ENV=${opts.env})` : ""));
}

/**
 * The Durable Object migration `wrangler versions upload` would refuse, or null. The same test as
 * Wrangler's getMigrationsToUpload: the Worker's default_environment.script.migration_tag (from
 * GET /accounts/<id>/workers/services/<name>) against the last tag of the environment's
 * migrations (inherited from the top level unless the environment sets its own); a Worker not
 * found is new, so every migration is pending.
 */
async function pendingMigration(config, envName) {
  const migrations = config.env[envName].migrations ?? config.migrations ?? [];
  if (migrations.length === 0) return null;
  const worker = config.env[envName].name ?? `${config.name}-${envName}`;
  const target = migrations.at(-1).tag;
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: check ${worker}'s Durable Object migration tag (GET /accounts/<account>/workers/services/${worker}); ` +
      `unless it is ${target}, \`wrangler deploy --env ${envName}\` (100% at once, applies the migration) replaces the upload and deploy below`);
    return null;
  }
  const { token, accountId } = await apiCredentials(config);
  let applied = null;
  let exists = true;
  try {
    const service = await cloudflareApi(`/accounts/${accountId}/workers/services/${worker}`, { token });
    applied = service?.default_environment?.script?.migration_tag ?? null;
  } catch (e) {
    if (!workerNotFound(e)) throw e;
    exists = false;
  }
  return applied === target ? null : { worker, applied, target, exists };
}

/** The version serving the most traffic now (the one a gradual rollout splits with). */
async function currentVersion(env) {
  const out = await wrangler(["deployments", "status", ...env, "--json"], { capture: true });
  if (out === null) return "<current-version-id>";
  const versions = JSON.parse(out).versions ?? [];
  const top = versions.sort((a, b) => b.percentage - a.percentage)[0];
  if (!top) throw new Refusal("there is no deployment to roll out against: deploy at 100% first");
  return top.version_id;
}

async function promote(opts) {
  await preflight(opts);
  if (!opts.version) throw new Refusal("VERSION is required: the version id `make deploy` printed");
  await wrangler(["versions", "deploy", `${opts.version}@100`, "--env", opts.env, "--yes", "--message", `promote ${opts.version}`]);
}

async function rollback(opts) {
  await preflight(opts, { needsFilledConfig: false });
  const args = ["rollback", ...(opts.version ? [opts.version] : []), "--env", opts.env, "--yes",
    "--message", opts.message || "make rollback"];
  await wrangler(args);
  console.log("\nrollback: done. Confirm with make check URL=… (the commit in /healthz must be the known-good one).");
}

async function secrets(opts) {
  await preflight(opts, { needsFilledConfig: false });
  const out = await wrangler(["secret", "list", "--env", opts.env, "--format", "json"], { capture: true });
  if (out === null) return;
  const { lines, missing } = secretReport(JSON.parse(out).map((s) => s.name));
  for (const l of lines) console.log(l);
  if (missing) {
    console.log(`\nset it with: scripts/bin/node node_modules/.bin/wrangler secret put <NAME> --env ${opts.env}`);
    process.exitCode = 1;
  }
}

/** One line per contract secret: set, MISSING (required) or unset (optional). */
export function secretReport(setNames) {
  const set = new Set(setNames);
  const secrets = contractVars().filter((v) => SECRET_NAMES.has(v.name));
  const lines = secrets.map(({ name, required }) =>
    `${set.has(name) ? "set    " : required ? "MISSING" : "unset  "}  ${name} (${required ? "required" : "optional"})`);
  return { lines, missing: secrets.filter((v) => v.required && !set.has(v.name)).length };
}

async function tail(opts) {
  await preflight(opts, { needsFilledConfig: false });
  await wrangler(["tail", "--env", opts.env, "--format", "json"]);
}

/** `make deploy` runs this before building: refuse early, not after a long build. */
async function preflightOnly(opts) {
  await preflight(opts);
  percentage(opts);
}

const COMMANDS = { preflight: preflightOnly, deploy, promote, rollback, secrets, tail };

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const { command, opts } = parseArgs(process.argv.slice(2));
    const run = COMMANDS[command];
    if (!run) throw new Refusal(`usage: node scripts/ops.mjs <${Object.keys(COMMANDS).join("|")}> --env <environment> …`);
    await run(opts);
  } catch (e) {
    console.error(`${e instanceof Refusal ? "refused" : "failed"}: ${e.message}`);
    process.exit(e instanceof Refusal ? 2 : 1);
  }
}
