// The production-like harness of `make bench` (issue #17): each worker runs in workerd through
// Miniflare's API — the built bundle, local D1, no inspector, no wrangler proxy, logs dropped
// rather than pretty-printed — and the CPU of the workerd process is read from
// /proc/<pid>/task/*/schedstat around every load run, so a request's cost is what workerd
// itself spent, beside latency and throughput. Rounds alternate the workers' order; medians and
// ranges are printed, each cost also as CPU above the no-op worker's floor.
//
//   node bench/prodlike.mjs            (make bench runs it after the wrangler dev harness)

import { execFile } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Miniflare, NoOpLog, convertV4MiniflareOptions } from "miniflare";
import { ROOT, defaultVars, freePort, TEST_WEBHOOK_SECRET } from "../tests/e2e/harness.mjs";
import { startIssuer } from "../tests/e2e/issuer.mjs";
import { kitMigrationsDir, mergeMigrations } from "../scripts/migrations.mjs";
import { envelope, objectFor, signedHeader } from "../scripts/stripe-event.mjs";
import { startStaticIssuer, TOKEN_ALGS } from "./keys.mjs";

const run = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = process.env.BENCH_DURATION ?? "5s";
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const OUT = join(ROOT, ".bench");
mkdirSync(OUT, { recursive: true });
const COMPAT = JSON.parse(readFileSync(join(ROOT, "bench/noop/wrangler.jsonc"), "utf8").replace(/^\s*\/\/.*$/gm, "")).compatibility_date;

/** CPU time (ns) of every thread of `pid`, from the scheduler's own accounting. */
function cpuNs(pid) {
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return total;
}

