// `make provision ENV=staging|production [DOMAIN=mcp.example.com] [ISSUER=https://…] [LOCATION=weur]`:
// everything a first deploy needs from Cloudflare, written into wrangler.jsonc.
//
//   1. the environment's D1 database: found by name (`wrangler d1 list --json`) or created
//      (`wrangler d1 create <name>`), its id written as the env's DB database_id;
//   2. the public URL: DOMAIN as a Custom Domain (a `routes` entry with custom_domain: true, which
//      `wrangler versions deploy` attaches), else the account's workers.dev subdomain
//      (https://<worker>.<subdomain>.workers.dev);
//   3. MCP_RESOURCE = that URL + /mcp, and OAUTH_ISSUER = ISSUER when given;
//   4. a rate-limit namespace of its own for each of the env's `ratelimits` (see namespaceIds).
//
// Idempotent: a second run finds what the first made and changes nothing. It fills placeholders
// only: a value already filled in that differs from what it would write is kept when it was not
// asked for, and refused when it was (DOMAIN, ISSUER), so a provisioned deployment never changes
// audience or database behind the operator's back. DRY_RUN=1 still looks things up (read-only)
// but prints the create command and the edits instead of making them.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, apiCredentials, cloudflareApi, parseOptions, Refusal, runMain, requireLogin, runWrangler, workerNotFound,
  wranglerJson } from "./cloudflare.mjs";
import { parseJsonc, setJsoncStrings, insertJsoncMember } from "./jsonc.mjs";
import { ROOT } from "./wrangler-config.mjs";

const LOCATIONS = ["weur", "eeur", "apac", "oc", "wnam", "enam"];
const UNSET = /^(REPLACE_WITH_[A-Z0-9_]+|0{8}-0{4}-0{4}-0{4}-0{12})?$/;
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Every input checked before anything is looked up; all problems named at once. */
function checkInputs(opts, config) {
  const problems = [];
  const envs = Object.keys(config.env ?? {});
  if (!opts.env) problems.push(`ENV is required: one of ${envs.join(", ")}`);
  else if (!envs.includes(opts.env)) problems.push(`ENV=${opts.env} is not an environment in wrangler.jsonc (${envs.join(", ")})`);
  const domain = (opts.domain ?? "").toLowerCase();
  if (domain && !HOSTNAME.test(domain)) problems.push(`DOMAIN=${opts.domain} is not a host name: give it without scheme or path, e.g. DOMAIN=mcp.example.com`);
  if (domain.endsWith(".workers.dev")) problems.push("DOMAIN must be your own zone's host name; leave it out to use workers.dev");
  if (opts.issuer) {
    let u;
    try { u = new URL(opts.issuer); } catch { /* reported below */ }
    if (!u || u.protocol !== "https:" || u.search || u.hash) problems.push(`ISSUER=${opts.issuer} is not an https URL without query or fragment (the issuer's exact "iss")`);
  }
  if (opts.location && !LOCATIONS.includes(opts.location)) problems.push(`LOCATION=${opts.location} is not one of ${LOCATIONS.join(", ")}`);
  const section = opts.env && config.env?.[opts.env];
  const dbIndex = section ? (section.d1_databases ?? []).findIndex((d) => d.binding === "DB") : 0;
  if (section && dbIndex < 0) problems.push(`env.${opts.env} has no D1 binding named DB`);
  if (problems.length) throw new Refusal(problems.join("; "));
  return { env: opts.env, domain, issuer: opts.issuer, location: opts.location, section, dbIndex };
}

