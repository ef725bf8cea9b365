// `make vars ENV=staging|production NAME=… VALUE=…`: one configuration variable in wrangler.jsonc's
// env.ENV.vars, set without editing JSON by hand (comments and layout kept, scripts/jsonc.mjs).
//
//   - NAME must be a var of the configuration contract (crates/mkit/config/contract.json); a secret is refused
//     with the `wrangler secret put` command to use instead (wrangler.jsonc is committed);
//   - VALUE is checked as the worker checks it at startup (crates/mkit/src/config/formats.rs), so an obvious
//     mistake is named now, not by /healthz after a deploy;
//   - every environment must list the same var names (make deploy-check refuses otherwise): when
//     another environment lacks NAME, the command that gives it one is printed.
//
// Nothing is deployed: the next `make deploy ENV=…` ships it. DRY_RUN=1 prints the edit instead.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseOptions, Refusal, runMain } from "./cloudflare.mjs";
import { parseJsonc, setJsoncMember } from "./jsonc.mjs";
import { contractVars, ROOT } from "./wrangler-config.mjs";

const PLACEHOLDER = /^REPLACE_WITH_[A-Z0-9_]+$/;
const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
const wholeNumber = (max, unit) => (v) => (/^\d+$/.test(v) && Number(v) <= max ? null : `must be a whole number of ${unit} from 0 to ${max}`);

/** One `scope=claim=value` rule, as oauth::scope_policy::ScopeRule::parse reads it. */
function scopeRule(entry) {
  const [scope, claim, ...rest] = entry.split("=");
  const value = rest.join("=").trim();
  const word = (s) => s !== undefined && s.length > 0 && s.length <= 256 && !/\s/.test(s);
  return word(scope) && word(claim) && value.length > 0 && value.length <= 512;
}

/** An https URL (http only for localhost), with a host and no fragment: validate_url's rule. */
function url(v) {
  let u;
  try { u = new URL(v); } catch { return "must be an absolute URL, e.g. https://auth.example.com/"; }
  const local = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
  if (u.protocol !== "https:" && !(u.protocol === "http:" && local)) return "must be an https URL (http only for localhost)";
  if (!u.host || /\s/.test(v) || v.includes("#")) return "must be an absolute URL with a host and no fragment";
  return null;
}

/** The value rules of crates/mkit/src/config/formats.rs, by the contract's `format`; null when the value is fine. */
export const FORMATS = {
  url,
  list: (v) => (list(v).length ? null : "must list at least one value"),
  text: () => null,
  origins: (v) => (list(v).length && list(v).every((o) => !url(o) && !o.split("://")[1].includes("/")) ? null
    : "must be comma-separated origins such as https://app.example.com (no path)"),
  leeway: wholeNumber(60, "seconds"),
  bool: (v) => (/^(true|false)$/i.test(v) ? null : "must be true or false"),
  on_off: (v) => (/^(on|off)$/i.test(v) ? null : "must be on or off"),
  registration: (v) => (/^(on|legacy|off)$/i.test(v) ? null : "must be on, legacy or off"),
  price_map: (v) => (list(v).length && list(v).every((p) => /^[^=]*\S[^=]*=\s*price_/.test(p)) ? null
    : "must be entitlement=price_… pairs, comma-separated"),
  stripe_mode: (v) => (/^(live|test)$/.test(v) ? null : "must be live or test"),
  stripe_account: (v) => (/^acct_[A-Za-z0-9]+$/.test(v) ? null : "must be a Stripe account id (acct_…)"),
  grace_days: wholeNumber(60, "days"),
  cache_seconds: wholeNumber(300, "seconds"),
  claim_names: (v) => (list(v).length && list(v).every((n) => n.length <= 256 && !/[\s=]/.test(n)) ? null
    : "must be claim names, comma-separated (e.g. scope,scp or permissions)"),
  scope_prefix: (v) => (v.length <= 256 && !/[\s,]/.test(v) ? null : "must be one prefix without spaces or commas (e.g. api://<application id>/)"),
  claim_map: (v) => (list(v).length >= 1 && list(v).length <= 16 && list(v).every((e) => /^[^=\s]+(=[^=\s]+)?$/.test(e)) ? null
    : "must list 1 to 16 claims: name or alias=claim, comma-separated"),
  signin_days: wholeNumber(90, "days"),
  issuers: (v) => (list(v).length >= 1 && list(v).length <= 16 && list(v).every((i) => !url(i)) ? null
    : "must be 1 to 16 issuer URLs, comma-separated (e.g. https://acme.okta.com)"),
  scope_rules: (v) => (list(v).length >= 1 && list(v).length <= 64 && list(v).every(scopeRule) ? null
    : "must list 1 to 64 rules scope=claim=value, comma-separated (e.g. admin=groups=mcp-admins)"),
  evm_address: (v) => (/^0x[0-9a-fA-F]{40}$/.test(v) ? null : "must be an EVM address: 0x and 40 hex digits"),
  x402_network: (v) => (/^eip155:(8453|84532|1|137|42161|421614|43114)$/.test(v) ? null
    : "must be a network whose USDC mKit takes: eip155:8453 (Base), eip155:84532 (Base Sepolia), eip155:1 (Ethereum), "
      + "eip155:137 (Polygon), eip155:42161 (Arbitrum One), eip155:421614 (Arbitrum Sepolia) or eip155:43114 (Avalanche C-Chain)"),
  atomic_amount: (v) => (/^\d+$/.test(v) && BigInt(v) >= 1n && BigInt(v) <= 18446744073709551615n ? null
    : "must be a whole number of the asset's smallest units, at least 1"),
};

