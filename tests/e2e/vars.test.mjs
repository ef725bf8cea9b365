// `make vars ENV=… NAME=… VALUE=…` (scripts/vars.mjs): one configuration var into a copy of
// wrangler.jsonc (WRANGLER_CONFIG), comments kept; contract vars only, never a secret; values
// checked as the worker checks them; the environments that lack the name are named, with the
// command that fixes it, which is then run as printed. No Cloudflare call is made.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { ROOT, configCopy } from "./harness.mjs";
import { parseJsonc } from "../../scripts/jsonc.mjs";
import { readConfig, validateConfig } from "../../scripts/wrangler-config.mjs";
import { FORMATS, checkRequest } from "../../scripts/vars.mjs";
import { contractVars } from "../../scripts/wrangler-config.mjs";

const exec = promisify(execFile);
async function make(args, env = {}) {
  const full = { ...process.env, NAME: "", VALUE: "", ...env };
  try {
    const { stdout, stderr } = await exec("make", ["-s", "vars", ...args], { cwd: ROOT, env: full, timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    return { code: e.code, out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}
const read = (path) => parseJsonc(readFileSync(path, "utf8")).value;
/** The deploy rules, but for migrations_dir, which a copy beside .e2e/ points back at the repository. */
const problems = (path) => validateConfig(readConfig(path)).filter((p) => !p.includes("migrations_dir"));

test("make vars fills a placeholder in place, comments kept, and says the other environment still has its own", async () => {
  const config = configCopy("vars-issuer");
  const r = await make(["ENV=staging", "NAME=OAUTH_ISSUER", "VALUE=https://auth.example.com/"], { WRANGLER_CONFIG: config });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /vars staging: set OAUTH_ISSUER = https:\/\/auth\.example\.com\/ \(was the placeholder REPLACE_WITH_STAGING_ISSUER\)/);
  assert.match(r.out, /env\.production\.vars\.OAUTH_ISSUER is still the placeholder REPLACE_WITH_PRODUCTION_ISSUER/);
  assert.doesNotMatch(r.out, /make vars ENV=production/, "production has the name: nothing to add there");
  const text = readFileSync(config, "utf8");
  assert.equal(read(config).env.staging.vars.OAUTH_ISSUER, "https://auth.example.com/");
  assert.match(text, /^\/\/ mKit's Wrangler configuration/, "comments kept");
  assert.equal(text.replace('"https://auth.example.com/"', '"REPLACE_WITH_STAGING_ISSUER"'),
    readFileSync(configCopy("vars-original"), "utf8"), "only the value changed");

  const again = await make(["ENV=staging", "NAME=OAUTH_ISSUER", "VALUE=https://auth.example.com/"], { WRANGLER_CONFIG: config });
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /OAUTH_ISSUER is already https:\/\/auth\.example\.com\/; nothing to change/);
  assert.equal(readFileSync(config, "utf8"), text, "idempotent");

  const changed = await make(["ENV=staging", "NAME=OAUTH_ISSUER", "VALUE=https://other.example.com/"], { WRANGLER_CONFIG: config, DRY_RUN: "1" });
  assert.equal(changed.code, 0, changed.out);
  assert.match(changed.out, /dry-run: would set env\.staging\.vars\.OAUTH_ISSUER = https:\/\/other\.example\.com\/ \(was https:\/\/auth\.example\.com\/\)/);
  assert.match(changed.out, /this changes which tokens staging accepts/);
  assert.equal(readFileSync(config, "utf8"), text, "DRY_RUN writes nothing");
});

test("a new name: added to one environment, the command for the other printed, and run as printed, deploy-check agrees", async () => {
  const config = configCopy("vars-new");
  assert.deepEqual(problems(config), []);
  const scopes = "mcp tools:read";
  let r = await make(["ENV=staging", "NAME=OAUTH_REQUIRED_SCOPES", `VALUE=${scopes}`], { WRANGLER_CONFIG: config });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /vars staging: set OAUTH_REQUIRED_SCOPES = mcp tools:read \(new\)/);
  assert.equal(read(config).env.staging.vars.OAUTH_REQUIRED_SCOPES, scopes, "the space survives make and the shell");
  assert.match(r.out, /make deploy-check needs the same var names in every environment: env\.production has no OAUTH_REQUIRED_SCOPES yet/);
  assert.match(problems(config).join("\n"), /env\.production: vars .* differ from env\.staging's/, "deploy-check refuses the difference");

  const printed = r.out.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("make vars ENV=production"));
  assert.deepEqual(printed, ["make vars ENV=production NAME=OAUTH_REQUIRED_SCOPES VALUE='mcp tools:read'"]);
  const { stdout } = await exec("bash", ["-c", printed[0].replace(/^make /, "make -s ")], { cwd: ROOT,
    env: { ...process.env, WRANGLER_CONFIG: config } });
  assert.match(stdout, /vars production: set OAUTH_REQUIRED_SCOPES = mcp tools:read \(new\)/);
  assert.doesNotMatch(stdout, /make vars ENV=/, "every environment has it now");
  assert.deepEqual(problems(config), [], "deploy-check's rules hold again");
  const staging = readFileSync(config, "utf8").match(/"staging": \{[\s\S]*?"vars": \{\n([\s\S]*?)\n\s*\}/)[1];
  assert.match(staging, /^ {8}"MCP_RESOURCE": "REPLACE_WITH_STAGING_RESOURCE",\n {8}"OAUTH_REQUIRED_SCOPES": "mcp tools:read"$/m,
    "appended on a line of its own, indented like the others");
});

test("make vars refuses a secret (naming wrangler secret put), unknown names (with the near one) and bad values, changing nothing", async () => {
  const config = configCopy("vars-refusals");
  const before = readFileSync(config, "utf8");
  const env = { WRANGLER_CONFIG: config };

  let r = await make(["ENV=staging", "NAME=STRIPE_WEBHOOK_SECRET", "VALUE=whsec_abc"], env);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /refused: STRIPE_WEBHOOK_SECRET is a secret: never in wrangler\.jsonc/);
  assert.match(r.out, /scripts\/bin\/node node_modules\/\.bin\/wrangler secret put STRIPE_WEBHOOK_SECRET --env staging/);

  r = await make(["ENV=staging", "NAME=OAUTH_ISSUR", "VALUE=https://a.example/"], env);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /OAUTH_ISSUR is not a configuration variable .*; did you mean OAUTH_ISSUER\?/);

  r = await make(["ENV=prod", "NAME=OAUTH_LEEWAY_SECONDS", "VALUE=90"], env);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /ENV=prod is not an environment in wrangler\.jsonc \(staging, production\)/);
  assert.match(r.out, /OAUTH_LEEWAY_SECONDS=90: must be a whole number of seconds from 0 to 60/, "every problem at once");

  for (const [name, value, why] of [["OAUTH_ISSUER", "http://auth.example.com/", /must be an https URL \(http only for localhost\)/],
    ["MKIT_AUTH_SERVER", "yes", /must be on or off/], ["MCP_ALLOWED_ORIGINS", "https://app.example.com/path", /no path/],
    ["MKIT_STRIPE_ACCOUNT", "cus_123", /acct_/], ["MKIT_PRICES", "pro=prod_1", /entitlement=price_… pairs/],
    ["MKIT_X402_PAY_TO", "0x1234", /40 hex digits/], ["MKIT_X402_NETWORK", "eip155:10", /Base Sepolia/],
    ["MKIT_X402_CREDIT_PRICE", "0", /at least 1/]]) {
    r = await make(["ENV=staging", `NAME=${name}`, `VALUE=${value}`], env);
    assert.equal(r.code, 2, `${name}=${value}: ${r.out}`);
    assert.match(r.out, why, `${name}=${value}`);
  }
  r = await make(["ENV=staging", "NAME=OAUTH_ISSUER"], env);
  assert.match(r.out, /VALUE is required/);
  // NAME and VALUE count only on make's command line, never from the environment (a shell's NAME).
  r = await make(["ENV=staging"], { ...env, NAME: "OAUTH_ISSUER", VALUE: "https://a.example/" });
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /NAME is required/);
  assert.equal(readFileSync(config, "utf8"), before, "nothing was written");
});

