// `make ledger ENV=… USER=<sub>`: what the entitlement ledger in D1 holds for one user, read-only.
//
//   node scripts/ledger.mjs --env production --user 'auth0|abc123' [--json]
//
// Prints the user's bindings (customers rows), the subscriptions that are theirs or their bound
// customers' (status, price lookup keys, period end, user_sub, and whether each grants now and
// why), the entitlement summaries of their customers, the binding conflicts that name them or
// their customers, their latest 50 machine payments (x402, newest first: tool, state, amount,
// network, payer, tx, reason), and the entitlements the worker grants now.
//
// "Grants now" follows the rules of ENTITLEMENTS_SQL (crates/mkit-billing/src/ledger/sql.rs), computed here
// from the rows (tests/e2e/ledger-view.test.mjs checks it against the worker's whoami):
//   - a subscription grants its price lookup keys while its status is active or trialing and
//     now < current_period_end + grace (a NULL period end grants on the status alone);
//   - to its own user (subscriptions.user_sub) when it names one, else to the customer's user;
//   - an entitlement summary grants its feature lookup keys to the customer's user;
//   - grace is MKIT_GRACE_DAYS (the environment's var in wrangler.jsonc, default 3 days; an
//     MKIT_GRACE_DAYS in the shell overrides it).
//
// One `wrangler d1 execute DB --remote --env ENV --json --command "SELECT …"`: SELECTs only. The
// sub never reaches the SQL as text: Wrangler's --command takes no parameters, so it is written as
// a hex blob, CAST(X'…' AS TEXT), which no quote or character in a sub can escape from. Control
// characters are refused anyway.
//
// Refuses at once when there is no Cloudflare login (API token or `wrangler login`), when ENV is not an
// environment of wrangler.jsonc, or when its D1 id is still a placeholder. DRY_RUN=1 prints the
// Wrangler command instead. Tests: MKIT_LEDGER_D1_PERSIST=<dir> reads a local D1 instead
// (`--local --persist-to <dir>`; no credentials, ENV optional).

import { Refusal, requireLogin, runMain, wranglerJson } from "./cloudflare.mjs";
import { readConfig } from "./wrangler-config.mjs";

function parseArgs(argv) {
  const opts = { json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--json") opts.json = true;
    else if (["--env", "--user"].includes(argv[i]) && i + 1 < argv.length) opts[argv[i].slice(2)] = argv[++i];
    else throw new Refusal(`unexpected argument ${argv[i]}; usage: node scripts/ledger.mjs --env <environment> --user <sub> [--json]`);
  }
  return opts;
}

/** The sub as an SQL expression no character can break out of. */
export function subLiteral(sub) {
  if (!sub) throw new Refusal("USER is required: the user's OAuth sub (whoami's `sub`), quoted, e.g. make ledger ENV=production USER='auth0|abc123'");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(sub)) throw new Refusal("USER has control characters: no OAuth sub mKit stores has them");
  if (sub.length > 1024) throw new Refusal("USER is longer than 1,024 characters");
  return `CAST(X'${Buffer.from(sub, "utf8").toString("hex")}' AS TEXT)`;
}

/** The five read-only statements, one --command. */
export function ledgerSql(sub) {
  const u = subLiteral(sub);
  return [
    `SELECT customer_id, user_sub, bound_created FROM customers WHERE user_sub = ${u} ORDER BY bound_created, customer_id`,
    "SELECT s.id, s.customer_id, s.status, s.price_lookup_keys, s.current_period_end, s.user_sub, s.last_event_created, " +
      "s.latest_invoice_status, c.user_sub AS customer_user FROM subscriptions s LEFT JOIN customers c ON c.customer_id = s.customer_id " +
      `WHERE s.user_sub = ${u} OR c.user_sub = ${u} ORDER BY s.id`,
    "SELECT e.customer_id, e.feature_lookup_keys, e.last_event_created FROM entitlement_summaries e " +
      `JOIN customers c ON c.customer_id = e.customer_id WHERE c.user_sub = ${u} ORDER BY e.customer_id`,
    "SELECT id, customer_id, subscription_id, bound_user, claimed_user, source, event_id, event_created, recorded_at " +
      `FROM binding_conflicts WHERE bound_user = ${u} OR claimed_user = ${u} ` +
      `OR customer_id IN (SELECT customer_id FROM customers WHERE user_sub = ${u}) ORDER BY id DESC LIMIT 50`,
    "SELECT id, tool, state, amount, network, asset, payer, tx, reason, created_at FROM machine_payments " +
      `WHERE user_sub = ${u} ORDER BY created_at DESC, id DESC LIMIT 50`,
  ].join("; ");
}

