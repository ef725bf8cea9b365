// `make bench`: mKit side by side with a no-op JS worker (and, when built, the TypeScript
// alternative in bench/anchor-ts), all in `wrangler dev` (workerd) in the same run, rounds
// alternating; medians reported, with ratios. Load comes from wrk. mKit runs behind a real
// issuer (oidc-provider), so every tools/call carries a validated bearer token.

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { promisify } from "node:util";
import { startWorker, ROOT } from "../tests/e2e/harness.mjs";
import { startStack } from "../tests/e2e/stack.mjs";
import { TEST_WEBHOOK_SECRET, EXAMPLES_BUILD } from "../tests/e2e/harness.mjs";
import { envelope, objectFor, deliver } from "../scripts/stripe-event.mjs";

const run = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = process.env.BENCH_DURATION ?? "5s";
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const OUT = join(ROOT, ".bench");
mkdirSync(OUT, { recursive: true });

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** wrk's latency distribution and totals, in ms and req/s. */
async function wrk(url, { connections, duration = DURATION, script, expectNon2xx = false }) {
  const args = ["-t", String(Math.min(connections, 2)), "-c", String(connections), "-d", duration, "--latency",
    ...(script ? ["-s", script] : []), url];
  const { stdout } = await run("wrk", args, { maxBuffer: 1 << 20 });
  const ms = (v, unit) => Number(v) * { us: 0.001, ms: 1, s: 1000 }[unit];
  const pct = (p) => {
    const m = stdout.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m"));
    return m ? ms(m[1], m[2]) : NaN;
  };
  const rps = Number(stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const non2xx = Number(stdout.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  if (non2xx > 0 && !expectNon2xx) throw new Error(`${url}: ${non2xx} non-2xx responses under load`);
  return { p50: pct(50), p99: pct(99), rps };
}

/** A wrk script POSTing a 2025-11-25 request (default: tools/call of `whoami`), with a bearer token if given. */
function callScript(name, token, params = '"method":"tools/call","params":{"name":"whoami","arguments":{}}') {
  const path = join(OUT, `tools-call-${name}.lua`);
  writeFileSync(path, [
    'wrk.method = "POST"',
    'wrk.headers["Content-Type"] = "application/json"',
    'wrk.headers["Accept"] = "application/json, text/event-stream"',
    'wrk.headers["MCP-Protocol-Version"] = "2025-11-25"',
    ...(token ? [`wrk.headers["Authorization"] = "Bearer ${token}"`] : []),
    `wrk.body = '{"jsonrpc":"2.0","id":1,${params}}'`,
  ].join("\n"));
  return path;
}

async function bundleSizes(config) {
  const out = join(OUT, `dist-${config ? "anchor" : "mkit"}`);
  const { stdout } = await run(join(ROOT, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--outdir", out, ...(config ? ["--config", config] : [])],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  const m = stdout.match(/Total Upload:\s*([\d.]+) KiB \/ gzip:\s*([\d.]+) KiB/);
  const wasmFile = readdirSync(out).find((f) => f.endsWith(".wasm"));
  const wasm = wasmFile ? readFileSync(join(out, wasmFile)) : null;
  return { uploadKiB: Number(m?.[1]), uploadGzipKiB: Number(m?.[2]), wasm: wasm?.length, wasmGzip: wasm && gzipSync(wasm, { level: 9 }).length };
}

const anchorBuilt = existsSync(join(ROOT, "bench/anchor-ts/index.js"));
const targets = {
  // Entitlements reused per isolate for 10 s (MKIT_ENTITLEMENT_CACHE_SECONDS, off by default).
  mkit: { start: (o) => startStack({ name: "bench-mkit", vars: { MKIT_ENTITLEMENT_CACHE_SECONDS: "10" }, ...o }), full: true },
  "mkit-nocache": { start: (o) => startStack({ name: "bench-mkit-nocache", vars: { OAUTH_TOKEN_CACHE: "off" }, ...o }) },
  // The fixtures build: the same paid tool beside its metered and credit-priced fixtures.
  priced: { start: (o) => startStack({ name: "bench-priced", script: EXAMPLES_BUILD, vars: { MKIT_ENTITLEMENT_CACHE_SECONDS: "10" }, ...o }) },
  noop: { start: (o) => startWorker({ name: "bench-noop", config: "bench/noop/wrangler.jsonc", migrate: false, vars: {}, ...o }), full: true },
  ...(anchorBuilt ? { anchor: { start: (o) => startStack({ name: "bench-anchor", config: "bench/anchor-ts/wrangler.jsonc", ...o }) } } : {}),
};

const results = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 ? Object.entries(targets) : Object.entries(targets).reverse();
  for (const [key, t] of order) {
    const started = await t.start({ logLevel: "warn", extraEnv: { WRANGLER_LOG: "warn" } });
    const w = started.worker ?? started;
    try {
      const token = started.token ? await started.token() : null;
      const script = callScript(key, token);
      const callUrl = `${w.url}/${key === "noop" ? "" : "mcp"}`;
      await wrk(callUrl, { connections: 1, duration: "1s", script }); // warm-up
      const r = { startupMs: w.startupMs };
      r.call = await wrk(callUrl, { connections: 1, script });
      r.callConc = await wrk(callUrl, { connections: CONCURRENCY, script });
      if (key === "mkit") {
        // Paid against free: the caller is granted `pro` through a signed webhook first.
        const sub = objectFor("customer.subscription.created", { user: "mkit-test" });
        const granted = await deliver(w.url, JSON.stringify(envelope("customer.subscription.created", sub)), TEST_WEBHOOK_SECRET);
        if (!granted.ok) throw new Error(`granting pro: HTTP ${granted.status}`);
        const paid = callScript("paid", token, '"method":"tools/call","params":{"name":"text_stats","arguments":{"text":"One two. Three!"}}');
        const list = callScript("list", token, '"method":"tools/list","params":{}');
        r.paid = await wrk(callUrl, { connections: 1, script: paid });
        r.paidConc = await wrk(callUrl, { connections: CONCURRENCY, script: paid });
        r.list = await wrk(callUrl, { connections: 1, script: list });
      }
      if (key === "priced") {
        // Entitled to pro (the metered tool's entitlement) and a billion credits.
        const sub = objectFor("customer.subscription.created", { user: "mkit-test" });
        const pack = { ...objectFor("checkout.session.completed", { user: "mkit-test" }), id: "cs_bench_pack", mode: "payment",
          subscription: null, metadata: { mkit_user: "mkit-test", mkit_credits: "1000000000" } };
        for (const ev of [envelope("customer.subscription.created", sub), envelope("checkout.session.completed", pack)]) {
          const res = await deliver(w.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET);
          if (!res.ok) throw new Error(`${ev.type}: HTTP ${res.status}`);
        }
        const tool = (name, args) => callScript(name, token, `"method":"tools/call","params":{"name":"${name}","arguments":${args}}`);
        for (const [k, script] of [["paid", tool("text_stats", '{"text":"One two. Three!"}')],
          ["metered", tool("test_metered", '{"units":1}')], ["credits", tool("test_credits", "{}")]]) {
          await wrk(callUrl, { connections: 1, duration: "1s", script }); // warm-up
          r[k] = await wrk(callUrl, { connections: 1, script });
          r[`${k}Conc`] = await wrk(callUrl, { connections: CONCURRENCY, script });
        }
      }
      if (t.full) {
        const bare = `${w.url}/${key === "mkit" ? "not-found" : ""}`;
        r.bare = await wrk(bare, { connections: 1, expectNon2xx: true });
        r.health = await wrk(`${w.url}/healthz`, { connections: 1 });
        r.healthConc = await wrk(`${w.url}/healthz`, { connections: CONCURRENCY });
      }
      results[key].push(r);
      console.error(`round ${round} ${key}: tools/call p50 ${r.call.p50} ms p99 ${r.call.p99} ms, c${CONCURRENCY} ${r.callConc.rps} req/s`);
    } finally {
      await started.stop();
    }
  }
}

const pick = (key, f) => median((results[key] ?? []).map((r) => { try { return f(r); } catch { return NaN; } }));
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(2) : "—");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : "—");

console.log(`\nmKit benchmark — ${ROUNDS} alternating rounds, medians; wrk ${DURATION} per measurement, c=${CONCURRENCY} for throughput; workerd via wrangler dev\n`);
console.log("| metric | mKit | no-op JS worker | mKit / no-op |");
console.log("| --- | ---: | ---: | ---: |");
for (const [label, f] of [
  ["cold start to first answer (ms)", (r) => r.startupMs],
  ["no-I/O answer seq p50 (ms) (mKit 404 vs no-op 200)", (r) => r.bare.p50],
  ["no-I/O answer seq p99 (ms)", (r) => r.bare.p99],
  ["/healthz seq p50 (ms) (mKit: D1 SELECT 1)", (r) => r.health.p50],
  ["/healthz seq p99 (ms)", (r) => r.health.p99],
  [`/healthz req/s at c${CONCURRENCY}`, (r) => r.healthConc.rps],
  ["tools/call whoami seq p50 (ms) (mKit: with bearer token)", (r) => r.call.p50],
  ["tools/call whoami seq p99 (ms)", (r) => r.call.p99],
  [`tools/call whoami req/s at c${CONCURRENCY}`, (r) => r.callConc.rps],
]) {
  console.log(`| ${label} | ${fmt(pick("mkit", f))} | ${fmt(pick("noop", f))} | ${ratio(pick("mkit", f), pick("noop", f))} |`);
}

console.log("\nAuthenticated tools/call: the verified-token cache on and off\n");
console.log("| metric | cache on | cache off | on / off |");
console.log("| --- | ---: | ---: | ---: |");
for (const [label, f] of [["seq p50 (ms)", (r) => r.call.p50], ["seq p99 (ms)", (r) => r.call.p99], [`req/s at c${CONCURRENCY}`, (r) => r.callConc.rps]]) {
  console.log(`| ${label} | ${fmt(pick("mkit", f))} | ${fmt(pick("mkit-nocache", f))} | ${ratio(pick("mkit", f), pick("mkit-nocache", f))} |`);
}

console.log("\nPaid against free: tools/call of the paid text_stats (caller entitled to pro: keys reused from the isolate's recent read, MKIT_ENTITLEMENT_CACHE_SECONDS) and of the free whoami (which reads the ledger afresh to report entitlements); tools/list reads nothing\n");
console.log("| metric | paid text_stats | free whoami | tools/list | paid / free |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [label, paid, free, list] of [
  ["seq p50 (ms)", (r) => r.paid.p50, (r) => r.call.p50, (r) => r.list.p50],
  ["seq p99 (ms)", (r) => r.paid.p99, (r) => r.call.p99, (r) => r.list.p99],
  [`req/s at c${CONCURRENCY}`, (r) => r.paidConc.rps, (r) => r.callConc.rps, () => NaN],
]) {
  console.log(`| ${label} | ${fmt(pick("mkit", paid))} | ${fmt(pick("mkit", free))} | ${fmt(pick("mkit", list))} | ${ratio(pick("mkit", paid), pick("mkit", free))} |`);
}