/** The env's D1 database: already provisioned, found by name, or to be created. */
async function database(plan, configArgs) {
  const want = plan.section.d1_databases[plan.dbIndex];
  const listed = await wranglerJson(["d1", "list", "--json", ...configArgs]);
  if (!UNSET.test(want.database_id ?? "")) {
    const same = listed.find((d) => d.uuid === want.database_id);
    if (!same) {
      throw new Refusal(`env.${plan.env} names D1 database_id ${want.database_id}, which this account does not have ` +
        `(its databases: ${listed.map((d) => d.name).join(", ") || "none"}). Check CLOUDFLARE_ACCOUNT_ID, or put the placeholder back to create one`);
    }
    return { id: same.uuid, name: same.name, how: "already provisioned" };
  }
  const found = listed.find((d) => d.name === want.database_name);
  if (found) return { id: found.uuid, name: found.name, how: "found" };
  const create = ["d1", "create", want.database_name, ...(plan.location ? ["--location", plan.location] : []), ...configArgs];
  if (process.env.DRY_RUN === "1") {
    console.log(`dry-run: wrangler ${create.join(" ")}`);
    return { id: "<the id wrangler d1 create prints>", name: want.database_name, how: "to be created" };
  }
  const r = await runWrangler(create);
  if (r.code !== 0) throw new Error(`wrangler d1 create exited ${r.code}:\n${(r.err + r.out).trim()}`);
  const made = (await wranglerJson(["d1", "list", "--json", ...configArgs])).find((d) => d.name === want.database_name);
  if (!made) throw new Error(`wrangler d1 create ${want.database_name} succeeded, but d1 list does not show it`);
  return { id: made.uuid, name: made.name, how: "created" };
}

/** The deployment's public origin: the custom domain, or the workers.dev one. */
async function origin(plan, credentials, workerName) {
  if (plan.domain) return { url: `https://${plan.domain}`, via: "custom domain" };
  const { token, accountId } = await credentials();
  try {
    const { subdomain } = await cloudflareApi(`/accounts/${accountId}/workers/subdomain`, { token });
    return { url: `https://${workerName}.${subdomain}.workers.dev`, via: "workers.dev" };
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.codes.includes(10007))) {
      throw new Refusal("this account has no workers.dev subdomain yet: open Workers & Pages in the Cloudflare dashboard once " +
        "(it offers one), or give DOMAIN=<host in one of your zones>");
    }
    throw e;
  }
}

/**
 * Rate-limit namespaces. A `ratelimits[].namespace_id` names a counter shared by every Worker in
 * the account that binds the same id (Cloudflare: "an identifier you define, that is unique to
 * your Cloudflare account. Must be an integer"; Wrangler checks only that it is a string), so two
 * deployments that keep the ids wrangler.jsonc ships with (7001-7006: every mKit clone has them)
 * would throttle each other. There is no call to list or reserve namespaces (none in Wrangler, nor
 * in the Cloudflare API client it bundles, whose only rate_limits are a zone's WAF rules); the
 * Workers API does show each Worker's bindings (GET …/workers/scripts, then
 * …/scripts/<name>/settings), so the ids the account's other Workers bind are known.
 *
 * Unset here: "", a REPLACE_WITH_… placeholder, anything but a positive integer, or a shipped id. An unset id becomes a
 * deterministic one, derived from the Worker and binding names (namespaceIdFor: a fresh clone of
 * the same configuration gets the same ids), moved on by one while another Worker in the account,
 * another environment of wrangler.jsonc or another binding of this one has it. A set id is kept;
 * if another Worker binds it too, provision says so (sharing a counter can be deliberate).
 */
export const SHIPPED_NAMESPACE_IDS = ["7001", "7002", "7003", "7004", "7005", "7006"];
const NAMESPACE_MIN = 100_000_000;
const NAMESPACE_SPAN = 900_000_000;

/** The first namespace id provision tries for `binding` of `worker`: nine digits, from a hash. */
export function namespaceIdFor(worker, binding) {
  const n = createHash("sha256").update(`${worker}/${binding}`).digest().readUInt32BE(0);
  return String(NAMESPACE_MIN + (n % NAMESPACE_SPAN));
}
const nextNamespaceId = (id) => String(NAMESPACE_MIN + ((Number(id) - NAMESPACE_MIN + 1) % NAMESPACE_SPAN));
const namespaceUnset = (id) => UNSET.test(id ?? "") || !/^[1-9]\d*$/.test(id) || SHIPPED_NAMESPACE_IDS.includes(id);

