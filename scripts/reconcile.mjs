// `make stripe-reconcile ENV=staging|production [APPLY=1 URL=https://<host>]`: compares Stripe's
// subscriptions with the D1 entitlement ledger of one environment, and repairs the differences
// through the deployment's own webhook.
//
//   node scripts/reconcile.mjs --env staging                                  # report only
//   node scripts/reconcile.mjs --env staging --apply --url https://<host>     # report, repair, report
//
// Reads:
//   - Stripe: every subscription (`subscriptions.list({ status: "all", limit: 100 })`, all pages)
//     with the official `stripe` client, as STRIPE_SECRET_KEY from the operator's environment
//     (a restricted key with Subscriptions: Read is enough).
//   - the ledger: `wrangler d1 execute DB --remote --env <ENV> --json --command "SELECT …"`, which
//     needs a Cloudflare login, an API token or `wrangler login` (refused without one, as scripts/ops.mjs
//     does, since Wrangler would otherwise wait for an interactive login).
//
// Prints one `diff <subscription> <kind>: …` line per difference: `missing` (not in the ledger),
// `status`, `lookup_keys` (the items' price lookup keys), `current_period_end` (on the items since
// API version 2025-03-31, e.g. the pinned 2026-10-28; on the subscription before), `customer`,
// `user` (metadata.mkit_user against the user the ledger grants to), and `not_in_stripe` (a ledger
// row Stripe does not know).
//
// Machine payments (x402, the D1 table machine_payments) are not in Stripe, so nothing here can
// compare or repair them: it lists those whose outcome the chain alone knows, one `payment <id>
// <state>: …` line each (payer, nonce, network, asset, amount, user): every `unconfirmed` one, and
// each `verifying` one older than STALE_SECS (its isolate ended; the worker's sweep turns it
// unconfirmed). The operator reads the authorization's state on chain and sets the row
// by hand (docs/runbook.md); neither mode changes these rows.
//
// Exit status: 0 no differences and no payment to check, 1 differences or payments to check
// (nothing applied without --apply), 2 refused to start, 3 failed (Stripe or Wrangler).
//
// --apply repairs through the same ledger code as Stripe's own deliveries, never by writing SQL:
// for each differing subscription it builds a `customer.subscription.updated` event
// (`customer.subscription.deleted` when canceled) whose data.object is the subscription exactly as
// the API returned it, with a fresh `evt_reconcile_…` id, signs it with the first value of
// STRIPE_WEBHOOK_SECRET (`stripe.webhooks.generateTestHeaderString`) and POSTs it to
// <URL>/stripe/webhook. Its `created` is the time the Stripe listing started, so a real event
// Stripe creates meanwhile is newer and still wins. It prints each webhook answer, then reads both
// sides again and reports what remains. Exit 1 if any repair was refused or differences remain.
// Not repairable this way, and reported as such: ledger rows Stripe does not know, a subscription
// the ledger holds as canceled or incomplete_expired (terminal: the ledger never changes it), and
// a subscription bound to another user (the first user named keeps it: a binding conflict).
//
// DRY_RUN=1 prints the Stripe call and the Wrangler command instead of running them.
//
// TEST-ONLY hooks (tests/e2e/reconcile.test.mjs; never set them when operating a deployment):
//   MKIT_RECONCILE_STRIPE_API=http://127.0.0.1:PORT   the Stripe API host, port and protocol
//   MKIT_RECONCILE_D1_PERSIST=<dir>   read the local D1 in <dir> (`--local --persist-to <dir>`,
//                                     the top-level config's DB, as `make dev` and the tests run it)
//                                     instead of `--remote --env <ENV>`; no Cloudflare credentials

import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import Stripe from "stripe";
import { Refusal, requireLogin, runWrangler } from "./cloudflare.mjs";
import { readConfig } from "./wrangler-config.mjs";

const TERMINAL = new Set(["canceled", "incomplete_expired"]);
const GRANTING = new Set(["active", "trialing"]);

export const LEDGER_SQL = "SELECT s.id, s.customer_id, s.status, s.price_lookup_keys, s.current_period_end, s.user_sub, " +
  "c.user_sub AS customer_user, s.last_event_created FROM subscriptions s LEFT JOIN customers c USING (customer_id) ORDER BY s.id";

/** The machine payments not known to have ended: filtered by age here, so the SQL stays constant. */
export const OPEN_PAYMENTS_SQL = "SELECT id, user_sub, tool, network, asset, amount, payer, state, reason, created_at " +
  "FROM machine_payments WHERE state IN ('unconfirmed', 'verifying') ORDER BY created_at, id";

