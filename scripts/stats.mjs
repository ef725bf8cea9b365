// `make stats ENV=staging|production [SINCE=24h]`: calls, errors and p50/p99 latency per tool, from
// the Workers Analytics Engine dataset the Worker writes one data point per tools/call to
// (crates/mkit/src/stats.rs documents the layout; COLUMNS below is its other half).
//
// Reads through the Analytics Engine SQL API with the environment's Cloudflare login. The API
// needs Account Analytics: Read, which `wrangler login` does not grant: use an API token with it
// (CLOUDFLARE_API_TOKEN). Refuses when the environment binds no dataset (MKIT_STATS in
// wrangler.jsonc), or SINCE is not a duration such as 30m, 24h or 7d (at most 90d: the dataset
// keeps three months). DRY_RUN=1 prints the query instead of sending it.
//
// Then the machine payments (x402) per tool over the same window, from the D1 ledger, which alone
// knows them: settled count and settled amount (the asset's atomic units, summed exactly), and the
// failed and unconfirmed counts. One `wrangler d1 execute DB --remote --env ENV --json` SELECT,
// with the same login (the token's D1: Edit, which deploying needs anyway); refused while ENV's D1
// id is a placeholder. DRY_RUN=1 prints that command too. Tests: MKIT_STATS_D1_PERSIST=<dir> reads
// a local D1 instead (`--local --persist-to <dir>`, the top-level config's DB).

import { ApiError, apiCredentials, cloudflareApi, parseOptions, Refusal, runMain, wranglerJson } from "./cloudflare.mjs";
import { readConfig } from "./wrangler-config.mjs";

/** Where crates/mkit/src/stats.rs puts each fact; a test checks real data points against this. */
export const COLUMNS = { tool: "blob1", outcome: "blob2", billing: "blob3", protocol_version: "blob4", client: "blob5",
  duration_ms: "double1", status: "double2" };
export const BINDING = "MKIT_STATS";
const UNITS = { m: ["MINUTE", 1], h: ["HOUR", 60], d: ["DAY", 1440] };

/** SINCE as an SQL interval: "24h" → ["24", "HOUR"]. */
export function interval(since = "") {
  const m = /^(\d{1,4})([mhd])$/.exec(since || "24h");
  if (!m || Number(m[1]) === 0 || Number(m[1]) * UNITS[m[2]][1] > 90 * 1440) {
    throw new Refusal(`SINCE=${since} is not a duration from 1m to 90d, such as 30m, 24h or 7d`);
  }
  return [m[1], UNITS[m[2]][0]];
}

/** A window's length in seconds: ["24", "HOUR"] → 86400. */
export function windowSecs([n, unit]) {
  const minutes = Object.fromEntries(Object.values(UNITS));
  return Number(n) * minutes[unit] * 60;
}

/** The dataset ENV's Worker writes to. */
export function dataset(config, env) {
  const envs = Object.keys(config.env ?? {});
  if (!env) throw new Refusal(`ENV is required: one of ${envs.join(", ")}`);
  if (!envs.includes(env)) throw new Refusal(`ENV=${env} is not an environment in wrangler.jsonc (${envs.join(", ")})`);
  const bound = (config.env[env].analytics_engine_datasets ?? []).find((d) => d.binding === BINDING);
  if (!bound?.dataset) {
    throw new Refusal(`env.${env} binds no Analytics Engine dataset as ${BINDING}: add ` +
      `"analytics_engine_datasets": [{ "binding": "${BINDING}", "dataset": "<name>" }] and deploy (docs/runbook.md#metrics)`);
  }
  if (!/^[A-Za-z0-9_]+$/.test(bound.dataset)) throw new Refusal(`dataset name ${bound.dataset} must be letters, digits and underscores`);
  return bound.dataset;
}

/** One row per tool: sampled counts are weighted by _sample_interval, as Analytics Engine requires. */
export function statsSql(table, [n, unit]) {
  const c = COLUMNS;
  return [
    `SELECT ${c.tool} AS tool,`,
    "  SUM(_sample_interval) AS calls,",
    `  SUM(IF(${c.outcome} = 'ok', 0, _sample_interval)) AS errors,`,
    `  SUM(IF(${c.billing} = 'payment_required', _sample_interval, 0)) AS payment_required,`,
    `  quantileExactWeighted(0.5)(${c.duration_ms}, _sample_interval) AS p50_ms,`,
    `  quantileExactWeighted(0.99)(${c.duration_ms}, _sample_interval) AS p99_ms`,
    `FROM ${table}`,
    `WHERE timestamp > NOW() - INTERVAL '${n}' ${unit}`,
    "GROUP BY tool",
    "ORDER BY calls DESC",
    "FORMAT JSON",
  ].join("\n");
}