/** namespace id → the names of the other Workers in the account that bind it. */
async function namespacesInAccount(credentials, workerName) {
  const { token, accountId } = await credentials();
  const scripts = (await cloudflareApi(`/accounts/${accountId}/workers/scripts`, { token })) ?? [];
  const names = scripts.map((s) => s.id ?? s.name).filter((n) => n && n !== workerName);
  const byId = new Map();
  const bindings = async (name) => {
    try {
      return (await cloudflareApi(`/accounts/${accountId}/workers/scripts/${name}/settings`, { token }))?.bindings ?? [];
    } catch (e) {
      if (workerNotFound(e)) return []; // deleted since the listing
      throw new Error(`could not read Worker ${name}'s bindings, to keep its rate-limit namespaces: ${e.message}`);
    }
  };
  for (let i = 0; i < names.length; i += 8) {
    const batch = names.slice(i, i + 8);
    const found = await Promise.all(batch.map(bindings));
    batch.forEach((name, j) => {
      for (const b of found[j]) {
        if (b.type !== "ratelimit" || b.namespace_id === undefined) continue;
        const id = String(b.namespace_id);
        byId.set(id, [...(byId.get(id) ?? []), name]);
      }
    });
  }
  return byId;
}

/** The env's namespace ids: [index, id, how] per binding, and notes on ids shared with other Workers. */
export function namespaceIds({ env, config, workerName, inAccount }) {
  const own = config.env[env].ratelimits ?? [];
  const elsewhere = new Set([
    ...(config.ratelimits ?? []),
    ...Object.entries(config.env ?? {}).filter(([name]) => name !== env).flatMap(([, c]) => c.ratelimits ?? []),
  ].map((r) => String(r.namespace_id)));
  const used = new Set();
  const taken = (id) => inAccount.has(id) || elsewhere.has(id) || used.has(id);
  const picks = [];
  const notes = [];
  own.forEach((r, i) => {
    const id = r.namespace_id === undefined ? "" : String(r.namespace_id);
    if (!namespaceUnset(id) && !used.has(id) && !elsewhere.has(id)) {
      if (inAccount.has(id)) {
        notes.push(`ratelimit ${r.name}: namespace ${id} kept; Worker ${inAccount.get(id).join(", ")} binds it too, so they share ` +
          `one counter. For one of its own, set env.${env} ${r.name}'s namespace_id to "" and run make provision again`);
      }
      picks.push([i, id, "kept"]);
    } else {
      let pick = namespaceIdFor(workerName, r.name);
      while (taken(pick)) pick = nextNamespaceId(pick);
      const why = SHIPPED_NAMESPACE_IDS.includes(id) ? "the id wrangler.jsonc ships with" : UNSET.test(id) ? "a placeholder"
        : namespaceUnset(id) ? "not a positive integer"
          : used.has(id) ? "another binding of this environment has it" : "another environment of wrangler.jsonc has it";
      picks.push([i, pick, `was ${id ? `${id}, ` : ""}${why}`]);
    }
    used.add(picks.at(-1)[1]);
  });
  return { picks, notes };
}

/** The wrangler.jsonc edits (placeholders only), and notes on values kept. */
function edits(plan, { db, url, namespaces }) {
  const strings = [];
  const notes = [...namespaces.notes];
  const vars = plan.section.vars ?? {};
  const at = ["env", plan.env];
  if (UNSET.test(plan.section.d1_databases[plan.dbIndex].database_id ?? "")) {
    strings.push([[...at, "d1_databases", plan.dbIndex, "database_id"], db.id]);
  }
  const fill = (name, value, asked) => {
    if (vars[name] === value) return;
    if (UNSET.test(vars[name] ?? "")) return strings.push([[...at, "vars", name], value]);
    if (asked) throw new Refusal(`env.${plan.env}.vars.${name} is already ${vars[name]}; provision fills placeholders only. Edit wrangler.jsonc to change it (tokens then need the new value)`);
    notes.push(`MCP_RESOURCE kept as ${vars[name]} (not ${value})`);
  };
  fill("MCP_RESOURCE", `${url}/mcp`, Boolean(plan.domain));
  if (plan.issuer) fill("OAUTH_ISSUER", plan.issuer, true);
  for (const [i, id, how] of namespaces.picks) {
    if (how !== "kept") strings.push([[...at, "ratelimits", i, "namespace_id"], id]);
  }
  const routes = plan.section.routes ?? (plan.section.route ? [plan.section.route] : []);
  const hasRoute = routes.some((r) => (typeof r === "string" ? r : r.pattern) === plan.domain);
  const route = plan.domain && !hasRoute ? { pattern: plan.domain, custom_domain: true } : null;
  if (route && plan.section.routes) throw new Refusal(`env.${plan.env} already has routes: add ${JSON.stringify(route)} to them by hand`);
  return { strings, route, notes };
}

