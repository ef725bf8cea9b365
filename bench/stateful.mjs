// The stateful rows of `make bench` (issue 18), production-like like bench/prodlike.mjs: the
// fixtures build in workerd through Miniflare's API with its Durable Objects and local D1, CPU of
// the workerd process (the objects run in it too) read from schedstat around each batch of flows.
// Each flow is run sequentially BENCH_FLOWS times per round; medians over the rounds.
//
//   node bench/stateful.mjs            (make bench runs it after bench/prodlike.mjs)

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Miniflare, NoOpLog, convertV4MiniflareOptions } from "miniflare";
import { ROOT, defaultVars, freePort } from "../tests/e2e/harness.mjs";
import { startIssuer } from "../tests/e2e/issuer.mjs";
import { kitMigrationsDir, mergeMigrations } from "../scripts/migrations.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FLOWS = Number(process.env.BENCH_FLOWS ?? 100);
const BUILD = join(ROOT, "build-fixtures");
const COMPAT = JSON.parse(readFileSync(join(ROOT, "bench/noop/wrangler.jsonc"), "utf8").replace(/^\s*\/\/.*$/gm, "")).compatibility_date;
const EXTENSION = "io.modelcontextprotocol/tasks";

function cpuNs(pid) {
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try { total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]); } catch { /* gone */ }
  }
  return total;
}

function workerdPids() {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      return stat.includes("(workerd)") && Number(stat.split(") ")[1].split(" ")[1]) === process.pid;
    } catch { return false; }
  }).map(Number);
}

const migrations = () => mergeMigrations([kitMigrationsDir(), join(ROOT, "migrations")])
  .flatMap((f) => f.text.replace(/--.*$/gm, "").split(";")).map((s) => s.trim()).filter(Boolean);

async function start() {
  const before = new Set(workerdPids());
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const issuer = await startIssuer({ resource });
  const mf = new Miniflare(convertV4MiniflareOptions({
    port, host: "127.0.0.1", log: new NoOpLog(), handleStructuredLogs: () => {}, compatibilityDate: COMPAT,
    modules: [{ type: "ESModule", path: join(BUILD, "index.js") }, { type: "CompiledWasm", path: join(BUILD, "index_bg.wasm") }],
    modulesRoot: BUILD,
    bindings: { ...defaultVars(), OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource },
    d1Databases: { DB: `stateful-${port}` },
    durableObjects: { MCP_SESSIONS: "McpSessions", MCP_TASKS: "McpTasks" },
  }));
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB");
  await db.batch(migrations().map((s) => db.prepare(s)));
  const pid = workerdPids().find((p) => !before.has(p));
  const token = await issuer.clientCredentialsToken();
  return { url, pid, token, stop: async () => { await mf.dispose(); await issuer.stop(); } };
}

function post(w, body, headers = {}) {
  return fetch(`${w.url}/mcp`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json",
    accept: "application/json, text/event-stream", authorization: `Bearer ${w.token}`, ...headers } });
}

function stateless(w, method, params, extension = false) {
  const name = params.name ?? params.taskId;
  return post(w, { jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": extension ? { extensions: { [EXTENSION]: {} } } : {} } } },
  { "mcp-protocol-version": "2026-07-28", "mcp-method": method, ...(name ? { "mcp-name": name } : {}) });
}

async function session(w) {
  const res = await post(w, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25",
    capabilities: { elicitation: {} }, clientInfo: { name: "bench", version: "1" } } }, { "mcp-protocol-version": "2025-11-25" });
  await res.text();
  return res.headers.get("mcp-session-id");
}

