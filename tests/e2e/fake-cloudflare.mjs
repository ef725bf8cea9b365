// A fake Cloudflare API (v4) on loopback for the ops scripts' tests. The real, pinned Wrangler is
// pointed at it with CLOUDFLARE_API_BASE_URL (which Wrangler honours), so every request checked
// here is Wrangler's own; the scripts' direct calls go to the same base. It answers the calls the
// ops targets make: who is logged in, D1 list and create, the workers.dev subdomain and the
// Analytics Engine SQL API; and, from fake-cloudflare-workers.mjs, Worker uploads, versions,
// deployments, Durable Object migrations and D1 queries. Every request is recorded.
//
//   const cf = await startFakeCloudflare({ subdomain: "acme" });
//   cf.addDatabase("mkit-staging");
//   ...run a script with cloudflareEnv(cf, "oauth", home)...
//   cf.requestsTo("POST", "/accounts/acc-1/d1/database")

import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { createServer } from "node:http";
import { join } from "node:path";
import { workersApi } from "./fake-cloudflare-workers.mjs";

export const ACCOUNT_ID = "0123456789abcdef0123456789abcdef";
export const OAUTH_TOKEN = "fake-wrangler-oauth-token";

const envelope = (result, extra = {}) => ({ success: true, errors: [], messages: [], result, ...extra });
const page = (items) => envelope(items, { result_info: { page: 1, per_page: 100, count: items.length, total_count: items.length } });
const failure = (code, message) => ({ success: false, errors: [{ code, message }], messages: [], result: null });

export async function startFakeCloudflare({ subdomain = "acme", accounts = [{ id: ACCOUNT_ID, name: "Acme" }] } = {}) {
  const requests = [];
  const databases = [];
  const state = { subdomain, sql: () => ({ meta: [], data: [], rows: 0 }) };
  const workers = workersApi({ accountId: ACCOUNT_ID, envelope, failure });

  const routes = [
    ["GET", /^\/user$/, () => envelope({ id: "user-1", email: "dev@example.com" })],
    ["GET", /^\/accounts$/, () => page(accounts)],
    ["GET", /^\/memberships$/, () => page(accounts.map((account) => ({ id: `m-${account.id}`, account, permissions: [] })))],
    ["GET", /^\/accounts\/([^/]+)\/d1\/database$/, (m, req) => page(m[1] === ACCOUNT_ID ? databases.filter(
      (d) => !req.query.get("name") || d.name === req.query.get("name")) : [])],
    ["POST", /^\/accounts\/([^/]+)\/d1\/database$/, (m, req) => {
      const { name } = JSON.parse(req.body || "{}");
      if (databases.some((d) => d.name === name)) return [400, failure(7502, "A database with that name already exists")];
      return envelope(addDatabase(name));
    }],
    ["GET", /^\/accounts\/([^/]+)\/workers\/subdomain$/, () => (state.subdomain
      ? envelope({ subdomain: state.subdomain })
      : [404, failure(10007, "This account does not have a workers.dev subdomain")])],
    ["POST", /^\/accounts\/([^/]+)\/analytics_engine\/sql$/, (m, req) => {
      const out = state.sql(req.body);
      return Array.isArray(out) ? out : [200, out];
    }],
    ...workers.routes,
  ];

  function addDatabase(name, uuid = randomUUID()) {
    const db = { uuid, name, version: "production", created_at: new Date().toISOString(), num_tables: 0, file_size: 0 };
    databases.push(db);
    workers.addD1(uuid);
    return db;
  }

  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (d) => { chunks.push(d); });
    req.on("end", async () => {
      const url = new URL(req.url, "http://fake");
      const path = url.pathname.replace(/\/$/, "");
      // raw: the bytes, for multipart Worker uploads; body: the text every other route reads.
      const raw = Buffer.concat(chunks);
      const rec = { method: req.method, path, query: url.searchParams, headers: req.headers, body: raw.toString(), raw };
      requests.push(rec);
      const route = routes.find(([method, re]) => method === req.method && re.test(path));
      let status = 404;
      let json = failure(7003, `no route for ${req.method} ${path}`);
      try {
        if (route) [status, json] = [200, await route[2](path.match(route[1]), rec)];
      } catch (e) {
        [status, json] = [500, failure(10013, `fake Cloudflare: ${e.stack}`)];
      }
      if (Array.isArray(json)) [status, json] = json;
      const auth = req.headers.authorization ?? "";
      if (!auth.startsWith("Bearer ")) [status, json] = [401, failure(10000, "Authentication error")];
      Object.assign(rec, { status, unrouted: !route });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    databases,
    addDatabase,
    requests,
    /** Sets the SQL API's answer: fn(sqlText) → a JSON body, or [status, body]. */
    onSql(fn) { state.sql = fn; },
    setSubdomain(s) { state.subdomain = s; },
    /** The Workers (scripts) Wrangler created, by name: migration_tag, migrations, versions, deployments. */
    scripts: workers.scripts,
    /** Adds a Worker deployed by something else (another project), with `bindings` (API binding objects). */
    addWorker: (name, opts) => workers.addScript(name, opts),
    /** Per D1 database uuid: the migration files applied remotely and every SQL text received. */
    d1: workers.d1,
    requestsTo: (method, path) => requests.filter((r) => r.method === method && r.path === path),
    /** Requests no route answered (each is a call the fake does not know yet). */
    unrouted: () => requests.filter((r) => r.unrouted),
    stop: () => new Promise((ok) => server.close(ok)),
  };
}

