// A fake Cloudflare API (v4) on loopback for the ops scripts' tests. The real, pinned Wrangler is
// pointed at it with CLOUDFLARE_API_BASE_URL (which Wrangler honours), so every request checked
// here is Wrangler's own; the scripts' direct calls go to the same base. It answers the calls the
// ops targets make: who is logged in, D1 list and create, the workers.dev subdomain and the
// Analytics Engine SQL API. Every request is recorded.
//
//   const cf = await startFakeCloudflare({ subdomain: "acme" });
//   cf.addDatabase("mkit-staging");
//   ...run a script with cloudflareEnv(cf, "oauth", home)...
//   cf.requestsTo("POST", "/accounts/acc-1/d1/database")

import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import { join } from "node:path";

export const ACCOUNT_ID = "0123456789abcdef0123456789abcdef";
export const OAUTH_TOKEN = "fake-wrangler-oauth-token";

const envelope = (result, extra = {}) => ({ success: true, errors: [], messages: [], result, ...extra });
const page = (items) => envelope(items, { result_info: { page: 1, per_page: 100, count: items.length, total_count: items.length } });
const failure = (code, message) => ({ success: false, errors: [{ code, message }], messages: [], result: null });

export async function startFakeCloudflare({ subdomain = "acme", accounts = [{ id: ACCOUNT_ID, name: "Acme" }] } = {}) {
  const requests = [];
  const databases = [];
  const state = { subdomain, sql: () => ({ meta: [], data: [], rows: 0 }) };

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
  ];

  function addDatabase(name, uuid = randomUUID()) {
    const db = { uuid, name, version: "production", created_at: new Date().toISOString(), num_tables: 0, file_size: 0 };
    databases.push(db);
    return db;
  }

  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      const url = new URL(req.url, "http://fake");
      const path = url.pathname.replace(/\/$/, "");
      const rec = { method: req.method, path, query: url.searchParams, headers: req.headers, body };
      requests.push(rec);
      const route = routes.find(([method, re]) => method === req.method && re.test(path));
      let [status, json] = route ? [200, route[2](path.match(route[1]), rec)] : [404, failure(7003, `no route for ${req.method} ${path}`)];
      if (Array.isArray(json)) [status, json] = json;
      const auth = req.headers.authorization ?? "";
      if (!auth.startsWith("Bearer ")) [status, json] = [401, failure(10000, "Authentication error")];
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
    requestsTo: (method, path) => requests.filter((r) => r.method === method && r.path === path),
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
 * "token" an API token and account id, "oauth" the stored login, "none" neither.
 */
export function cloudflareEnv({ cf, home, login, extra = {} }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CLOUDFLARE_")));
  wranglerHome(home, login);
  // WRANGLER_CACHE_DIR: Wrangler caches the account it picked (node_modules/.cache by default).
  return { ...env, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), WRANGLER_CACHE_DIR: join(home, ".cache"),
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