/** The flows, each one complete exchange as a client makes it. */
const FLOW = {
  async statelessCall(w) {
    await (await stateless(w, "tools/call", { name: "greet", arguments: { name: "x" } })).json();
  },
  async handshakeCall(w) {
    await (await post(w, { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "greet", arguments: { name: "x" } } },
      { "mcp-protocol-version": "2025-11-25" })).text();
  },
  async taskCall(w) {
    const { result } = await (await stateless(w, "tools/call", { name: "slow_compute", arguments: { seconds: 0 } }, true)).json();
    await (await stateless(w, "tasks/get", { taskId: result.taskId }, true)).json();
  },
  async taskCall2025(w) {
    const headers = { "mcp-protocol-version": "2025-11-25" };
    const created = await (await post(w, { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "slow_compute",
      arguments: { seconds: 0 }, task: {} } }, headers)).json();
    const done = await (await post(w, { jsonrpc: "2.0", id: 6, method: "tasks/result",
      params: { taskId: created.result.task.taskId } }, headers)).json();
    if (!done.result?.content) throw new Error(`tasks/result: ${JSON.stringify(done)}`);
  },
  async listen(w) {
    const abort = new AbortController();
    const res = await fetch(`${w.url}/mcp`, { method: "POST", signal: abort.signal, headers: { "content-type": "application/json",
      accept: "application/json, text/event-stream", authorization: `Bearer ${w.token}`, "mcp-protocol-version": "2026-07-28",
      "mcp-method": "subscriptions/listen" }, body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "subscriptions/listen",
      params: { notifications: { resourceSubscriptions: ["test://watched-resource"] }, _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } }) });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("acknowledged")) text += (await reader.read()).value ?? "";
    await (await stateless(w, "tools/call", { name: "test_update_watched_resource", arguments: {} })).json();
    while (!text.includes("resources/updated")) text += (await reader.read()).value ?? "";
    abort.abort();
  },
  async listWithoutSession(w) {
    await (await post(w, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-protocol-version": "2025-11-25" })).text();
  },
  async listOnSession(w, sid) {
    await (await post(w, { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { "mcp-protocol-version": "2025-11-25", "mcp-session-id": sid })).text();
  },
  async elicitation(w, sid) {
    const headers = { "mcp-protocol-version": "2025-11-25", "mcp-session-id": sid };
    const res = await post(w, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "test_elicitation",
      arguments: { message: "?" } } }, headers);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n\n")) text += (await reader.read()).value ?? "";
    const asked = JSON.parse(text.split("data: ")[1]);
    await (await post(w, { jsonrpc: "2.0", id: asked.id, result: { action: "accept",
      content: { username: "u", email: "e@x" } } }, headers)).text();
    while (!(await reader.read()).done) { /* the final answer, then the end */ }
  },
};

async function measure(w, flow, sid) {
  for (let i = 0; i < 20; i++) await FLOW[flow](w, sid); // warm-up
  const cpu0 = cpuNs(w.pid);
  const times = [];
  for (let i = 0; i < FLOWS; i++) {
    const t0 = performance.now();
    await FLOW[flow](w, sid);
    times.push(performance.now() - t0);
  }
  await new Promise((r) => setTimeout(r, 300)); // a task's run from the alarm, after its tasks/get
  times.sort((a, b) => a - b);
  return { cpuUs: (cpuNs(w.pid) - cpu0) / 1000 / FLOWS, p50: times[Math.floor(FLOWS / 2)] };
}

const rows = [
  ["statelessCall", "stateless tools/call greet (2026-07-28)"],
  ["handshakeCall", "stateless tools/call greet (2025-11-25, no session)"],
  ["taskCall", "task-mode tools/call slow_compute{seconds:0}: create + one tasks/get (+ the run from the alarm)"],
  ["taskCall2025", "2025-11-25 task: tools/call with params.task + a blocking tasks/result"],
  ["listen", "subscriptions/listen: acknowledged, one update announced by a tools/call and received"],
  ["listWithoutSession", "tools/list, 2025-11-25, no session"],
  ["listOnSession", "tools/list on a held session (the liveness check at the Durable Object)"],
  ["elicitation", "session-mode tools/call with one elicitation round trip (stream + answer POST)"],
];
const results = Object.fromEntries(rows.map(([k]) => [k, []]));
for (let round = 1; round <= ROUNDS; round++) {
  const w = await start();
  try {
    const sid = await session(w);
    const order = round % 2 ? rows : [...rows].reverse();
    for (const [k] of order) results[k].push(await measure(w, k, sid));
    console.error(`stateful round ${round}: done`);
  } finally {
    await w.stop();
  }
}
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const of = (k, f) => median(results[k].map((r) => r[f]));
console.log(`\nStateful flows (fixtures build in workerd through Miniflare, its Durable Objects in the same process) — ${ROUNDS} rounds of ${FLOWS} sequential flows, medians; ratio: CPU against the stateless call\n`);
console.log("| flow | CPU µs/flow | p50 (ms) | CPU × stateless call |");
console.log("| --- | ---: | ---: | ---: |");
for (const [k, label] of rows) {
  console.log(`| ${label} | ${of(k, "cpuUs").toFixed(0)} | ${of(k, "p50").toFixed(2)} | ${(of(k, "cpuUs") / of("statelessCall", "cpuUs")).toFixed(2)} |`);
}
console.log(`\nthe held session's liveness check: ${(of("listOnSession", "cpuUs") - of("listWithoutSession", "cpuUs")).toFixed(0)} µs CPU, ${(of("listOnSession", "p50") - of("listWithoutSession", "p50")).toFixed(2)} ms p50 per request`);