/** The workerd processes this node process started (Miniflare spawns one per instance). */
async function workerdPids() {
  const { stdout } = await run("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)]);
  return stdout.split("\n").map((l) => l.trim().split(/\s+/)).filter(([, c]) => c === "workerd").map(([p]) => Number(p));
}

/** wrk: total requests, p50/p99 (ms) and req/s. */
async function wrk(url, { script, connections = 1, duration = DURATION, expectNon2xx = false }) {
  const args = ["-t", "1", "-c", String(connections), "-d", duration, "--latency", ...(script ? ["-s", script] : []), url];
  const { stdout } = await run("wrk", args, { maxBuffer: 1 << 20 });
  const ms = (v, unit) => Number(v) * { us: 0.001, ms: 1, s: 1000 }[unit];
  const pct = (p) => {
    const m = stdout.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m"));
    return m ? ms(m[1], m[2]) : NaN;
  };
  const requests = Number(stdout.match(/(\d+) requests in/)?.[1] ?? NaN);
  const non2xx = Number(stdout.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  if (non2xx > 0 && !expectNon2xx) throw new Error(`${url}: ${non2xx} non-2xx responses under load`);
  return { requests, p50: pct(50), p99: pct(99), rps: Number(stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN) };
}

/** A wrk script: `method` with `headers` and `body`. */
function script(name, { method = "POST", headers = {}, body = "" }) {
  const path = join(OUT, `prodlike-${name}.lua`);
  const lines = [`wrk.method = "${method}"`, ...Object.entries(headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`)];
  if (body) lines.push(`wrk.body = [==[${body}]==]`);
  writeFileSync(path, lines.join("\n"));
  return path;
}

const mcp = (token, params) => ({
  headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, ...params }),
});

/** Every migration's statements (the kit's and the server's), for a fresh local D1. */
function migrations() {
  return mergeMigrations([kitMigrationsDir(), join(ROOT, "migrations")])
    .flatMap((f) => f.text.replace(/--.*$/gm, "").split(";")).map((s) => s.trim()).filter(Boolean);
}

/** The TypeScript anchor bundled as wrangler would (esbuild, workerd conditions). */
async function bundleAnchor() {
  const out = join(OUT, "anchor.mjs");
  await run(join(ROOT, "node_modules/.bin/esbuild"), [join(ROOT, "bench/anchor-ts/index.js"), "--bundle",
    "--format=esm", "--platform=neutral", "--conditions=workerd,worker,browser", "--main-fields=module,main",
    "--external:node:*", "--minify", `--outfile=${out}`]);
  return out;
}
const anchor = await bundleAnchor();
// The token rows: one issuer, one token per algorithm, for a fixed resource.
const BENCH_RESOURCE = "https://bench.mkit.test/mcp";
const keyIssuer = await startStaticIssuer(BENCH_RESOURCE);

/** The first request a worker answers, the same for mKit and the anchor: an authenticated
 * `tools/list`, so each fetches its issuer's keys and verifies a token once (without a token, as
 * for the no-op: `GET /`). */
function firstRequest(url, token) {
  if (!token) return fetch(`${url}/`);
  const { headers, body } = mcp(token, { method: "tools/list", params: {} });
  return fetch(`${url}/mcp`, { method: "POST", headers, body });
}

/** Starts one worker in workerd (mKit and the anchor behind their own issuer); resolves with its
 * URL, workerd pid, its cold start, a token and a stop function. */
async function start(kind) {
  const before = new Set(await workerdPids());
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const issuer = ["noop", "webcrypto", "uncached"].includes(kind) ? null : await startIssuer({ resource });
  // mKit with its per-isolate entitlement reuse on (MKIT_ENTITLEMENT_CACHE_SECONDS, off by default).
  const vars = issuer ? { ...defaultVars(), OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource,
    ...(kind === "mkit" ? { MKIT_ENTITLEMENT_CACHE_SECONDS: "10" } : {}) } : {};
  // mKit with its verified-token cache off: every request checks the token's signature.
  if (kind === "uncached") {
    Object.assign(vars, defaultVars(), { OAUTH_ISSUER: keyIssuer.url, OAUTH_JWKS_URI: keyIssuer.jwksUri,
      MCP_RESOURCE: BENCH_RESOURCE, OAUTH_TOKEN_CACHE: "off" });
  }
  // Logs are written by workerd as in production and dropped here, never pretty-printed.
  const common = { port, host: "127.0.0.1", log: new NoOpLog(), handleStructuredLogs: () => {}, compatibilityDate: COMPAT };
  const worker = kind === "noop" ? { modules: true, scriptPath: join(ROOT, "bench/noop/index.js"),
      // bound, never used: so the no-op's start-up carries the local D1 plumbing the others do
      d1Databases: { DB: `bench-${port}` } }
    : kind === "webcrypto" ? { modules: true, scriptPath: join(ROOT, "bench/webcrypto/index.js"),
      bindings: { JWKS: JSON.stringify({ keys: keyIssuer.keys }) } }
    : kind === "anchor" ? { modules: true, scriptPath: anchor, compatibilityFlags: ["nodejs_compat"], bindings: vars,
      d1Databases: { DB: `bench-${port}` } }
    : {
      modules: [
        { type: "ESModule", path: join(ROOT, "build/index.js") },
        { type: "CompiledWasm", path: join(ROOT, "build/index_bg.wasm") },
      ],
      modulesRoot: join(ROOT, "build"),
      bindings: vars,
      d1Databases: { DB: `bench-${port}` },
    };
  const token = issuer ? await issuer.clientCredentialsToken() : null;
  const t0 = performance.now();
  const mf = new Miniflare(convertV4MiniflareOptions({ ...common, ...worker }));
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const pid = (await workerdPids()).find((p) => !before.has(p));
  // Cold start, in two parts: workerd's start-up with this worker (compiling and instantiating
  // its code, its top-level evaluation: for mKit the Wasm and the registry's schemas), read
  // before anything else touches the process; then its first answer to the same request.
  const bootCpuUs = cpuNs(pid) / 1000;
  if (kind !== "noop" && kind !== "webcrypto") {
    const db = await mf.getD1Database("DB");
    await db.batch(migrations().map((s) => db.prepare(s)));
  }
  const cpu0 = cpuNs(pid);
  const first = await firstRequest(url, token);
  await first.arrayBuffer();
  if (token && !first.ok) throw new Error(`${kind}: first tools/list HTTP ${first.status}`);
  const cold = { toFirstAnswerMs: performance.now() - t0, bootCpuUs, firstRequestCpuUs: (cpuNs(pid) - cpu0) / 1000 };
  return { url, pid, cold, token, stop: async () => { await mf.dispose(); await issuer?.stop(); } };
}

/** Runs `load` against `w`, reading workerd's CPU around it: µs per request, and wrk's figures. */
async function measure(w, path, opts) {
  await wrk(`${w.url}${path}`, { ...opts, duration: "1s" }); // warm-up
  const cpu0 = cpuNs(w.pid);
  const r = await wrk(`${w.url}${path}`, opts);
  return { ...r, cpuUs: (cpuNs(w.pid) - cpu0) / 1000 / r.requests };
}

const results = { noop: [], mkit: [], anchor: [], uncached: [], webcrypto: [] };
{
  for (let round = 1; round <= ROUNDS; round++) {
    const order = ["noop", "mkit", "anchor", "uncached", "webcrypto"];
    if (round % 2 === 0) order.reverse();
    for (const kind of order) {
      const w = await start(kind);
      try {
        const r = { cold: w.cold };
        if (kind === "noop") {
          r.floor = await measure(w, "/", {});
          r.floorConc = await measure(w, "/", { connections: CONCURRENCY });
        } else if (kind === "webcrypto" || kind === "uncached") {
          const [path, method] = kind === "webcrypto" ? ["/", "GET"] : ["/mcp", "POST"];
          for (const alg of TOKEN_ALGS) {
            const req = mcp(keyIssuer.tokens[alg], { method: "tools/list", params: {} });
            r[alg] = await measure(w, path, { script: script(`${kind}-${alg}`, kind === "webcrypto"
              ? { method, headers: { Authorization: req.headers.Authorization } } : req) });
          }
        } else if (kind === "anchor") {
          const call = script("anchor-whoami", mcp(w.token, { method: "tools/call", params: { name: "whoami", arguments: {} } }));
          r.bare = await measure(w, "/not-found", { expectNon2xx: true });
          r.list = await measure(w, "/mcp", { script: script("anchor-list", mcp(w.token, { method: "tools/list", params: {} })) });
          r.whoami = await measure(w, "/mcp", { script: call });
          r.whoamiConc = await measure(w, "/mcp", { connections: CONCURRENCY, script: call });
        } else {
          const { token } = w;
          const sub = objectFor("customer.subscription.created", { user: "mkit-test" });
          const ev = JSON.stringify(envelope("customer.subscription.created", sub));
          const res = await fetch(`${w.url}/stripe/webhook`, { method: "POST", body: ev,
            headers: { "content-type": "application/json", "stripe-signature": signedHeader(ev, TEST_WEBHOOK_SECRET) } });
          if (!res.ok) throw new Error(`granting pro: HTTP ${res.status}`);
          const webhook = script("webhook", { headers: { "Content-Type": "application/json",
            "Stripe-Signature": signedHeader(ev, TEST_WEBHOOK_SECRET) }, body: ev });
          r.bare = await measure(w, "/not-found", { expectNon2xx: true });
          r.list = await measure(w, "/mcp", { script: script("list", mcp(token, { method: "tools/list", params: {} })) });
          r.whoami = await measure(w, "/mcp", { script: script("whoami", mcp(token, { method: "tools/call",
            params: { name: "whoami", arguments: {} } })) });
          r.whoamiConc = await measure(w, "/mcp", { connections: CONCURRENCY, script: script("whoami", mcp(token, {
            method: "tools/call", params: { name: "whoami", arguments: {} } })) });
          r.paid = await measure(w, "/mcp", { script: script("paid", mcp(token, { method: "tools/call",
            params: { name: "text_stats", arguments: { text: "One two. Three!" } } })) });
          r.webhook = await measure(w, "/stripe/webhook", { script: webhook });
          r.health = await measure(w, "/healthz", {});
        }
        results[kind].push(r);
        console.error(`prodlike round ${round} ${kind}: done`);
      } finally {
        await w.stop();
      }
    }
  }
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const range = (xs) => {
  const s = xs.filter(Number.isFinite);
  return s.length ? `${Math.min(...s).toFixed(0)}–${Math.max(...s).toFixed(0)}` : "—";
};
const pick = (kind, f) => results[kind].map((r) => { try { return f(r); } catch { return NaN; } });
const floor = median(pick("noop", (r) => r.floor.cpuUs));
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "—");

console.log(`\nProduction-like (workerd through Miniflare's API: no inspector, no wrangler proxy; CPU of the workerd process from schedstat) — ${ROUNDS} alternating rounds, medians (ranges); wrk ${DURATION}, sequential unless marked\n`);
console.log("| request | CPU µs/request | above no-op floor (µs) | p50 (ms) | req/s |");
console.log("| --- | ---: | ---: | ---: | ---: |");
const row = (label, kind, key) => {
  const cpu = pick(kind, (r) => r[key].cpuUs);
  console.log(`| ${label} | ${fmt(median(cpu), 0)} (${range(cpu)}) | ${kind === "noop" && key === "floor" ? "—" : fmt(median(cpu) - floor, 0)} | ${fmt(median(pick(kind, (r) => r[key].p50)))} | ${fmt(median(pick(kind, (r) => r[key].rps)), 0)} |`);
};
row("no-op JS worker (the floor)", "noop", "floor");
row(`no-op JS worker, c${CONCURRENCY}`, "noop", "floorConc");
row("mKit 404 (routing + log line)", "mkit", "bare");
row("mKit tools/list (cached token, MCP dispatch)", "mkit", "list");
row("TS anchor 404 (routing + the same kind of log line)", "anchor", "bare");
row("TS anchor tools/list (MCP SDK; jose verifies the token every time)", "anchor", "list");
row("mKit free tools/call whoami (cached token; one D1 read: entitlements)", "mkit", "whoami");
row(`mKit free tools/call whoami, c${CONCURRENCY}`, "mkit", "whoamiConc");
row("TS anchor whoami (MCP SDK + jose; D1 read: entitlements)", "anchor", "whoami");
row(`TS anchor whoami, c${CONCURRENCY}`, "anchor", "whoamiConc");
for (const alg of TOKEN_ALGS) {
  row(`mKit tools/list, token cache off: ${alg} verified on every request`, "uncached", alg);
  row(`WebCrypto reference: no-op + crypto.subtle.verify ${alg}`, "webcrypto", alg);
}
row("mKit paid tools/call text_stats (entitled: keys reused from the isolate's recent read)", "mkit", "paid");
row("mKit webhook delivery (verify + a duplicate's D1 batch)", "mkit", "webhook");
row("mKit /healthz (D1 probes, cached 5 s)", "mkit", "health");
for (const kind of ["noop", "mkit", "anchor"]) {
  const boot = median(pick(kind, (r) => r.cold.bootCpuUs)) / 1000;
  const first = median(pick(kind, (r) => r.cold.firstRequestCpuUs)) / 1000;
  console.log(`| cold start ${kind}: first answer ${fmt(median(pick(kind, (r) => r.cold.toFirstAnswerMs)), 0)} ms after launch; CPU: start-up ${fmt(boot, 1)} ms, first request ${fmt(first, 1)} ms | | | | |`);
}
const ratio = median(pick("mkit", (r) => r.whoami.p50)) / median(pick("noop", (r) => r.floor.p50));
const tput = median(pick("mkit", (r) => r.whoamiConc.rps)) / median(pick("noop", (r) => r.floorConc.rps));
console.log(`\nwhoami against the no-op: p50 ${fmt(ratio)}×, throughput at c${CONCURRENCY} ${fmt(tput)}×`);
const above = (k) => median(pick(k, (r) => r.whoami.cpuUs)) - floor;
console.log(`whoami CPU above the floor, mKit / TS anchor: ${fmt(above("mkit") / above("anchor"))}× (${fmt(above("mkit"), 0)} µs against ${fmt(above("anchor"), 0)} µs)`);
// Issue #30's goals, as ratios of CPU above the floor.
const aboveOf = (kind, key) => median(pick(kind, (r) => r[key].cpuUs)) - floor;
// Cold start: start-up plus the first request's CPU, each above the no-op's (workerd's own
// start-up and the local D1 plumbing are the same for all three).
const coldOf = (kind) => median(pick(kind, (r) => r.cold.bootCpuUs + r.cold.firstRequestCpuUs))
  - median(pick("noop", (r) => r.cold.bootCpuUs + r.cold.firstRequestCpuUs));
console.log("\n| mKit / TS anchor | ratio | goal |\n| --- | ---: | ---: |");
console.log(`| 404, CPU above the floor | ${fmt(aboveOf("mkit", "bare") / aboveOf("anchor", "bare"))}× | 0.5× |`);
console.log(`| tools/list, CPU above the floor | ${fmt(aboveOf("mkit", "list") / aboveOf("anchor", "list"))}× | 0.5× |`);
console.log(`| whoami (one D1 read), CPU above the floor | ${fmt(aboveOf("mkit", "whoami") / aboveOf("anchor", "whoami"))}× | 0.8× |`);
console.log(`| cold start, start-up and first tools/list CPU above the no-op's (${fmt(coldOf("mkit") / 1000, 1)} against ${fmt(coldOf("anchor") / 1000, 1)} ms) | ${fmt(coldOf("mkit") / coldOf("anchor"))}× | 2× |`);
const listed = median(pick("mkit", (r) => r.list.cpuUs));
for (const alg of TOKEN_ALGS) {
  const miss = median(pick("uncached", (r) => r[alg].cpuUs)) - listed;
  const webcrypto = median(pick("webcrypto", (r) => r[alg].cpuUs)) - floor;
  console.log(`token cache miss ${alg}: ${fmt(miss, 0)} µs above a cached token; WebCrypto's verify ${fmt(webcrypto, 0)} µs above the floor (${fmt(miss / webcrypto)}×)`);
}
await keyIssuer.stop();
if (!existsSync(join(ROOT, "build/index_bg.wasm"))) console.log("(build/ missing: run make worker first)");
