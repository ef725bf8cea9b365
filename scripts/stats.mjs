// `make stats ENV=staging|production [SINCE=24h]`: calls, errors and p50/p99 latency per tool, from
// the Workers Analytics Engine dataset the Worker writes one data point per tools/call to
// (crates/mkit/src/stats.rs documents the layout; COLUMNS below is its other half).
//
// Reads through the Analytics Engine SQL API with the environment's Cloudflare login. The API
// needs Account Analytics: Read, which `wrangler login` does not grant: use an API token with it
// (CLOUDFLARE_API_TOKEN). Refuses when the environment binds no dataset (MKIT_STATS in
// wrangler.jsonc), or SINCE is not a duration such as 30m, 24h or 7d (at most 90d: the dataset
// keeps three months). DRY_RUN=1 prints the query instead of sending it.

import { ApiError, apiCredentials, cloudflareApi, parseOptions, Refusal, runMain } from "./cloudflare.mjs";
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

async function main(argv) {
  const opts = parseOptions(argv);
  const config = readConfig(process.env.WRANGLER_CONFIG);
  const table = dataset(config, opts.env);
  const window = interval(opts.since);
  const sql = statsSql(table, window);
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: POST /accounts/<account>/analytics_engine/sql\n${sql}`);
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
  console.log(formatStats(answer.data ?? [], `stats ${opts.env}: dataset ${table}, last ${window.join(" ").toLowerCase()}(s)`));
}

await runMain(import.meta, main);
