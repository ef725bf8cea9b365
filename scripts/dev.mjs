// `make dev [AUTH_SERVER=off] [PORT=8787]`: mKit locally in workerd (wrangler dev) with a local D1,
// on 127.0.0.1, and a local identity provider on :9400. Ctrl-C stops everything it started.
//
// The default is mKit as the authorization server (AUTH_SERVER=on): MCP clients register and sign
// in with mKit, which signs people in at the local provider. AUTH_SERVER=off makes mKit a plain
// resource server that accepts the local provider's tokens directly (docs/configuration.md).
// Node, not a shell script: it runs the same on macOS's stock bash 3.2 and on Linux.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ISSUER_PORT, startDevIssuer } from "./dev-issuer.mjs";
import { LOCAL_STRIPE_KEY, LOCAL_STRIPE_PORT, startLocalStripe } from "./local-stripe.mjs";
import { assembleMigrations } from "./migrations.mjs";
import { readConfig, ROOT } from "./wrangler-config.mjs";

const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const VARS = join(ROOT, ".dev.vars");
const DEV_CONFIG = join(ROOT, ".wrangler", "dev", "wrangler.json");
const STATE = join(ROOT, ".wrangler", "state");

/** AUTH_SERVER as given on make's command line: on (default) or off. */
export function authMode(value = "") {
  if (value === "" || value === "on") return "on";
  if (value === "off") return "off";
  throw new Error(`AUTH_SERVER must be on or off, got ${JSON.stringify(value)}`);
}

/**
 * Worker vars for the mode, as `wrangler dev --var` arguments, less those .dev.vars sets (a real
 * provider's web client there wins over the local one's).
 */
export function modeVars(mode, devVars = "") {
  const vars = [
    // The local provider's web client: mKit signs people in with it (pay pages, and in mode on
    // every MCP client's sign-in).
    "MKIT_WEB_CLIENT_ID:mkit-test", "MKIT_WEB_CLIENT_SECRET:mkit-test-secret",
    ...(mode === "on" ? ["MKIT_AUTH_SERVER:on"]
      // The scope the local provider grants for the resource: advertised in the protected
      // resource metadata, so a client asks for it (a request for no scope at all is refused).
      : ["OAUTH_REQUIRED_SCOPES:mcp"]),
    // Without a Stripe key of yours, Checkout is the local simulation (scripts/local-stripe.mjs).
    ...(localCheckout(devVars) ? [`STRIPE_SECRET_KEY:${LOCAL_STRIPE_KEY}`, `MKIT_TEST_STRIPE_API:http://127.0.0.1:${LOCAL_STRIPE_PORT}`] : []),
  ];
  return vars.filter((v) => !new RegExp(`^${v.split(":")[0]}=`, "m").test(devVars));
}

/** The local checkout simulation runs unless .dev.vars has a Stripe key (then Stripe's test mode). */
export const localCheckout = (devVars) => !/^STRIPE_SECRET_KEY=/m.test(devVars);

/**
 * wrangler.jsonc for `make dev`'s build (build-dev/, with the local checkout simulation), written
 * under .wrangler/dev/ (absolute paths: it is this machine's); the local state stays in .wrangler/state.
 */
function writeDevConfig() {
  const { $schema: _schema, env: _env, ...top } = readConfig();
  const up = (p) => join(ROOT, p); // absolute: build.cwd is taken from the process, the rest from the file
  const config = { ...top, main: up("build-dev/index.js"),
    build: { command: "make --no-print-directory worker-dev", cwd: up("."), watch_dir: [up("src"), up("crates")] },
    d1_databases: top.d1_databases.map((d) => ({ ...d, migrations_dir: up(d.migrations_dir) })) };
  mkdirSync(join(ROOT, ".wrangler", "dev"), { recursive: true });
  writeFileSync(DEV_CONFIG, JSON.stringify(config, null, 2));
}

/** .dev.vars (git-ignored) with working local values, written once; MKIT_SECRET added if missing. */
function ensureDevVars(port) {
  if (!existsSync(VARS)) {
    writeFileSync(VARS, [
      "# Local development values for `make dev` (git-ignored). See docs/configuration.md.",
      `OAUTH_ISSUER=http://127.0.0.1:${ISSUER_PORT}/`,
      `MCP_RESOURCE=http://127.0.0.1:${port}/mcp`,
      "MCP_ALLOWED_ORIGINS=http://localhost:6274",
      `STRIPE_WEBHOOK_SECRET=whsec_local_${randomBytes(16).toString("hex")}`,
      "",
    ].join("\n"), { mode: 0o600 });
    console.log("dev: wrote .dev.vars with local values");
  }
  if (!/^MKIT_SECRET=/m.test(readFileSync(VARS, "utf8"))) {
    appendFileSync(VARS, `MKIT_SECRET=${randomBytes(32).toString("hex")}\n`);
    console.log("dev: added a generated MKIT_SECRET to .dev.vars");
  }
}