/** Both reads, in one Wrangler run. */
export const READ_SQL = `${LEDGER_SQL}; ${OPEN_PAYMENTS_SQL}`;

/** Past this, an open payment's isolate has ended: STALE_SECS in crates/mkit-billing/src/x402.rs. */
export const STALE_SECS = 3600;

function parseArgs(argv) {
  const opts = { apply: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--apply") opts.apply = true;
    else if (a === "--env" || a === "--url") {
      if (argv[i + 1] === undefined) throw new Refusal(`${a} needs a value`);
      opts[a.slice(2)] = argv[++i];
    } else {
      throw new Refusal(`unexpected argument ${a}; usage: node scripts/reconcile.mjs --env <environment> [--apply --url <deployment URL>]`);
    }
  }
  return opts;
}

/** Everything the run needs, checked before any network call; refuses naming all that is missing. */
function preflight(opts, env = process.env) {
  const problems = [];
  const local = env.MKIT_RECONCILE_D1_PERSIST;
  const config = readConfig(env.WRANGLER_CONFIG);
  const envs = Object.keys(config.env ?? {});
  if (!opts.env) problems.push(`ENV is required: one of ${envs.join(", ")}`);
  else if (!envs.includes(opts.env)) problems.push(`ENV=${opts.env} is not an environment in wrangler.jsonc (${envs.join(", ")})`);
  else if (!local) {
    const placeholders = JSON.stringify(config.env[opts.env].d1_databases ?? []).match(/REPLACE_WITH_[A-Z0-9_]+/g);
    if (placeholders) {
      problems.push(`wrangler.jsonc env.${opts.env} still has placeholders: ${[...new Set(placeholders)].join(", ")} (see docs/deployment.md)`);
    }
  }
  const key = env.STRIPE_SECRET_KEY;
  if (!key) {
    problems.push("STRIPE_SECRET_KEY not set: export the secret key (or a restricted key with Subscriptions: Read) " +
      `of the Stripe account whose webhooks ENV=${opts.env || "…"} receives`);
  } else if (!/^(sk|rk)_(test|live)_/.test(key)) {
    problems.push("STRIPE_SECRET_KEY is not a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)");
  }
  let url;
  let secret;
  if (opts.apply) {
    if (!opts.url) problems.push("--apply needs the deployment's URL: APPLY=1 URL=https://<host> (the webhook it repairs through)");
    else {
      try {
        url = new URL(opts.url);
        if (!/^https?:$/.test(url.protocol)) throw new Error("not http(s)");
      } catch {
        problems.push(`URL=${opts.url} is not an http(s) URL`);
      }
    }
    secret = env.STRIPE_WEBHOOK_SECRET?.split(",")[0].trim();
    if (!secret) {
      problems.push("--apply needs STRIPE_WEBHOOK_SECRET: the endpoint's signing secret (whsec_…), as the deployment has it");
    }
    else if (!secret.startsWith("whsec_")) problems.push("STRIPE_WEBHOOK_SECRET is not a webhook signing secret (whsec_…)");
  }
  if (problems.length) throw new Refusal(problems.join("; "));
  return { env: opts.env, apply: opts.apply, url: url && url.href.replace(/\/$/, ""), secret, key, local,
    mode: /^(sk|rk)_live_/.test(key) ? "live" : "test" };
}

// ---- the two sides ----------------------------------------------------------------------------

function stripeClient(key, env = process.env) {
  const options = { maxNetworkRetries: 2, telemetry: false, timeout: 30_000 };
  const api = env.MKIT_RECONCILE_STRIPE_API; // test-only, see the top of this file
  if (api) {
    const u = new URL(api);
    Object.assign(options, { host: u.hostname, protocol: u.protocol.replace(":", ""),
      port: Number(u.port || (u.protocol === "https:" ? 443 : 80)) });
  }
  return new Stripe(key, options);
}

/** Every subscription, all statuses, following `has_more` page by page. */
async function listSubscriptions(stripe) {
  let pages = 0;
  const count = (r) => { if (r.path?.startsWith("/v1/subscriptions")) pages++; };
  stripe.on("response", count);
  try {
    const subs = [];
    for await (const sub of stripe.subscriptions.list({ status: "all", limit: 100 })) subs.push(sub);
    return { subs, pages };
  } catch (e) {
    throw new Error(`Stripe: listing subscriptions failed: ${e.message}`);
  } finally {
    stripe.off("response", count);
  }
}