async function main(argv) {
  const opts = parseOptions(argv);
  const path = process.env.WRANGLER_CONFIG || join(ROOT, "wrangler.jsonc");
  const text = readFileSync(path, "utf8");
  const config = parseJsonc(text).value;
  const plan = checkInputs(opts, config);
  const login = await requireLogin();
  const configArgs = process.env.WRANGLER_CONFIG ? ["--config", process.env.WRANGLER_CONFIG] : [];
  const workerName = plan.section.name ?? `${config.name}-${plan.env}`;
  console.log(`provision ${plan.env}: Worker ${workerName} (login: ${login.via === "oauth" ? "wrangler login" : "CLOUDFLARE_API_TOKEN"})`);

  const db = await database(plan, configArgs);
  console.log(`  D1 ${db.name}: ${db.id} (${db.how})`);
  let asked;
  const credentials = () => (asked ??= apiCredentials(config)); // one whoami and token for every API call
  const { url, via } = await origin(plan, credentials, workerName);
  console.log(`  URL: ${url} (${via})`);
  const namespaces = plan.section.ratelimits?.length
    ? namespaceIds({ env: plan.env, config, workerName, inAccount: await namespacesInAccount(credentials, workerName) })
    : { picks: [], notes: [] };
  for (const [i, id, how] of namespaces.picks) {
    console.log(`  rate-limit namespace ${plan.section.ratelimits[i].name}: ${id} (${how === "kept" ? "already set" : `${how}; no other Worker in the account binds the new one`})`);
  }
  const change = edits(plan, { db, url, namespaces });
  for (const n of change.notes) console.log(`  note: ${n}`);

  let next = setJsoncStrings(text, change.strings);
  if (change.route) next = insertJsoncMember(next, ["env", plan.env], "routes", [change.route], "      ");
  const shown = [...change.strings.map(([p, v]) => `${p.join(".")} = ${v}`), ...(change.route ? [`env.${plan.env}.routes = ${JSON.stringify([change.route])}`] : [])];
  if (!shown.length) console.log(`  ${path}: nothing to change`);
  else if (process.env.DRY_RUN === "1") for (const s of shown) console.log(`dry-run: would set ${s}`);
  else {
    writeFileSync(path, next);
    for (const s of shown) console.log(`  set ${s}`);
  }
  nextSteps(plan, parseJsonc(next).value.env[plan.env], url);
}

function nextSteps(plan, section, url) {
  const left = [...new Set(JSON.stringify(section).match(/REPLACE_WITH_[A-Z0-9_]+/g) ?? [])];
  const e = plan.env;
  console.log("\nnext:");
  if (left.length) {
    const issuer = left.find((p) => p.endsWith("_ISSUER"));
    console.log(`  fill ${left.join(", ")}` + (issuer ? ` (${issuer}: make vars ENV=${e} NAME=OAUTH_ISSUER VALUE=https://<your issuer>/)` : ""));
  }
  console.log(`  openssl rand -hex 32 | scripts/bin/node node_modules/.bin/wrangler secret put MKIT_SECRET --env ${e}`);
  console.log(`  scripts/bin/node node_modules/.bin/wrangler secret put STRIPE_WEBHOOK_SECRET --env ${e}   # when you sell paid tools`);
  console.log(`  make deploy ENV=${e} && make check URL=${url}`);
}

await runMain(import.meta, main);