/** The text values json_each would yield for a stored JSON column (keys are JSON text values). */
export function textKeys(json) {
  let v;
  try {
    v = JSON.parse(json ?? "[]");
  } catch {
    return [];
  }
  const items = Array.isArray(v) ? v : v !== null && typeof v === "object" ? Object.values(v) : [v];
  return items.filter((k) => typeof k === "string");
}

const iso = (secs) => new Date(secs * 1000).toISOString().replace(".000Z", "Z");

/** Whether a subscription row grants `user` its keys now, and why (ENTITLEMENTS_SQL's rules). */
export function verdict(s, user, boundCustomers, nowSecs, graceSecs) {
  if (s.user_sub !== null && s.user_sub !== user) return { grants: false, why: `goes to its own user ${JSON.stringify(s.user_sub)}` };
  if (s.user_sub === null && !boundCustomers.has(s.customer_id)) return { grants: false, why: "its customer is bound to another user" };
  if (!["active", "trialing"].includes(s.status)) return { grants: false, why: `status ${s.status}` };
  if (s.current_period_end === null) return { grants: true, why: "no period end recorded: granted on the status alone" };
  const until = s.current_period_end + graceSecs;
  if (nowSecs < until) return { grants: true, why: `until ${iso(until)} (period end + grace)` };
  return { grants: false, why: `lapsed at ${iso(until)} (period end + grace): no renewal event since` };
}

/** The report: rows plus what the worker grants now. */
export function report({ user, bindings, subscriptions, summaries, conflicts, payments = [] }, { nowSecs, graceSecs }) {
  const bound = new Set(bindings.map((b) => b.customer_id));
  const keys = new Set();
  const subs = subscriptions.map((s) => {
    const v = verdict(s, user, bound, nowSecs, graceSecs);
    if (v.grants) textKeys(s.price_lookup_keys).forEach((k) => keys.add(k));
    return { ...s, price_lookup_keys: textKeys(s.price_lookup_keys), ...v };
  });
  const sums = summaries.map((e) => ({ ...e, feature_lookup_keys: textKeys(e.feature_lookup_keys) }));
  for (const e of sums) e.feature_lookup_keys.forEach((k) => keys.add(k));
  // ORDER BY key: SQLite's BINARY collation compares UTF-8 bytes.
  const entitlements = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return { user, now: iso(nowSecs), grace_days: graceSecs / 86_400, bindings, subscriptions: subs, summaries: sums, conflicts,
    machine_payments: payments, entitlements };
}

/** One machine payment; the amount stays the decimal text it is stored as (wider than a JS number). */
function paymentLines(p) {
  return [
    `  ${iso(p.created_at)}  tool ${p.tool}  state ${p.state}  amount ${p.amount} on ${p.network}  payer ${p.payer ?? "(none)"}` +
      (p.tx ? `  tx ${p.tx}` : "") + (p.reason ? `  reason ${JSON.stringify(p.reason)}` : ""),
  ];
}