function ledgerCommand(plan) {
  const where = plan.local ? ["--local", "--persist-to", plan.local] : ["--remote", "--env", plan.env];
  const config = process.env.WRANGLER_CONFIG ? ["--config", process.env.WRANGLER_CONFIG] : [];
  return ["d1", "execute", "DB", ...where, "--json", "--command", READ_SQL, ...config];
}

const shown = (args) => args.map((a) => (/^[\w@./:=,<>-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");

/** The ledger's subscription rows and open machine payments, through Wrangler (non-interactive). */
async function readLedger(plan) {
  const r = await runWrangler(ledgerCommand(plan), { timeoutMs: 180_000 });
  const tail = `${r.out}${r.err}`.trim().split("\n").slice(-15).join("\n");
  if (r.code !== 0) throw new Error(`wrangler d1 execute exited ${r.code}:\n${tail}`);
  try {
    const [subscriptions, payments] = JSON.parse(r.out);
    if (!Array.isArray(subscriptions?.results) || !Array.isArray(payments?.results)) throw new Error("no results arrays");
    return { rows: subscriptions.results, payments: payments.results };
  } catch (e) {
    throw new Error(`could not read wrangler's JSON (${e.message}):\n${tail}`);
  }
}

async function snapshot(plan, stripe) {
  const at = Math.floor(Date.now() / 1000);
  const [{ subs, pages }, { rows, payments }] = await Promise.all([listSubscriptions(stripe), readLedger(plan)]);
  return { at, subs, pages, rows, payments };
}

// ---- comparison (pure) ------------------------------------------------------------------------

/** current_period_end as the ledger reads it: on the subscription (API versions before
 *  2025-03-31), else the latest of its items' (2025-03-31 on, e.g. 2026-10-28). */
export function periodEnd(sub) {
  if (Number.isInteger(sub.current_period_end)) return sub.current_period_end;
  const ends = (sub.items?.data ?? []).map((i) => i.current_period_end).filter(Number.isInteger);
  return ends.length ? Math.max(...ends) : null;
}

/** The items' price lookup keys as the ledger stores them: sorted, deduplicated, non-empty. */
export function lookupKeys(sub) {
  const keys = (sub.items?.data ?? []).map((i) => i.price?.lookup_key).filter((k) => typeof k === "string" && k);
  return [...new Set(keys)].sort();
}

const idOf = (v) => (typeof v === "string" ? v : v?.id) ?? null;
const userOf = (sub) => (typeof sub.metadata?.mkit_user === "string" && sub.metadata.mkit_user) || null;
const iso = (s) => (Number.isInteger(s) ? new Date(s * 1000).toISOString().replace(".000Z", "Z") : "none");
const q = (v) => (v === null || v === undefined ? "(none)" : JSON.stringify(v));
function parseKeys(text) {
  try {
    const v = JSON.parse(text ?? "[]");
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

/**
 * Differences between Stripe's subscriptions and the ledger's rows (LEDGER_SQL). Returns
 * { diffs: [{ id, kind, detail, repairable, why? }], repairs: Map(id → subscription), notes }.
 * A subscription both sides hold in the same terminal state grants nothing and never changes in
 * the ledger: only its presence is compared.
 */
export function compare(subs, rows) {
  const ledger = new Map(rows.map((r) => [r.id, r]));
  const diffs = [];
  const notes = [];
  const repairs = new Map();
  const add = (sub, kind, detail, why) => {
    diffs.push({ id: sub.id, kind, detail, repairable: !why, ...(why ? { why } : {}) });
    if (!why) repairs.set(sub.id, sub);
  };
  for (const sub of subs) {
    const row = ledger.get(sub.id);
    const keys = lookupKeys(sub);
    const end = periodEnd(sub);
    const user = userOf(sub);
    const customer = idOf(sub.customer);
    if (sub.items?.has_more) {
      notes.push(`note ${sub.id}: has more items than the subscription object lists; ` +
        `the ledger reads only those ${sub.items.data.length}`);
    }
    if (!row) {
      add(sub, "missing", `not in the ledger (Stripe: ${sub.status}, ${JSON.stringify(keys)}, period ends ${iso(end)}, ` +
        `user ${q(user)}, customer ${customer})`);
      continue;
    }
    const terminal = TERMINAL.has(row.status);
    const stuck = terminal ? `the ledger holds it as ${row.status}, which never changes again` : undefined;
    if (row.status !== sub.status) add(sub, "status", `Stripe ${sub.status}, ledger ${row.status}`, stuck);
    if (terminal && row.status === sub.status) continue;
    if (row.customer_id !== customer) add(sub, "customer", `Stripe ${customer}, ledger ${row.customer_id}`, stuck);
    const held = parseKeys(row.price_lookup_keys);
    if (JSON.stringify(held) !== JSON.stringify(keys)) {
      add(sub, "lookup_keys", `Stripe ${JSON.stringify(keys)}, ledger ${JSON.stringify(held)}`, stuck);
    }
    const heldEnd = row.current_period_end ?? null;
    if (heldEnd !== end) {
      add(sub, "current_period_end", `Stripe ${end ?? "none"} (${iso(end)}), ledger ${heldEnd ?? "none"} (${iso(heldEnd)})`, stuck);
    }
    // The ledger grants a subscription to its own user (subscriptions.user_sub), else to its
    // customer's; the first user a subscription names keeps it.
    const granted = row.user_sub ?? row.customer_user ?? null;
    const via = row.user_sub ? "the subscription's own"
      : row.customer_user ? "through its customer's binding" : "nobody: no user named, customer unbound";
    const kept = "the ledger keeps the first user a subscription names (a binding conflict, see the runbook)";
    if (user && user !== granted) {
      add(sub, "user", `Stripe metadata.mkit_user ${q(user)}, ledger grants to ${q(granted)} (${via})`,
        stuck ?? (row.user_sub ? kept : undefined));
    } else if (!user && row.user_sub) {
      add(sub, "user", `Stripe metadata.mkit_user (none), ledger grants to ${q(row.user_sub)} (the subscription's own)`, kept);
    } else if (!user && !granted && GRANTING.has(sub.status)) {
      notes.push(`note ${sub.id}: ${sub.status} but grants nobody: no metadata.mkit_user on it and customer ${customer} ` +
        "is unbound " +
        "(set metadata.mkit_user on the subscription or the customer in Stripe, then run again)");
    }
  }
  const known = new Set(subs.map((s) => s.id));
  for (const row of rows) {
    if (known.has(row.id)) continue;
    diffs.push({ id: row.id, kind: "not_in_stripe", repairable: false,
      why: "Stripe has no such subscription for this key (another mode or account, or a test event)",
      detail: `ledger ${row.status}, ${row.price_lookup_keys}, customer ${row.customer_id}, ` +
        `user ${q(row.user_sub ?? row.customer_user)}` });
  }
  return { diffs, repairs, notes };
}

function report({ diffs, notes }, snap, label) {
  for (const d of diffs) console.log(`diff ${d.id} ${d.kind}: ${d.detail}${d.why ? ` [not repairable here: ${d.why}]` : ""}`);
  for (const n of notes) console.log(n);
  const count = new Set(diffs.map((d) => d.id)).size;
  const n = (k, word) => `${k} ${word}${k === 1 ? "" : "s"}`;
  const sizes = `${n(snap.subs.length, "subscription")} in Stripe (${n(snap.pages, "page")}), ${snap.rows.length} in the ledger`;
  console.log(diffs.length ? `${label}: ${n(diffs.length, "difference")} in ${n(count, "subscription")} (${sizes})`
    : `${label}: no differences (${sizes})`);
}

// ---- machine payments (pure) ------------------------------------------------------------------

/** The payments only the chain can settle: unconfirmed, or open past STALE_SECS (as the sweep judges). */
export function paymentsToCheck(payments, nowSecs) {
  return payments.filter((p) => p.state === "unconfirmed" || p.created_at < nowSecs - STALE_SECS);
}

/** The EIP-3009 nonce: the last part of the id (network:asset:payer:nonce; the network has a colon too). */
export const nonceOf = (id) => id.slice(id.lastIndexOf(":") + 1);

/** One payment to check: what the lookup on chain needs, and whose it is. */
export function paymentLine(p) {
  return `payment ${p.id} ${p.state}: payer ${p.payer ?? "(none)"}, nonce ${nonceOf(p.id)}, network ${p.network}, ` +
    `asset ${p.asset}, amount ${p.amount}, user ${q(p.user_sub)}, tool ${p.tool}, since ${iso(p.created_at)}` +
    (p.reason ? `, reason ${q(p.reason)}` : "");
}

/** The payments to check, then in one line what the operator does next. */
function reportPayments(checks) {
  for (const p of checks) console.log(paymentLine(p));
  if (!checks.length) return;
  console.log(`machine payments: ${checks.length} to check on chain (not in Stripe; nothing here changes them): ` +
    "read authorizationState(payer, nonce) on the asset's contract in the network's explorer: true means the " +
    "authorization was used, so it settled; then set the row by hand (docs/runbook.md#symptom-a-machine-payment-to-check-on-chain)");
}

// ---- repair -----------------------------------------------------------------------------------

/** The event Stripe would send for `sub` as it is now. */
export function repairEvent(sub, created) {
  return {
    id: `evt_reconcile_${randomBytes(12).toString("hex")}`, object: "event", api_version: Stripe.API_VERSION, created,
    data: { object: sub }, livemode: sub.livemode ?? false, pending_webhooks: 0, request: { id: null, idempotency_key: null },
    type: sub.status === "canceled" ? "customer.subscription.deleted" : "customer.subscription.updated",
  };
}

async function repair(plan, stripe, sub, created) {
  const event = repairEvent(sub, created);
  const payload = JSON.stringify(event);
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: plan.secret });
  let status = 0;
  let text = "";
  try {
    const res = await fetch(`${plan.url}/stripe/webhook`, { method: "POST", body: payload, signal: AbortSignal.timeout(30_000),
      headers: { "content-type": "application/json", "stripe-signature": header } });
    status = res.status;
    text = await res.text();
  } catch (e) {
    text = `unreachable (${e.cause?.code ?? e.name}: ${e.message})`;
  }
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: shown as text */ }
  const accepted = status === 200 && body?.outcome === "applied" && body?.duplicate === false;
  const answer = `${status ? `HTTP ${status}` : "no answer"} ${text.trim()}`;
  console.log(`${accepted ? "repair" : "REFUSED"} ${sub.id} ${event.type} ${event.id} → ${answer}`);
  if (accepted && body.conflicts > 0) {
    console.log(`  ${sub.id}: the ledger refused its user claim (binding conflict, see the runbook)`);
  } else if (accepted && body.changes === 0) {
    console.log(`  ${sub.id}: changed nothing (the ledger holds a newer event or a terminal status)`);
  }
  return accepted;
}

// ---- main -------------------------------------------------------------------------------------

async function main(argv) {
  const plan = preflight(parseArgs(argv));
  if (!plan.local) await requireLogin();
  const api = process.env.MKIT_RECONCILE_STRIPE_API ?? "https://api.stripe.com";
  const ledgerWhere = plan.local ? `local D1 in ${plan.local} (test-only)` : `D1 DB --remote --env ${plan.env}`;
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: stripe subscriptions.list({ status: "all", limit: 100 }), every page, ${plan.mode} mode, ${api}`);
    console.log(`dry-run: wrangler ${shown(ledgerCommand(plan))}`);
    if (plan.apply) {
      console.log(`dry-run: for each differing subscription, POST ${plan.url}/stripe/webhook ` +
        "(customer.subscription.updated or .deleted, signed)");
    }
    return 0;
  }
  console.log(`reconcile ${plan.env}: Stripe (${plan.mode} mode, ${api}) against ${ledgerWhere}`);
  const stripe = stripeClient(plan.key);
  const before = await snapshot(plan, stripe);
  const found = compare(before.subs, before.rows);
  report(found, before, "reconcile");
  const checks = paymentsToCheck(before.payments, before.at);
  reportPayments(checks);
  if (!found.diffs.length) return checks.length ? 1 : 0;
  if (!plan.apply) {
    if (found.repairs.size) {
      console.log(`repair ${found.repairs.size} through the webhook with: ` +
        `make stripe-reconcile ENV=${plan.env} APPLY=1 URL=https://<${plan.env} host>`);
    }
    return 1;
  }
  if (!found.repairs.size) {
    console.log("reconcile: nothing here is repairable through the webhook (see each [not repairable here: …])");
    return 1;
  }

  let refused = 0;
  console.log(`\napplying ${found.repairs.size} repairs through ${plan.url}/stripe/webhook`);
  for (const sub of found.repairs.values()) if (!(await repair(plan, stripe, sub, before.at))) refused++;
  console.log("\nafter repair:");
  const after = await snapshot(plan, stripe);
  const left = compare(after.subs, after.rows);
  report(left, after, "reconcile");
  if (refused) console.log(`reconcile: ${refused} of ${found.repairs.size} repairs refused`);
  return refused || left.diffs.length || checks.length ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(`${e instanceof Refusal ? "refused" : "failed"}: ${e.message}`);
    process.exit(e instanceof Refusal ? 2 : 3);
  });
}
