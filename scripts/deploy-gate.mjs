// `make deploy-check` (part of `make test`): is this tree deployable? wrangler.jsonc keeps the rules
// in scripts/wrangler-config.mjs, and the release bundle, as `wrangler deploy --dry-run` packs it
// for production, stays under the size budget.

import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { promisify } from "node:util";
import { dirname, resolve } from "node:path";
import { undeployable } from "./bundle-check.mjs";
import { readConfig, schemaKnowsInvocationLogs, validateConfig, ROOT } from "./wrangler-config.mjs";

// Not a platform limit: Cloudflare removed the compressed size limits on 2026-09-04 (64 MiB
// uncompressed on every plan, with a 1 s startup limit). The budget stands for cold start and
// upload time, and scales with the kit's features a server is built with (issue 29): the core,
// each feature's share, and room for the seller's own tools. Measured 2026-12-05 (zlib level 9
// of the wasm, with the template's example tools): core 272.2 KiB; alone, auth-server +69.9,
// billing +58.8 (machine payments joined it, then the paywall's use of a caller's counters
// object), sessions +47.2, tasks +65.5; the default four 478.4 (they share code, so the sum is an
// upper bound). `counters` (not default, with billing) adds 32.2 to billing alone and 22.9 to the
// default four (501.3). Wrangler's dry-run of the release bundle: 490.8 KiB.
// The features' shares grew when their code came out of the core (#[cfg] rather than a switch at
// run time, issue 29); the core lost 72 KiB when URLs came to be parsed by workerd's own `URL`
// instead of the `url` crate, and gained 7.2 KiB (265.0 → 272.2) with the session that moved prices
// out of the protocol core into the paywall's gate and made both crates (276.0 before a caller's
// account stopped crossing the gate as JSON). Each share is set above its measure, so the
// seller's room stays whole in every combination.
export const CORE_KIB = 275;
export const FEATURE_KIB = { "auth-server": 72, billing: 60, sessions: 56, tasks: 74, counters: 34 };
/** The features a server has by default; the others are a seller's choice. */
export const DEFAULT_FEATURES = ["auth-server", "billing", "sessions", "tasks"];
/** What a feature brings with it (Cargo's `counters = ["billing"]`). */
const IMPLIES = { counters: ["billing"] };
/** What a seller's own tools may add on top of the kit, whatever its features. */
export const SELLER_ROOM_KIB = 128;
const withImplied = (features) => [...new Set(features.flatMap((f) => [...(IMPLIES[f] ?? []), f]))];
export const budgetKib = (features) => CORE_KIB + withImplied(features).reduce((n, f) => n + FEATURE_KIB[f], 0) + SELLER_ROOM_KIB;
/** The release build has every default feature. */
export const BUDGET_GZIP_KIB = budgetKib(DEFAULT_FEATURES);

const config = process.env.WRANGLER_CONFIG ?? join(ROOT, "wrangler.jsonc");
const problems = validateConfig(readConfig(config));
const testOnly = undeployable(resolve(dirname(config), readConfig(config).main ?? "build/index.js"));
if (testOnly) problems.push(testOnly);
if (!schemaKnowsInvocationLogs()) problems.push("the pinned Wrangler's config schema has no observability.logs.invocation_logs: recheck the logging rule");
for (const p of problems) console.error(`FAIL wrangler.jsonc: ${p}`);
if (problems.length === 0) console.log(`PASS wrangler.jsonc: ${Object.keys(readConfig(config).env).join(", ")} have DB and the same vars`);

const outdir = join(ROOT, ".deploy-check");
rmSync(outdir, { recursive: true, force: true });
const { stdout } = await promisify(execFile)(join(ROOT, "node_modules/.bin/wrangler"),
  ["deploy", "--dry-run", "--outdir", outdir, "--env", "production", "--config", config],
  { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, maxBuffer: 1 << 22 });
const m = stdout.match(/Total Upload:\s*([\d.]+) KiB \/ gzip:\s*([\d.]+) KiB/);
if (!m) {
  console.error(`FAIL bundle: no "Total Upload" line in wrangler's dry-run output:\n${stdout}`);
  process.exit(1);
}
const [raw, gzip] = [Number(m[1]), Number(m[2])];
let failed = gzip > BUDGET_GZIP_KIB;
console.log(`${failed ? "FAIL" : "PASS"} bundle: ${gzip} KiB gzip (${raw} KiB raw), budget ${BUDGET_GZIP_KIB} KiB gzip (${((100 * gzip) / BUDGET_GZIP_KIB).toFixed(0)}%); platform limit 64 MiB uncompressed`);
// The server built with none of the kit's features, with each one alone, and with all of them,
// as a seller would with `default-features = false` (SKIP_FEATURE_BUILDS=1 skips them, e.g. in a
// quick local check). Shares add up (measured: none + each alone is within 2 KiB of all), so
// these bound every other combination without building all sixteen.
if (process.env.SKIP_FEATURE_BUILDS !== "1") {
  for (const features of featureCombinations()) {
    const kib = await featureBuildKib(features);
    const budget = budgetKib(features);
    const ok = kib <= budget;
    failed ||= !ok;
    console.log(`${ok ? "PASS" : "FAIL"} bundle with features [${features.join(", ")}]: ${kib.toFixed(1)} KiB gzip -9 of the wasm, budget ${budget} KiB`);
  }
}
process.exit(problems.length || failed ? 1 : 0);

/** None of the kit's features, each alone, the default set and all (measured the same way as the rest). */
function featureCombinations() {
  const names = Object.keys(FEATURE_KIB);
  return [[], ...names.map((n) => [n]), DEFAULT_FEATURES, names];
}

/** Builds this server with exactly `features` of the kit; the wasm's gzip -9 size in KiB. */
async function featureBuildKib(features) {
  const out = join(ROOT, "target", "feature-builds", features.join("+") || "none");
  const args = ["--release", "--out-dir", out, "--no-default-features", ...(features.length ? ["--features", features.join(",")] : [])];
  await promisify(execFile)("worker-build", args, { cwd: ROOT, maxBuffer: 1 << 24 });
  return gzipSync(readFileSync(join(out, "index_bg.wasm")), { level: 9 }).length / 1024;
}