export function formatReport(r, where) {
  const out = [`Ledger of user ${JSON.stringify(r.user)} (${where}), at ${r.now}, grace ${r.grace_days} days`, ""];
  const section = (title, rows, line) => {
    out.push(title);
    out.push(...(rows.length ? rows.flatMap(line) : ["  (none)"]), "");
  };
  section("Bindings (customers bound to this user):", r.bindings, (b) =>
    [`  ${b.customer_id}  bound by an event created ${iso(b.bound_created)}`]);
  section("Subscriptions (the user's own, and their customers'):", r.subscriptions, (s) => [
    `  ${s.id}  customer ${s.customer_id}  status ${s.status}  keys [${s.price_lookup_keys.join(", ")}]  ` +
      `period end ${s.current_period_end === null ? "(none)" : iso(s.current_period_end)}  ` +
      `user_sub ${s.user_sub === null ? "(none: the customer's user)" : JSON.stringify(s.user_sub)}` +
      (s.latest_invoice_status ? `  last invoice ${s.latest_invoice_status}` : ""),
    `      ${s.grants ? "grants" : "grants nothing"}: ${s.why}`,
  ]);
  section("Entitlement summaries (their customers'):", r.summaries, (e) =>
    [`  ${e.customer_id}  features [${e.feature_lookup_keys.join(", ")}]  (event created ${iso(e.last_event_created)})`]);
  section("Binding conflicts (latest 50; the first binding won, nothing changed):", r.conflicts, (c) => [
    `  #${c.id}  ${iso(Math.floor(c.recorded_at / 1000))}  customer ${c.customer_id}` +
      (c.subscription_id ? `  subscription ${c.subscription_id}` : "") +
      `: bound to ${JSON.stringify(c.bound_user)}, claimed for ${JSON.stringify(c.claimed_user)} by ${c.source} (event ${c.event_id})`,
  ]);
  section("Machine payments (x402; latest 50, newest first; amounts in the asset's atomic units):", r.machine_payments,
    paymentLines);
  out.push(`Entitlements the worker grants now: ${r.entitlements.length ? r.entitlements.join(", ") : "none"}`);
  return out.join("\n");
}

/** Where to read: the environment's remote D1, or (tests) a local persisted one. */
function target(opts) {
  const persist = process.env.MKIT_LEDGER_D1_PERSIST;
  const config = readConfig(process.env.WRANGLER_CONFIG);
  const envs = Object.keys(config.env ?? {});
  if (!persist && !opts.env) throw new Refusal(`ENV is required: one of ${envs.join(", ")}`);
  if (opts.env && !envs.includes(opts.env)) throw new Refusal(`ENV=${opts.env} is not an environment in wrangler.jsonc (${envs.join(", ")})`);
  const section = opts.env ? config.env[opts.env] : config;
  const placeholders = JSON.stringify(section.d1_databases ?? []).match(/REPLACE_WITH_[A-Z0-9_]+/g);
  if (!persist && placeholders) {
    throw new Refusal(`wrangler.jsonc env.${opts.env} still has placeholders: ${[...new Set(placeholders)].join(", ")} (see docs/deployment.md)`);
  }
  const graceDays = process.env.MKIT_GRACE_DAYS ?? section.vars?.MKIT_GRACE_DAYS ?? "3";
  if (!/^\d+$/.test(String(graceDays)) || Number(graceDays) > 60) throw new Refusal(`MKIT_GRACE_DAYS must be 0 to 60, got ${graceDays}`);
  const where = persist ? ["--local", "--persist-to", persist] : ["--remote"];
  const args = ["d1", "execute", "DB", ...where, ...(opts.env ? ["--env", opts.env] : []), "--json"];
  return { args, graceSecs: Number(graceDays) * 86_400,
    label: persist ? `local D1 ${persist}` : `env ${opts.env}, remote D1` };
}

const configArgs = () => (process.env.WRANGLER_CONFIG ? ["--config", process.env.WRANGLER_CONFIG] : []);
const shellWord = (a) => (/^[\w@./:=,<>-]+$/.test(a) ? a : JSON.stringify(a));

async function main(argv) {
  const opts = parseArgs(argv);
  if (!process.env.MKIT_LEDGER_D1_PERSIST) await requireLogin();
  const { args, graceSecs, label } = target(opts);
  const sql = ledgerSql(opts.user ?? "");
  const full = [...args, "--command", sql, ...configArgs()];
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: wrangler ${full.map(shellWord).join(" ")}`);
    return;
  }
  const results = await wranglerJson(full);
  const rows = (n) => {
    const r = results[n];
    if (!r?.success) throw new Error(`statement ${n + 1} did not succeed: ${JSON.stringify(r)}`);
    return r.results ?? [];
  };
  const r = report({ user: opts.user, bindings: rows(0), subscriptions: rows(1), summaries: rows(2), conflicts: rows(3),
    payments: rows(4) },
    { nowSecs: Math.floor(Date.now() / 1000), graceSecs });
  console.log(opts.json ? JSON.stringify(r, null, 2) : formatReport(r, label));
}

await runMain(import.meta, main);
