// Timed requests for the fault and load tests: every request has a client-side ceiling, and the
// answer (or the timeout, or the client's own abort) is returned with its latency instead of
// thrown, so a test can assert on "answered within N s" and print what it measured.

export const MCP_VERSION = "2025-11-25";

/** Parses a JSON or a single-event SSE body; undefined when neither. */
function parseBody(text) {
  try {
    return JSON.parse(text);
  } catch {
    const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
    try {
      return data ? JSON.parse(data) : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * A request with a ceiling (`timeoutMs`, default 20 s) and an optional caller `signal`. Resolves
 * to { status, ms, headers, text, json } where status is the HTTP status, or "timeout" when the
 * ceiling passed, "aborted" when `signal` fired, "error" on a network error.
 */
export async function timedFetch(url, init = {}, { timeoutMs = 20_000, signal } = {}) {
  const t0 = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { ...init, signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - t0, headers: res.headers, text, json: parseBody(text) };
  } catch (e) {
    const status = signal?.aborted ? "aborted" : timeout.aborted ? "timeout" : "error";
    return { status, ms: performance.now() - t0, error: e };
  }
}

/** One stateless `tools/call` (MCP 2025-11-25, no handshake). `result` is the JSON-RPC result. */
export async function callTool(workerUrl, token, name, args = {}, opts = {}) {
  const r = await timedFetch(`${workerUrl}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
      "mcp-protocol-version": MCP_VERSION, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ jsonrpc: "2.0", id: opts.id ?? 1, method: "tools/call", params: { name, arguments: args } }),
  }, opts);
  return { ...r, result: r.json?.result, rpcError: r.json?.error };
}

/** GET /healthz, timed; `json` is the report. */
export const health = (workerUrl, opts) => timedFetch(`${workerUrl}/healthz`, {}, opts);

/** The token with its header's `kid` replaced: a key the worker has never seen (the signature no longer matters). */
export function withKid(token, kid) {
  const [h, ...rest] = token.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
  return [Buffer.from(JSON.stringify({ ...header, kid })).toString("base64url"), ...rest].join(".");
}

/** p-th percentile (0–100) of numbers, nearest rank. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** "n=…, p50 … ms, p95 …, p99 …, max …" for a list of latencies. */
export function summary(ms) {
  const f = (v) => v.toFixed(1);
  return `n=${ms.length} p50=${f(percentile(ms, 50))}ms p95=${f(percentile(ms, 95))}ms p99=${f(percentile(ms, 99))}ms max=${f(Math.max(...ms))}ms`;
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight; resolves to the results in order. */
export async function pool(n, concurrency, task) {
  const results = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return results;
}