/**
 * A home directory for Wrangler: `oauth` holds a stored `wrangler login` (the token file Wrangler
 * writes, far from expiry), `none` holds nothing. Wrangler finds ~/.wrangler before XDG paths.
 */
export function wranglerHome(dir, login) {
  mkdirSync(join(dir, ".config"), { recursive: true });
  if (login === "oauth") {
    mkdirSync(join(dir, ".wrangler", "config"), { recursive: true });
    writeFileSync(join(dir, ".wrangler", "config", "default.toml"), [
      `oauth_token = "${OAUTH_TOKEN}"`,
      `expiration_time = "2099-01-01T00:00:00.000Z"`,
      `refresh_token = "fake-refresh-token"`,
      `scopes = ["account:read", "user:read", "workers:write", "d1:write"]`, ""].join("\n"));
  }
  return dir;
}

/**
 * The environment for an ops command: no CLOUDFLARE_* from the outside, Wrangler's home in `home`
 * (so a developer's own login never counts), the API at `cf` (or nowhere), and for `login`:
 * "token" an API token and account id, "oauth" the stored login, "none" neither. Cargo and rustup
 * keep this machine's homes: make deploy finds the kit's migrations with `cargo metadata`.
 */
export function cloudflareEnv({ cf, home, login, extra = {} }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CLOUDFLARE_")));
  wranglerHome(home, login);
  const rust = { CARGO_HOME: process.env.CARGO_HOME ?? join(homedir(), ".cargo"),
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? join(homedir(), ".rustup") };
  // WRANGLER_CACHE_DIR: Wrangler caches the account it picked (node_modules/.cache by default).
  return { ...env, ...rust, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), WRANGLER_CACHE_DIR: join(home, ".cache"),
    CLOUDFLARE_API_BASE_URL: cf?.url ?? "http://127.0.0.1:9",
    ...(login === "token" ? { CLOUDFLARE_API_TOKEN: "fake-api-token", CLOUDFLARE_ACCOUNT_ID: ACCOUNT_ID } : {}),
    ...extra };
}

/** The environment of a machine with no Cloudflare login at all (a fresh home, no token). */
export function noLogin(extra = {}) {
  return cloudflareEnv({ home: mkdtempSync(join(tmpdir(), "mkit-nologin-")), login: "none", extra });
}

/** Only the variables noLogin sets (the home and the API), to lay over another environment. */
export function noLoginVars() {
  const env = noLogin();
  return Object.fromEntries(["HOME", "XDG_CONFIG_HOME", "WRANGLER_CACHE_DIR", "CLOUDFLARE_API_BASE_URL"].map((k) => [k, env[k]]));
}
