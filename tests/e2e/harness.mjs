// End-to-end harness: runs the real built worker in workerd through `wrangler dev`, exactly as
// `make dev` does, on a free loopback port with a throwaway local D1 migrated with the kit's
// migrations and the server's (scripts/migrations.mjs assembles them, as make dev does).
// Each test file shares one worker; `stop()` always ends what `start` began (SIGTERM to the
// wrangler PID, SIGKILL after a grace period). Logs are kept under .e2e/ for failed runs.

import { spawn, spawnSync, execFile } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { assembleMigrations } from "../../scripts/migrations.mjs";

export const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const run = promisify(execFile);

export const TEST_ISSUER = "http://127.0.0.1:9/issuer";
export const TEST_WEBHOOK_SECRET = "whsec_e2e_test_secret";
export const TEST_DEPLOYMENT_SECRET = "e2e-deployment-secret-0123456789abcdef";
/** The build for tests that call the kit's example tools (`remember`, `text_stats`): the fixtures
 *  build serves them even after `make init KEEP_EXAMPLES=0` takes them out of the release build. */
export const EXAMPLES_BUILD = "build-fixtures/index.js";

/** The vars a healthy local deployment has. Tests override or delete entries. */
export function defaultVars() {
  return { OAUTH_ISSUER: TEST_ISSUER, STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, MKIT_SECRET: TEST_DEPLOYMENT_SECRET };
}

/** Whether `port` on 127.0.0.1 can be listened on now. */
function canListen(port) {
  return new Promise((ok) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => ok(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => ok(true)));
  });
}

/**
 * A free port for a test server, drawn at random from 20000–32767: below Linux's ephemeral range
 * (32768–60999), so a port handed out here is never taken meanwhile by a socket the OS assigns
 * (workerd's and Node's own listeners), which made a worker fail with "Address already in use"
 * when two test files ran side by side. Falls back to an OS-assigned port.
 */