/** The first webhook secret .dev.vars names (the simulation signs its events with it). */
const webhookSecret = (devVars) => devVars.match(/^STRIPE_WEBHOOK_SECRET=([^,\n]+)/m)?.[1]?.trim();

/** Runs a command to its end; rejects on a non-zero exit. */
function run(cmd, args) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", fail);
    child.on("exit", (code) => (code === 0 ? ok() : fail(new Error(`${cmd} ${args.join(" ")} exited ${code}`))));
  });
}

async function waitHealthy(url, worker) {
  for (let i = 0; i < 480; i++) {
    if (worker.exitCode !== null) throw new Error("wrangler exited");
    const res = await fetch(`${url}/healthz`).catch(() => null);
    if (res) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer from ${url}/healthz in 2 minutes`);
}

function banner(url, mode, simulated) {
  const curl = `curl -s ${url}/mcp -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\\n` +
    `      -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}'`;
  return `
  mKit is running (Ctrl-C stops it):
    health     ${url}/healthz
    MCP        ${url}/mcp            (OAuth: bearer token required)
    metadata   ${url}/.well-known/oauth-protected-resource/mcp
    webhook    ${url}/stripe/webhook
    issuer     http://127.0.0.1:${ISSUER_PORT}/   (dev logins: any user name and password)
    auth mode  ${mode === "on" ? "on: mKit is the authorization server (make dev AUTH_SERVER=off: the local provider's tokens directly)"
    : "off: the local provider's tokens directly (make dev: mKit is the authorization server)"}${mode === "on" ? `
    clients    Client ID Metadata Documents (preferred); Dynamic Client Registration at /oauth/register is
               deprecated by MCP 2026-07-28 (registrations state application_type; MKIT_AUTH_REGISTRATION=
               legacy also takes those that do not, =off turns it off); machines:
               make client-create NAME=… SCOPES=… (the client credentials grant)` : ""}
  Local D1 state: .wrangler/state   Vars: .dev.vars

  Connect a client: npm run client -- ${url}/mcp   (or the MCP Inspector:
    npx @modelcontextprotocol/inspector, URL ${url}/mcp, transport Streamable HTTP)
  A token for curl:   TOKEN=$(make -s token)
    ${curl}

  Checkout: ${simulated ? `the local simulation on http://127.0.0.1:${LOCAL_STRIPE_PORT}/ (no Stripe account; .dev.vars' STRIPE_SECRET_KEY switches to Stripe's test mode)`
    : "Stripe's test mode, with .dev.vars' STRIPE_SECRET_KEY"}
  Grant the paid tool's \`pro\` to make token's user (a signed Stripe test event), or revoke it:
    npm run stripe:event -- customer.subscription.created --user mkit-test --lookup-key pro --url ${url}
    npm run stripe:event -- customer.subscription.deleted --user mkit-test --url ${url}
`;
}

async function main() {
  const port = Number(process.env.PORT || 8787);
  const mode = authMode(process.env.AUTH_SERVER ?? "");
  const url = `http://127.0.0.1:${port}`;
  ensureDevVars(port);
  writeDevConfig();
  const local = ["--config", DEV_CONFIG, "--persist-to", STATE];
  assembleMigrations();
  await run(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", ...local]);
  const devVars = readFileSync(VARS, "utf8");
  const issuer = await startDevIssuer(`${url}/mcp`);
  const stripe = localCheckout(devVars) ? await startLocalStripe({ workerUrl: url, webhookSecret: webhookSecret(devVars) }) : null;
  const worker = spawn(WRANGLER, ["dev", ...local, "--env-file", VARS, "--ip", "127.0.0.1", "--port", String(port),
    "--show-interactive-dev-session=false", ...modeVars(mode, devVars).flatMap((v) => ["--var", v])],
  { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    if (worker.exitCode === null) worker.kill("SIGTERM");
    await issuer.stop();
    await stripe?.stop?.();
    process.exit(code);
  };
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  worker.on("exit", (code) => stop(stopping ? 0 : (code ?? 1)));
  await waitHealthy(url, worker);
  console.log(banner(url, mode, Boolean(stripe)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e) => {
    console.error(`dev: ${e.message}`);
    process.exit(1);
  });
}
