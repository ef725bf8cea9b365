// What every ops script needs from Cloudflare: a login (an API token or `wrangler login`), Wrangler
// run non-interactively, and the few API calls Wrangler has no command for.
//
// Credentials, in Wrangler's own order: CLOUDFLARE_API_TOKEN (CI, scripted use), else the OAuth
// login `wrangler login` stored on this machine. Nothing here reads a token file itself: Wrangler
// answers `whoami --json` and `auth token --json`, so its storage (file, keyring, profiles) stays
// its business. CLOUDFLARE_API_BASE_URL, which Wrangler honours, points the direct calls at the same
// API (the tests' local one); ops scripts run on an operator's machine, never in the Worker.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./wrangler-config.mjs";

export const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const API = "https://api.cloudflare.com/client/v4";

/** A reason not to start, printed as "refused: …" with exit code 2. */
export class Refusal extends Error {}

/** `--name value` pairs (what the Makefile passes) as { name: value }. */
export function parseOptions(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i]?.startsWith("--") || argv[i + 1] === undefined) throw new Refusal(`unexpected argument ${argv[i]}`);
    opts[argv[i].slice(2)] = argv[i + 1];
  }
  return opts;
}

/** Runs a script's main when the file is the entry: "refused: …" exits 2, any other failure 1. */
export async function runMain(meta, main) {
  if (meta.url !== pathToFileURL(process.argv[1] ?? "").href) return;
  try {
    await main(process.argv.slice(2));
  } catch (e) {
    console.error(`${e instanceof Refusal ? "refused" : "failed"}: ${e.message}`);
    process.exit(e instanceof Refusal ? 2 : 1);
  }
}

export const LOGIN_HELP = "not logged in to Cloudflare. On your machine run `scripts/bin/node node_modules/.bin/wrangler login` once; " +
  "in CI export CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID), see docs/deployment.md#credentials. " +
  "Refusing to start Wrangler, which would wait for an interactive login";

const wranglerEnv = (env) => ({ ...env, CI: "true", WRANGLER_SEND_METRICS: "false" });

/** Runs Wrangler and resolves to { code, out, err }; a deadline so no ops target hangs. */
export function runWrangler(args, { env = process.env, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(WRANGLER, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: wranglerEnv(env),
      timeout: timeoutMs, killSignal: "SIGKILL" });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: signal ? `${signal} (after ${timeoutMs} ms?)` : code, out, err }));
  });
}

/** The JSON Wrangler printed on stdout, or a failure naming the command and its output. */
export async function wranglerJson(args, opts) {
  const r = await runWrangler(args, opts);
  if (r.code !== 0) throw new Error(`wrangler ${args.slice(0, 2).join(" ")} exited ${r.code}:\n${(r.err + r.out).trim()}`);
  try {
    return JSON.parse(r.out);
  } catch {
    throw new Error(`wrangler ${args.slice(0, 2).join(" ")} printed no JSON:\n${(r.err + r.out).trim()}`);
  }
}

/**
 * Refuses unless Wrangler can act without a prompt. An API token is taken as given (Wrangler checks
 * it on first use); otherwise `wrangler whoami --json` must report a stored login.
 * Resolves to { via: "api_token" | "oauth", whoami? }.
 */
export async function requireLogin(env = process.env) {
  if (env.CLOUDFLARE_API_TOKEN) return { via: "api_token" };
  const r = await runWrangler(["whoami", "--json"], { env, timeoutMs: 60_000 });
  let who;
  try {
    who = JSON.parse(r.out);
  } catch {
    throw new Error(`wrangler whoami --json exited ${r.code} without JSON:\n${(r.err + r.out).trim()}`);
  }
  if (!who.loggedIn) throw new Refusal(LOGIN_HELP);
  return { via: "oauth", whoami: who };
}

/**
 * A token and account id for the Cloudflare API calls Wrangler has no command for.
 * The account: CLOUDFLARE_ACCOUNT_ID, else wrangler.jsonc's account_id, else the login's only account.
 */
export async function apiCredentials(config, env = process.env) {
  const login = await requireLogin(env);
  const token = env.CLOUDFLARE_API_TOKEN || (await wranglerJson(["auth", "token", "--json"], { env })).token;
  if (!token) throw new Refusal(LOGIN_HELP);
  let accountId = env.CLOUDFLARE_ACCOUNT_ID || config.account_id;
  if (!accountId) {
    const accounts = (login.whoami ?? await wranglerJson(["whoami", "--json"], { env })).accounts ?? [];
    if (accounts.length !== 1) {
      throw new Refusal(`this login reaches ${accounts.length} accounts (${accounts.map((a) => `${a.name} ${a.id}`).join(", ") || "none"}): ` +
        "export CLOUDFLARE_ACCOUNT_ID=<one of them>");
    }
    accountId = accounts[0].id;
  }
  return { token, accountId, via: login.via };
}

/**
 * One Cloudflare API call: resolves to the envelope's `result`, or throws naming the API's errors.
 * `body` is sent as-is (a string: the SQL API takes text) or as JSON.
 */
export async function cloudflareApi(path, { token, method = "GET", body, env = process.env, timeoutMs = 30_000 } = {}) {
  const base = (env.CLOUDFLARE_API_BASE_URL || API).replace(/\/$/, "");
  const text = typeof body === "string";
  let res;
  try {
    res = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(timeoutMs),
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": text ? "text/plain" : "application/json" }) },
      body: body === undefined ? undefined : text ? body : JSON.stringify(body) });
  } catch (e) {
    throw new Error(`Cloudflare API ${method} ${path}: ${e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : e.message}`);
  }
  const raw = await res.text();
  let json;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ApiError(res.status, [], `Cloudflare API ${method} ${path}: HTTP ${res.status}, not JSON: ${raw.slice(0, 200)}`);
  }
  if (!res.ok || json.success === false) {
    const errors = json.errors ?? [];
    throw new ApiError(res.status, errors, `Cloudflare API ${method} ${path}: HTTP ${res.status}` +
      (errors.length ? `: ${errors.map((e) => `${e.message} [code ${e.code}]`).join("; ")}` : ""));
  }
  // The Analytics Engine SQL API answers with its own JSON, not the v4 envelope.
  return "result" in json ? json.result : json;
}

export class ApiError extends Error {
  constructor(status, errors, message) {
    super(message);
    this.status = status;
    this.codes = errors.map((e) => e.code);
  }
}

/**
 * Cloudflare's answer for a Worker that does not exist (yet): the codes Wrangler's
 * isWorkerNotFoundError accepts, 10007 and 10090 (a legacy environment).
 */
export const workerNotFound = (e) => e instanceof ApiError && e.codes.some((c) => c === 10007 || c === 10090);