console.log("\nPriced calls (fixtures build): the paid text_stats (entitlements reused per isolate), the same entitlement plus a meter (one more D1 write: the outbox row), and a credit-priced call (a reserve batch of three statements, then a settle)\n");
console.log("| metric | paid | paid + metered | credits | metered / paid | credits / paid |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const [label, f] of [["seq p50 (ms)", (k) => (r) => r[k].p50], ["seq p99 (ms)", (k) => (r) => r[k].p99],
  [`req/s at c${CONCURRENCY}`, (k) => (r) => r[`${k}Conc`].rps]]) {
  const [paid, metered, credits] = ["paid", "metered", "credits"].map((k) => pick("priced", f(k)));
  console.log(`| ${label} | ${fmt(paid)} | ${fmt(metered)} | ${fmt(credits)} | ${ratio(metered, paid)} | ${ratio(credits, paid)} |`);
}

const sizes = await bundleSizes();
if (results.anchor?.length) {
  const anchorSizes = await bundleSizes("bench/anchor-ts/wrangler.jsonc");
  console.log("\nmKit against the TypeScript alternative (MCP TS SDK stateless + jose), same issuer, same tool\n");
  console.log("| metric | mKit | TS SDK + jose | mKit / TS |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [label, f] of [["tools/call seq p50 (ms)", (r) => r.call.p50], ["tools/call seq p99 (ms)", (r) => r.call.p99], [`tools/call req/s at c${CONCURRENCY}`, (r) => r.callConc.rps]]) {
    console.log(`| ${label} | ${fmt(pick("mkit", f))} | ${fmt(pick("anchor", f))} | ${ratio(pick("mkit", f), pick("anchor", f))} |`);
  }
  console.log(`| upload gzip (KiB) | ${sizes.uploadGzipKiB} | ${anchorSizes.uploadGzipKiB} | ${ratio(sizes.uploadGzipKiB, anchorSizes.uploadGzipKiB)} |`);
}
console.log(`\n| bundle | raw | gzip |\n| --- | ---: | ---: |`);
console.log(`| mkit .wasm | ${kib(sizes.wasm)} | ${kib(sizes.wasmGzip)} |`);
console.log(`| whole upload (wrangler deploy --dry-run) | ${sizes.uploadKiB} KiB | ${sizes.uploadGzipKiB} KiB |`);
