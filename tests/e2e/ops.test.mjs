// Operations: `make check` against the real local worker (all PASS) and against deliberately
// broken configurations (each FAIL for its reason); `make deploy|rollback|secrets|tail` refusing
// without credentials; the deploy plan (DRY_RUN); wrangler.jsonc validation.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { EXAMPLES_BUILD, ROOT, TEST_DEPLOYMENT_SECRET, TEST_WEBHOOK_SECRET, freePort, startWorker, filledConfig } from "./harness.mjs";
import { startStack } from "./stack.mjs";
import { noLogin } from "./fake-cloudflare.mjs";
import { parseChallenge, unusableKey } from "../../scripts/check.mjs";
import { validateConfig, readConfig, schemaKnowsInvocationLogs } from "../../scripts/wrangler-config.mjs";
import { checkInvocation, commandsIn, wranglerInvocations } from "../../scripts/check-doc-commands.mjs";
import { secretReport } from "../../scripts/ops.mjs";

const exec = promisify(execFile);
const NO_CLOUDFLARE = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CLOUDFLARE_")));

/** Runs a command; resolves to { code, out } whatever the exit status. */
async function runCmd(cmd, args, { env = process.env, timeout = 120_000 } = {}) {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd: ROOT, env, timeout, maxBuffer: 1 << 22 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    if (e.killed) throw new Error(`${cmd} ${args.join(" ")} did not finish within ${timeout} ms`);
    return { code: e.code, out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}
const check = (url, token) => runCmd(process.execPath, ["scripts/check.mjs", url], { env: { ...process.env, TOKEN: token ?? "" } });
/** The line of check `name`, as "PASS <detail>" or "FAIL <detail>". */
const line = (out, name) => (out.split("\n").find((l) => l.slice(5).startsWith(`${name} `)) ?? `(no ${name} line)`)
  .replace(/^(PASS|FAIL) \S+\s+/, "$1 ");

let stack;
before(async () => {
  stack = await startStack({ name: "ops" });
});
after(async () => {
  await stack?.stop();
});

test("make check against the local worker: every check passes, with and without a token", async () => {
  const token = await stack.token();
  const { code, out } = await runCmd("make", ["-s", "check", `URL=${stack.worker.url}`, `TOKEN=${token}`]);
  console.log(out);
  assert.equal(code, 0, out);
  for (const name of ["healthz", "healthz.config", "healthz.db", "healthz.jwks", "healthz.billing", "mcp.unauthenticated",
    "prm", "prm.consistent", "issuer.metadata", "issuer.jwks", "webhook.unsigned", "mcp.initialize", "mcp.tools/list"]) {
    assert.match(line(out, name), /^PASS /, name);
  }
  assert.match(line(out, "healthz"), /\(\d+ ms\)$/, "each probe reports its latency");
  assert.match(out, /OK: 14 passed, 0 failed/);
  const anonymous = await check(stack.worker.url);
  assert.equal(anonymous.code, 0, anonymous.out);
  assert.doesNotMatch(anonymous.out, /mcp\.initialize/);
});

test("make check: a bad token fails initialize, and usage errors exit 2", async () => {
  const { code, out } = await check(stack.worker.url, "not-a-jwt");
  assert.equal(code, 1);
  assert.match(line(out, "mcp.initialize"), /^FAIL .*invalid_token/);
  assert.equal((await check("not a url")).code, 2);
});

test("make check against broken deployments: each fails for its own reason", async (t) => {
  await t.test("nothing listening", async () => {
    const { code, out } = await check(`http://127.0.0.1:${await freePort()}`);
    assert.equal(code, 1);
    assert.match(line(out, "healthz"), /^FAIL .*unreachable \(ECONNREFUSED\)/);
    assert.match(line(out, "webhook.unsigned"), /^FAIL .*unreachable/);
  });

  await t.test("issuer down: jwks and issuer checks fail, the rest still answers", async () => {
    const dead = `http://127.0.0.1:${await freePort()}/`;
    const w = await startWorker({ name: "ops-issuer-down", vars: { OAUTH_ISSUER: dead, STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      MKIT_SECRET: TEST_DEPLOYMENT_SECRET } });
    try {
      const { code, out } = await check(w.url);
      assert.equal(code, 1);
      assert.match(line(out, "healthz"), /^FAIL HTTP 503 status=fail/);
      assert.match(line(out, "healthz.jwks"), /^FAIL jwks=unreachable/);
      assert.match(line(out, "issuer.metadata"), /^FAIL .*unreachable \(ECONNREFUSED\)/);
      assert.match(line(out, "healthz.config"), /^PASS /);
      assert.match(line(out, "mcp.unauthenticated"), /^PASS HTTP 401/);
      assert.match(line(out, "webhook.unsigned"), /^PASS HTTP 400/);
    } finally {
      await w.stop();
    }
  });

  await t.test("webhook secret missing: the contract is broken, so config, billing and every route fail", async () => {
    // EXAMPLES_BUILD: the secret is required because a paid tool (text_stats) is served.
    const w = await startWorker({ name: "ops-no-secret", script: EXAMPLES_BUILD, vars: { OAUTH_ISSUER: stack.issuer.url, MKIT_SECRET: TEST_DEPLOYMENT_SECRET } });
    try {
      const { code, out } = await check(w.url);
      assert.equal(code, 1);
      assert.match(line(out, "healthz.config"), /^FAIL STRIPE_WEBHOOK_SECRET=missing/);
      assert.match(line(out, "healthz.billing"), /^FAIL webhook_secret=missing/);
      assert.match(line(out, "webhook.unsigned"), /^FAIL HTTP 503 .*server misconfigured: STRIPE_WEBHOOK_SECRET/);
      assert.match(line(out, "mcp.unauthenticated"), /^FAIL HTTP 503/);
      assert.match(line(out, "healthz.jwks"), /^FAIL jwks=absent \(not checked: the configuration is invalid\)/);
      assert.match(line(out, "healthz.db"), /^PASS /);
    } finally {
      await w.stop();
    }
  });

  await t.test("MCP_RESOURCE naming another host: the challenge and metadata disagree with the deployment", async () => {
    const w = await startWorker({ name: "ops-wrong-resource", vars: { OAUTH_ISSUER: stack.issuer.url,
      STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, MKIT_SECRET: TEST_DEPLOYMENT_SECRET, MCP_RESOURCE: "https://elsewhere.example.com/mcp" } });
    try {
      const { code, out } = await check(w.url);
      assert.equal(code, 1);
      assert.match(line(out, "prm.consistent"), /^FAIL the 401 challenge points at https:\/\/elsewhere\.example\.com/);
      assert.match(line(out, "healthz"), /^PASS /);
    } finally {
      await w.stop();
    }
  });
});

test("every curl command in the runbook and deployment guide runs against the local worker without a 5xx", async () => {
  const commands = new Set();
  for (const doc of ["docs/runbook.md", "docs/deployment.md"]) {
    for (const l of commandsIn(readFileSync(join(ROOT, doc), "utf8"))) if (l.startsWith("curl ")) commands.add(l);
  }
  assert.ok(commands.size >= 3, [...commands].join("\n"));
  for (const cmd of commands) {
    const { code, out } = await runCmd("bash", ["-c", `${cmd} -w '\nHTTP %{http_code}'`], { env: { ...process.env, URL: stack.worker.url } });
    assert.equal(code, 0, `${cmd}: ${out}`);
    const status = Number(out.match(/HTTP (\d+)$/)?.[1]);
    assert.ok(status >= 200 && status < 500, `${cmd}: HTTP ${status}`);
  }
});

test("check's key and challenge rules", () => {
  assert.deepEqual(parseChallenge('Bearer resource_metadata="https://x/.well-known/oauth-protected-resource/mcp", scope="a b"'),
    { resource_metadata: "https://x/.well-known/oauth-protected-resource/mcp", scope: "a b" });
  assert.equal(parseChallenge("Basic realm=x"), null);
  const n = Buffer.alloc(256, 1).toString("base64url");
  assert.equal(unusableKey({ kty: "RSA", n, e: "AQAB" }), null);
  assert.match(unusableKey({ kty: "RSA", n: Buffer.alloc(128, 1).toString("base64url"), e: "AQAB" }), /1024 bits/);
  assert.match(unusableKey({ kty: "RSA", n, e: "AQAB", d: "x" }), /private/);
  assert.match(unusableKey({ kty: "EC", crv: "P-384", x: "a", y: "b" }), /P-384/);
  assert.match(unusableKey({ kty: "oct", k: "a" }), /oct/);
  assert.match(unusableKey({ kty: "OKP", crv: "Ed25519", x: "a", use: "enc" }), /use=enc/);
  assert.match(unusableKey({ kty: "EC", crv: "P-256", x: "a", y: "b", alg: "HS256" }), /HS256/);
});

test("deploy, promote, rollback, secrets and tail refuse at once without a Cloudflare login", async () => {
  for (const target of ["deploy", "promote", "rollback", "secrets", "tail"]) {
    const started = Date.now();
    const { code, out } = await runCmd("make", ["-s", target, "ENV=staging"], { env: noLogin(), timeout: 60_000 });
    assert.notEqual(code, 0, target);
    assert.match(out, /refused: not logged in to Cloudflare\. On your machine run `scripts\/bin\/node node_modules\/\.bin\/wrangler login` once; in CI export CLOUDFLARE_API_TOKEN/, target);
    assert.ok(Date.now() - started < 30_000, `${target} answered without waiting for a login`);
  }
});

test("deploy refuses unknown environments, unfilled placeholders and bad percentages", async () => {
  const env = { ...NO_CLOUDFLARE, CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: "a" };
  let r = await runCmd("make", ["-s", "deploy", "ENV=prod"], { env });
  assert.match(r.out, /ENV=prod is not an environment in wrangler\.jsonc \(staging, production\)/);
  r = await runCmd("make", ["-s", "deploy", "ENV=staging"], { env });
  assert.match(r.out, /env\.staging still has placeholders: REPLACE_WITH_STAGING_D1_ID/);
  r = await runCmd("make", ["-s", "deploy", "ENV="], { env });
  assert.match(r.out, /ENV is required/);
  const filled = filledConfig("filled");
  r = await runCmd("make", ["-s", "deploy", "ENV=staging", "PERCENT=150"], { env: { ...env, WRANGLER_CONFIG: filled } });
  assert.match(r.out, /PERCENT must be a whole number from 1 to 100/);
});

test("DRY_RUN=1 make deploy prints the plan: migrations, the Durable Object migration check, upload, gradual deploy", async () => {
  // The commit comes from the Makefile (git HEAD), as in a real deploy; the build is skipped.
  const env = { ...NO_CLOUDFLARE, CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: "a", DRY_RUN: "1", WRANGLER_CONFIG: filledConfig("filled"),
    ALLOW_DIRTY: "1" };
  const { code, out } = await runCmd("make", ["-s", "deploy", "ENV=staging", "PERCENT=10"], { env });
  assert.equal(code, 0, out);
  const commit = out.match(/--tag ([0-9a-f]{12}(?:-dirty)?) /)?.[1];
  assert.ok(commit, out);
  const config = readConfig(env.WRANGLER_CONFIG);
  const [worker, lastTag] = [config.env.staging.name, config.migrations.at(-1).tag];
  const plan = out.split("\n").filter((l) => l.startsWith("dry-run: ")).map((l) => l.replace(/ --config \S+/, ""));
  assert.deepEqual(plan, [
    "dry-run: make worker",
    "dry-run: node scripts/migrations.mjs",
    "dry-run: wrangler d1 migrations apply DB --remote --env staging",
    // No API call in a dry run: the check deploy.test.mjs runs for real is only named.
    `dry-run: check ${worker}'s Durable Object migration tag (GET /accounts/<account>/workers/services/${worker}); ` +
      `unless it is ${lastTag}, \`wrangler deploy --env staging\` (100% at once, applies the migration) replaces the upload and deploy below`,
    `dry-run: wrangler versions upload --env staging --tag ${commit} --message "mkit ${commit}"`,
    "dry-run: wrangler deployments status --env staging --json",
    `dry-run: wrangler versions deploy <new-version-id>@10 <current-version-id>@90 --env staging --yes --message "mkit ${commit}"`,
  ]);
  const full = await runCmd("make", ["-s", "deploy", "ENV=production"], { env });
  assert.match(full.out, /dry-run: wrangler versions deploy <new-version-id>@100 --env production --yes/);
  const rb = await runCmd("make", ["-s", "rollback", "ENV=production", "VERSION=abc"], { env });
  assert.match(rb.out, /dry-run: wrangler rollback abc --env production --yes --message "make rollback"/);
  // Straight to the script, so the Makefile's commit stamp is left alone.
  const dirty = await runCmd(process.execPath, ["scripts/ops.mjs", "deploy", "--env", "staging"],
    { env: { ...env, ALLOW_DIRTY: "", MKIT_COMMIT: "0123456789ab-dirty" } });
  assert.equal(dirty.code, 2);
  assert.match(dirty.out, /refused: the build is from uncommitted changes \(0123456789ab-dirty\)/);
});

test("make secrets names the contract's secrets: set, missing (required) or unset (optional)", () => {
  assert.deepEqual(secretReport(["OTHER"]), { missing: 2, lines: [
    "MISSING  STRIPE_WEBHOOK_SECRET (required)", "unset    STRIPE_SECRET_KEY (optional)",
    "MISSING  MKIT_SECRET (required)", "unset    OAUTH_INTROSPECTION_CLIENT_SECRET (optional)",
    "unset    MKIT_WEB_CLIENT_SECRET (optional)", "unset    MKIT_X402_CDP_API_KEY_SECRET (optional)"] });
  assert.deepEqual(secretReport(["STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY", "MKIT_SECRET"]), { missing: 0, lines: [
    "set      STRIPE_WEBHOOK_SECRET (required)", "set      STRIPE_SECRET_KEY (optional)",
    "set      MKIT_SECRET (required)", "unset    OAUTH_INTROSPECTION_CLIENT_SECRET (optional)",
    "unset    MKIT_WEB_CLIENT_SECRET (optional)", "unset    MKIT_X402_CDP_API_KEY_SECRET (optional)"] });
});

test("wrangler.jsonc validation catches drift between environments", () => {
  assert.deepEqual(validateConfig(readConfig()), []);
  const c = readConfig();
  delete c.env.production.d1_databases;
  c.env.staging.vars.MKIT_UPGRADE_URL = "https://x";
  c.env.staging.vars.STRIPE_SECRET_KEY = "sk_live_oops";
  c.env.production.vars.OAUTH_ISUER = c.env.production.vars.OAUTH_ISSUER;
  c.env.staging.observability = { enabled: true };
  delete c.env.production.vars.OAUTH_ISSUER;
  delete c.env.staging.durable_objects;
  const problems = validateConfig(c).join("\n");
  assert.match(problems, /env\.staging: no Durable Object binding MCP_SESSIONS/);
  assert.doesNotMatch(problems, /env\.production: no Durable Object/);
  delete c.migrations;
  assert.match(validateConfig(c).join("\n"), /env\.production: no migration creates McpSessions/);
  assert.match(problems, /env\.production: no D1 binding named DB/);
  assert.match(problems, /env\.staging: STRIPE_SECRET_KEY is a secret/);
  assert.match(problems, /env\.production: OAUTH_ISUER is not a configuration variable/);
  assert.match(problems, /env\.production: required var OAUTH_ISSUER is missing/);
  assert.match(problems, /env\.production: vars .* differ from env\.staging's/);
  assert.match(problems, /env\.staging: observability\.logs\.invocation_logs must be false/);
  assert.doesNotMatch(problems, /env\.production: observability/, "production inherits the top level's setting");
  assert.ok(schemaKnowsInvocationLogs(), "the pinned Wrangler schema has the setting");
});


test("the docs command check reads commands and catches flags the pinned wrangler lacks", async () => {
  const md = "Run `make check URL=x`.\n\n```sh\nnode_modules/.bin/wrangler d1 execute DB --remote \\\n  --command \"SELECT 1\"   # note\n```\n";
  const lines = commandsIn(md);
  assert.deepEqual(lines, ['node_modules/.bin/wrangler d1 execute DB --remote --command "SELECT 1"', "make check URL=x"]);
  assert.deepEqual(wranglerInvocations(lines[0]), [["d1", "execute", "DB", "--remote", "--command", '"SELECT 1"']]);
  assert.deepEqual(await checkInvocation(["versions", "deploy", "v1@10", "--yes", "-e", "x"]), { path: ["versions", "deploy"], problems: [] });
  assert.deepEqual((await checkInvocation(["versions", "deploy", "--percent", "10"])).problems,
    ["flag --percent is not in `wrangler versions deploy --help`"]);
  assert.match((await checkInvocation(["deploymnets", "list"])).problems[0], /unknown wrangler command "deploymnets"/);
});