/** The rows as a table; numbers may arrive as strings (64-bit integers in JSON). */
export function formatStats(rows, label) {
  const head = ["tool", "calls", "errors", "error %", "payment_required", "p50 ms", "p99 ms"];
  const num = (v) => Number(v ?? 0);
  const body = rows.map((r) => [String(r.tool), num(r.calls), num(r.errors),
    num(r.calls) ? (100 * num(r.errors) / num(r.calls)).toFixed(1) : "0.0", num(r.payment_required),
    num(r.p50_ms).toFixed(1), num(r.p99_ms).toFixed(1)].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  const out = [label, line(head), ...body.map(line)];
  if (!rows.length) out.push("(no tool calls in this window)");
  return out.join("\n");
}

// ---- machine payments (D1) --------------------------------------------------------------------

/** The states a closed payment ends in; verifying (in flight) is left to the reconciliation. */
const CLOSED = ["settled", "failed", "unconfirmed"];

/** Closed payments created in the window, grouped down to their distinct amounts: a tool's price
 *  is fixed, so the rows stay few, and no SQL arithmetic touches the amounts (TEXT, wider than
 *  SQLite's integers for some assets). */
export function paymentsSql(sinceSecs) {
  return "SELECT tool, network, asset, state, amount, COUNT(*) AS payments FROM machine_payments " +
    `WHERE state IN (${CLOSED.map((s) => `'${s}'`).join(", ")}) AND created_at > ${Math.floor(sinceSecs)} ` +
    "GROUP BY tool, network, asset, state, amount ORDER BY tool, network, asset, state, amount";
}

/** The Wrangler command reading them: ENV's remote D1, or (tests) a local persisted one. */
export function paymentsCommand(config, env, sql, vars = process.env) {
  const persist = vars.MKIT_STATS_D1_PERSIST;
  if (!persist) {
    const placeholders = JSON.stringify(config.env[env].d1_databases ?? []).match(/REPLACE_WITH_[A-Z0-9_]+/g);
    if (placeholders) {
      throw new Refusal(`wrangler.jsonc env.${env} still has placeholders: ${[...new Set(placeholders)].join(", ")} ` +
        "(machine payments are read from its D1; see docs/deployment.md)");
    }
  }
  const where = persist ? ["--local", "--persist-to", persist] : ["--remote", "--env", env];
  const configArgs = vars.WRANGLER_CONFIG ? ["--config", vars.WRANGLER_CONFIG] : [];
  return ["d1", "execute", "DB", ...where, "--json", "--command", sql, ...configArgs];
}

/** A stored amount as a BigInt; one that is not decimal digits counts as 0, as the worker's sum does. */
const atomic = (amount) => (/^\d+$/.test(String(amount)) ? BigInt(amount) : 0n);

/** One row per tool, network and asset: exact sums in BigInt, since amounts outgrow a JS number. */
export function paymentStats(rows) {
  const byKey = new Map();
  for (const r of rows) {
    const key = JSON.stringify([r.tool, r.network, r.asset]);
    const t = byKey.get(key) ?? { tool: r.tool, network: r.network, asset: r.asset, settled: 0, settled_amount: 0n,
      failed: 0, unconfirmed: 0 };
    const n = Number(r.payments);
    t[r.state] += n;
    if (r.state === "settled") t.settled_amount += atomic(r.amount) * BigInt(n);
    byKey.set(key, t);
  }
  return [...byKey.values()].map((t) => ({ ...t, settled_amount: t.settled_amount.toString() }))
    .sort((a, b) => b.settled - a.settled || a.tool.localeCompare(b.tool));
}

/** The payments as a table, in the style of formatStats. */
export function formatPayments(stats, label) {
  const head = ["tool", "network", "asset", "settled", "settled amount", "failed", "unconfirmed"];
  const body = stats.map((t) => [t.tool, t.network, t.asset, t.settled, t.settled_amount, t.failed, t.unconfirmed].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const out = [label, line(head), ...body.map(line)];
  if (!stats.length) out.push("(no machine payments in this window)");
  return out.join("\n");
}

/** The D1 rows of paymentsSql (one statement: the first result). */
async function readPayments(args) {
  const results = await wranglerJson(args, { timeoutMs: 180_000 });
  const first = Array.isArray(results) ? results[0] : results;
  if (!first?.success || !Array.isArray(first.results)) {
    throw new Error(`machine payments: the D1 read did not succeed: ${JSON.stringify(first)}`);
  }
  return first.results;
}

const shellWord = (a) => (/^[\w@./:=,<>-]+$/.test(a) ? a : JSON.stringify(a));

async function main(argv) {
  const opts = parseOptions(argv);
  const config = readConfig(process.env.WRANGLER_CONFIG);
  const table = dataset(config, opts.env);
  const window = interval(opts.since);
  const sql = statsSql(table, window);
  const d1Args = paymentsCommand(config, opts.env, paymentsSql(Date.now() / 1000 - windowSecs(window)));
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: POST /accounts/<account>/analytics_engine/sql\n${sql}`);
    console.log(`dry-run: wrangler ${d1Args.map(shellWord).join(" ")}`);
    return;
  }
  const { token, accountId } = await apiCredentials(config);
  let answer;
  try {
    answer = await cloudflareApi(`/accounts/${accountId}/analytics_engine/sql`, { token, method: "POST", body: sql });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      throw new Refusal(`${e.message}. The SQL API needs a token with Account Analytics: Read: create one and ` +
        "export it as CLOUDFLARE_API_TOKEN (a `wrangler login` token does not carry that permission)");
    }
    throw e;
  }
  const last = `last ${window.join(" ").toLowerCase()}(s)`;
  console.log(formatStats(answer.data ?? [], `stats ${opts.env}: dataset ${table}, ${last}`));
  const persist = process.env.MKIT_STATS_D1_PERSIST;
  const where = persist ? `local D1 ${persist}` : `D1 DB --remote --env ${opts.env}`;
  // After the table is printed, so a failing D1 read never hides it.
  console.log(`\n${formatPayments(paymentStats(await readPayments(d1Args)),
    `machine payments (x402) ${opts.env}: ${where}, ${last}; amounts in the asset's atomic units`)}`);
}

await runMain(import.meta, main);