test("every contract var format has a check, and each accepts the contract's own examples", () => {
  for (const v of contractVars().filter((x) => x.kind !== "secret")) {
    assert.ok(FORMATS[v.format], `${v.name}: format ${v.format} has a check in scripts/vars.mjs`);
  }
  const good = { OAUTH_ISSUER: "https://auth.example.com/", MCP_RESOURCE: "http://127.0.0.1:8787/mcp", OAUTH_LEEWAY_SECONDS: "0",
    OAUTH_ACCEPT_JWT_TYP: "TRUE", MKIT_AUTH_SERVER: "on", MKIT_PRICES: "pro=price_1,team = price_2", MKIT_STRIPE_MODE: "test",
    MKIT_STRIPE_ACCOUNT: "acct_1AbC", MKIT_GRACE_DAYS: "60", MKIT_ENTITLEMENT_CACHE_SECONDS: "300",
    OAUTH_SCOPE_CLAIMS: "scope,scp", OAUTH_SCOPE_PREFIX: "api://1234/", OAUTH_CLAIMS: "email,org=org.id",
    MCP_ALLOWED_ORIGINS: "https://app.example.com,http://localhost:6274", OAUTH_REQUIRED_SCOPES: "mcp tools:read",
    MKIT_AUTH_SIGNIN_DAYS: "30", MKIT_AUTH_SCOPE_RULES: "admin=groups=mcp-admins, admin=sub=alice, reports=hd=example.com",
    MKIT_X402_PAY_TO: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", MKIT_X402_NETWORK: "eip155:84532",
    MKIT_X402_CREDIT_PRICE: "10000", MKIT_X402_FACILITATOR_URL: "https://x402.org/facilitator" };
  const config = { env: { staging: { vars: {} } } };
  for (const [name, value] of Object.entries(good)) {
    assert.doesNotThrow(() => checkRequest({ env: "staging", name, value }, config), `${name}=${value}`);
  }
});