export async function freePort() {
  for (let i = 0; i < 64; i++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await canListen(port)) return port;
  }
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const live = new Set();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * Starts a worker. Options:
 *   name:    a label for the state/log directory
 *   vars:    worker vars (default: defaultVars())
 *   script:  entry point relative to the repo (default: wrangler.jsonc's main, the release build)
 *   config:  a wrangler config other than the repo's (e.g. bench/noop/wrangler.jsonc)
 *   migrate: apply the migrations (the kit's and the server's, assembled) to the local D1 first
 *            (default true)
 *   port:    listen on this port (default: a free one), e.g. when a var must name the URL
 *   testScheduled: serve GET /__scheduled, which runs the cron handler (wrangler's --test-scheduled)
 *   persist: the state directory of an earlier worker, to start again where it stopped
 */
export async function startWorker({ name = "worker", vars = defaultVars(), script, config, migrate = true,
  logLevel = "log", extraEnv = {}, port: wantedPort, testScheduled = false, persist: kept } = {}) {
  const dir = join(ROOT, ".e2e", `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const persist = kept ?? join(dir, "state");
  // An empty env file, so a developer's own .dev.vars never leaks into a test.
  const envFile = join(dir, "env");
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join("\n") + "\n");
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true",
    ...extraEnv };

  if (migrate) {
    assembleMigrations();
    await run(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist,
      ...(config ? ["--config", config] : [])], { cwd: ROOT, env });
  }
  const port = wantedPort ?? await freePort();
  const inspectorPort = await freePort();
  const logPath = join(dir, "wrangler.log");
  const out = openSync(logPath, "a");
  const args = ["dev", ...(script ? [script] : []), ...(config ? ["--config", config] : []), "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(inspectorPort), "--persist-to", persist, "--env-file", envFile,
    "--show-interactive-dev-session=false", "--log-level", logLevel, ...(testScheduled ? ["--test-scheduled"] : [])];
  const startedAt = performance.now();
  const child = spawn(WRANGLER, args, { cwd: ROOT, env, stdio: ["ignore", out, out], detached: false });
  live.add(child);
  const exited = new Promise((r) => child.once("exit", r));
  const url = `http://127.0.0.1:${port}`;
  const worker = {
    url, dir, logPath, persist, port,
    logs: () => readFileSync(logPath, "utf8"),
    /** The worker's structured request-log lines, parsed. */
    requestLogs: () => readFileSync(logPath, "utf8").split("\n").flatMap((line) => {
      const start = line.indexOf("{\"method\"");
      if (start < 0) return [];
      try { return [JSON.parse(line.slice(start))]; } catch { return []; }
    }),
    /** The request-log lines `match` picks, once at least `n` are written (Wrangler writes a line
     * after its response is sent, so right after the response it may not be there yet). */
    async requestLogsAtLeast(match, n, ms = 5000) {
      const deadline = Date.now() + ms;
      let found = worker.requestLogs().filter(match);
      while (found.length < n && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        found = worker.requestLogs().filter(match);
      }
      return found;
    },
    /** Kills wrangler and workerd at once (SIGKILL), as a crash would: nothing finishes. */
    async crash() {
      const family = (pid) => {
        const r = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" });
        return (r.stdout ?? "").split("\n").filter(Boolean).flatMap((c) => [Number(c), ...family(Number(c))]);
      };
      for (const pid of [child.pid, ...family(child.pid)]) {
        try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
      }
      await exited;
      live.delete(child);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(child);
    },
  };

  const deadline = Date.now() + 120_000;
  let ready = false;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      ready = true;
      break;
    } catch {
      await sleep(250);
    }
  }
  worker.startupMs = performance.now() - startedAt;
  if (!ready) {
    await worker.stop();
    const tail = worker.logs().split("\n").slice(-40).join("\n");
    throw new Error(`worker did not answer /healthz (log: ${logPath}):\n${tail}`);
  }
  return worker;
}

/** Runs SQL against a stopped or running worker's local D1, returning rows as JSON. */
export async function d1(worker, sql) {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  const { stdout } = await run(WRANGLER, ["d1", "execute", "DB", "--local", "--persist-to", worker.persist,
    "--json", "--command", sql], { cwd: ROOT, env });
  const parsed = JSON.parse(stdout);
  return parsed[0]?.results ?? [];
}

/**
 * A copy of wrangler.jsonc written beside the original (under .e2e/) so its relative paths hold;
 * `label` names the file. For tests of the ops scripts, which read it (WRANGLER_CONFIG).
 */
export function configCopy(label, { filled = false } = {}) {
  const dir = join(ROOT, ".e2e");
  mkdirSync(dir, { recursive: true });
  let text = readFileSync(join(ROOT, "wrangler.jsonc"), "utf8")
    .replace('"main": "build/index.js"', '"main": "../build/index.js"')
    .replace('"$schema": "node_modules/', '"$schema": "../node_modules/')
    .replaceAll('"migrations_dir": "target/d1-migrations"', '"migrations_dir": "../target/d1-migrations"');
  if (filled) {
    text = text.replace(/REPLACE_WITH_\w+_D1_ID/g, "11111111-1111-1111-1111-111111111111")
      .replace(/REPLACE_WITH_(\w+)_ISSUER/g, "https://auth.example.com/")
      .replace(/REPLACE_WITH_(\w+)_RESOURCE/g, "https://mkit.example.com/mcp");
  }
  const path = join(dir, `wrangler-${label}-${process.pid}.jsonc`);
  writeFileSync(path, text);
  return path;
}

/** configCopy with every placeholder filled. */
export const filledConfig = (label) => configCopy(label, { filled: true });

/**
 * A copy of wrangler.jsonc with each caller's counters in their own Durable Object, as
 * docs/deployment.md ("Counters past one database") tells an operator to turn them on: the
 * `MKIT_COUNTERS` binding and its migration. The build step is dropped (the bundles are built).
 */
export const COUNTERS_BINDING = '{ "name": "MKIT_COUNTERS", "class_name": "McpCounters" }';
export const COUNTERS_MIGRATION = '{ "tag": "v2-caller-counters", "new_sqlite_classes": ["McpCounters"] }';
export function countersConfig(label) {
  const doc = readFileSync(join(ROOT, "docs/deployment.md"), "utf8");
  for (const part of [COUNTERS_BINDING, COUNTERS_MIGRATION]) {
    if (!doc.includes(part)) throw new Error(`docs/deployment.md no longer shows ${part}`);
  }
  const path = configCopy(label);
  const text = readFileSync(path, "utf8").replace(/"build": \{[^}]*\},/, "")
    .replace('{ "name": "MCP_TASKS", "class_name": "McpTasks" }] },',
      '{ "name": "MCP_TASKS", "class_name": "McpTasks" }, ' + COUNTERS_BINDING + '] },')
    .replace('"migrations": [{ "tag": "v1-mcp-objects", "new_sqlite_classes": ["McpSessions", "McpTasks"] }],',
      '"migrations": [{ "tag": "v1-mcp-objects", "new_sqlite_classes": ["McpSessions", "McpTasks"] }, ' + COUNTERS_MIGRATION + '],');
  if (!text.includes("MKIT_COUNTERS") || !text.includes("v2-caller-counters")) throw new Error("wrangler.jsonc changed: countersConfig no longer applies");
  writeFileSync(path, text);
  return path;
}

/**
 * One JSON-RPC request to `${url}/mcp` with a bearer token, as a 2025-11-25 client posts it,
 * outside any SDK (to see a refusal's raw status and body): { status, body } with the body as text.
 */
export async function postMcp(url, token, method, params = {}) {
  const res = await fetch(`${url}/mcp`, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25", authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.text() };
}