/** A word for the shell, single-quoted when it needs to be. */
const shellWord = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

/** Contract names close to `name` (a typo, or a missing prefix), for the refusal. */
function near(name, names) {
  const distance = (a, b) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    return d[a.length][b.length];
  };
  const upper = name.toUpperCase();
  return names.filter((n) => n === upper || n.endsWith(`_${upper}`) || distance(upper, n) <= 2);
}

/** Checks the request against wrangler.jsonc and the contract; all problems named at once. */
export function checkRequest({ env, name, value }, config, contract = contractVars()) {
  const envs = Object.keys(config.env ?? {});
  const problems = [];
  if (!env) problems.push(`ENV is required: one of ${envs.join(", ")}`);
  else if (!envs.includes(env)) problems.push(`ENV=${env} is not an environment in wrangler.jsonc (${envs.join(", ")})`);
  const entry = contract.find((v) => v.name === name);
  if (!name) problems.push("NAME is required: a configuration variable of docs/configuration.md, e.g. NAME=OAUTH_ISSUER");
  else if (entry?.kind === "secret") {
    throw new Refusal(`${name} is a secret: never in wrangler.jsonc, which is committed. Set it with\n` +
      `  scripts/bin/node node_modules/.bin/wrangler secret put ${name} --env ${env || "<environment>"}\n(it asks for the value, or reads it piped in)`);
  } else if (!entry) {
    const close = near(name, contract.map((v) => v.name));
    problems.push(`${name} is not a configuration variable (crates/mkit/config/contract.json, docs/configuration.md)` +
      (close.length ? `; did you mean ${close.join(" or ")}?` : ""));
  }
  if (value === undefined || value === "") {
    problems.push(`VALUE is required${name ? ` (to remove ${name}, delete it from every environment's vars in wrangler.jsonc)` : ""}`);
  } else if (entry && entry.kind !== "secret") {
    const wrong = (FORMATS[entry.format] ?? FORMATS.text)(value);
    if (wrong) problems.push(`${name}=${value}: ${wrong}`);
  }
  if (problems.length) throw new Refusal(problems.join("; "));
  return entry;
}

async function main(argv) {
  const opts = parseOptions(argv);
  const path = process.env.WRANGLER_CONFIG || join(ROOT, "wrangler.jsonc");
  const text = readFileSync(path, "utf8");
  const config = parseJsonc(text).value;
  const { env, name, value } = opts;
  checkRequest(opts, config);
  const section = config.env[env];
  const before = section.vars?.[name];
  if (!section.vars || typeof section.vars !== "object") throw new Refusal(`env.${env} has no vars object in wrangler.jsonc`);

  if (before === value) console.log(`vars ${env}: ${name} is already ${value}; nothing to change`);
  else {
    const next = setJsoncMember(text, ["env", env, "vars"], name, value);
    const how = before === undefined ? "new" : PLACEHOLDER.test(before) ? `was the placeholder ${before}` : `was ${before}`;
    if (process.env.DRY_RUN === "1") console.log(`dry-run: would set env.${env}.vars.${name} = ${value} (${how})`);
    else {
      writeFileSync(path, next);
      console.log(`vars ${env}: set ${name} = ${value} (${how})`);
    }
    if (before !== undefined && !PLACEHOLDER.test(before) && ["OAUTH_ISSUER", "MCP_RESOURCE", "OAUTH_AUDIENCE"].includes(name)) {
      console.log(`  note: once deployed, this changes which tokens ${env} accepts: clients sign in again`);
    }
  }

  // Every environment lists the same names (make deploy-check, scripts/wrangler-config.mjs).
  const others = Object.entries(config.env).filter(([e]) => e !== env);
  const missing = others.filter(([, c]) => !(name in (c.vars ?? {}))).map(([e]) => e);
  for (const [e, c] of others) {
    if (PLACEHOLDER.test(c.vars?.[name] ?? "")) console.log(`  env.${e}.vars.${name} is still the placeholder ${c.vars[name]}`);
  }
  if (missing.length) {
    console.log(`\nmake deploy-check needs the same var names in every environment: ${missing.map((e) => `env.${e}`).join(" and ")} ` +
      `${missing.length > 1 ? "have" : "has"} no ${name} yet. Give ${missing.length > 1 ? "them" : "it"} one (its own value, or this one):`);
    for (const e of missing) console.log(`  make vars ENV=${e} NAME=${name} VALUE=${shellWord(value)}`);
  }
  console.log(`\nnext: commit wrangler.jsonc, then make deploy ENV=${env} (vars ship with the next version)`);
}

await runMain(import.meta, main);
