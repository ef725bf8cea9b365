// `make bench`: mKit side by side with a no-op JS worker, both in `wrangler dev` (workerd) in the
// same run, rounds alternating; medians reported, with mKit/no-op ratios. Load comes from wrk.

import { execFile } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { promisify } from "node:util";
import { startWorker, ROOT } from "../tests/e2e/harness.mjs";

const run = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = process.env.BENCH_DURATION ?? "5s";
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
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
  const reqs = Number(stdout.match(/(\d+) requests in/)?.[1] ?? 0);
  const rps = Number(stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const non2xx = Number(stdout.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  if (non2xx > 0 && !expectNon2xx) throw new Error(`${url}: ${non2xx} non-2xx responses under load`);
  return { p50: pct(50), p99: pct(99), rps, reqs };
}

async function bundleSizes() {
  const out = join(ROOT, ".bench", "dist");
  const { stdout } = await run(join(ROOT, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--outdir", out], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  const m = stdout.match(/Total Upload:\s*([\d.]+) KiB \/ gzip:\s*([\d.]+) KiB/);
  const wasmFile = readdirSync(out).find((f) => f.endsWith(".wasm"));
  const wasm = readFileSync(join(out, wasmFile));
  return { uploadKiB: Number(m?.[1]), uploadGzipKiB: Number(m?.[2]), wasm: wasm.length, wasmGzip: gzipSync(wasm, { level: 9 }).length };
}

const targets = {
  mkit: { name: "bench-mkit", logLevel: "warn" },
  noop: { name: "bench-noop", config: "bench/noop/wrangler.jsonc", migrate: false, vars: {}, logLevel: "warn" },
};

const results = { mkit: [], noop: [] };
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 ? Object.entries(targets) : Object.entries(targets).reverse();
  for (const [key, opts] of order) {
    const w = await startWorker({ ...opts, extraEnv: { WRANGLER_LOG: "warn" } });
    try {
      await wrk(`${w.url}/healthz`, { connections: 1, duration: "1s" }); // warm-up
      const seq = await wrk(`${w.url}/healthz`, { connections: 1 });
      const conc = await wrk(`${w.url}/healthz`, { connections: CONCURRENCY });
      // The cheapest answer each worker gives: mKit's 404 (routing + JSON, no I/O) vs the no-op's 200.
      const bare = await wrk(`${w.url}/${key === "mkit" ? "not-found" : ""}`, { connections: 1, expectNon2xx: true });
      // tools/call of a trivial tool (the no-op answers the same POST with its fixed 200).
      const callUrl = `${w.url}/${key === "mkit" ? "mcp" : ""}`;
      const script = join(ROOT, "bench/tools-call.lua");
      await wrk(callUrl, { connections: 1, duration: "1s", script });
      const call = await wrk(callUrl, { connections: 1, script });
      const callConc = await wrk(callUrl, { connections: CONCURRENCY, script });
      results[key].push({ startupMs: w.startupMs, seq, conc, bare, call, callConc });
      console.error(`round ${round} ${key}: start ${w.startupMs.toFixed(0)} ms, seq p50 ${seq.p50} ms p99 ${seq.p99} ms (${seq.reqs} req), c${CONCURRENCY} ${conc.rps} req/s`);
    } finally {
      await w.stop();
    }
  }
}

const pick = (key, f) => median(results[key].map(f));
const rows = [
  ["cold start to first answer (ms)", (r) => r.startupMs],
  ["no-I/O answer seq p50 (ms) (mKit 404 vs no-op 200)", (r) => r.bare.p50],
  ["no-I/O answer seq p99 (ms)", (r) => r.bare.p99],
  ["/healthz seq p50 (ms) (mKit runs D1 SELECT 1)", (r) => r.seq.p50],
  ["/healthz seq p99 (ms)", (r) => r.seq.p99],
  [`/healthz req/s at c${CONCURRENCY}`, (r) => r.conc.rps],
  ["tools/call whoami seq p50 (ms)", (r) => r.call.p50],
  ["tools/call whoami seq p99 (ms)", (r) => r.call.p99],
  [`tools/call whoami req/s at c${CONCURRENCY}`, (r) => r.callConc.rps],
];
const sizes = await bundleSizes();
console.log(`\nmKit benchmark — ${ROUNDS} alternating rounds, medians; wrk ${DURATION} per measurement; workerd via wrangler dev\n`);
console.log("| metric | mKit | no-op JS worker | mKit / no-op |");
console.log("| --- | ---: | ---: | ---: |");
for (const [label, f] of rows) {
  const a = pick("mkit", f);
  const b = pick("noop", f);
  console.log(`| ${label} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(2)}× |`);
}
console.log(`\n| bundle | raw | gzip |\n| --- | ---: | ---: |`);
console.log(`| mkit .wasm | ${kib(sizes.wasm)} | ${kib(sizes.wasmGzip)} |`);
console.log(`| whole upload (wrangler deploy --dry-run) | ${sizes.uploadKiB} KiB | ${sizes.uploadGzipKiB} KiB |`);
