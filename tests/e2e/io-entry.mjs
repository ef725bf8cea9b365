// Test-only Worker entry (never deployed): the fixtures build with every call the Rust code makes
// to a binding or the network counted, for the round-trip table of docs/architecture.md (issue
// #30). The counts are taken where the calls leave the Worker, on the runtime's own objects, so
// no call site in the Rust code can be missed:
//   d1       a D1 query or batch (`D1PreparedStatement` all/first/run/raw, `D1Database`
//            batch/exec): one round trip to the database's primary
//   d1_replica  a D1 query or batch in a session a read replica may answer (see markReplicaReads)
//   do       a Durable Object request (a stub's fetch); one answered only after the response was
//            returned was not waited for, and counts in `total` only
//   fetch    an outbound fetch (the global `fetch`: an issuer, JWKS, Stripe…)
//   limit    a Rate Limiting binding call (`limit`; answered in the caller's location)
//   cache    a Cache API call (`match`/`put`/`delete` on `caches.default`; local)
// Each request is answered with `x-mkit-io-id`; GET /__io?id=… returns its counts once its
// `waitUntil` work has settled: `path` (before the response was returned) and `total`. Requests
// are counted one at a time: a request that starts while another is in flight (or its waitUntil
// work is) marks both `overlapped`, so a test can never read mixed counts as its own.

import { WorkerEntrypoint } from "cloudflare:workers";
import Mkit from "../../build-fixtures/index.js";

export { McpCounters, McpSessions, McpTasks } from "../../build-fixtures/index.js";

const KINDS = ["d1", "d1_replica", "d1_rows_written", "do", "fetch", "limit", "cache"];
const runs = new Map();
let nextId = 1;
let current = null;

const zero = () => Object.fromEntries(KINDS.map((k) => [k, 0]));
const count = (kind, n = 1) => { if (current) current.total[kind] += n; };

/** D1's billed rows written (`meta.rows_written`) of a result or a batch's results, added up. */
function countRowsWritten(result) {
  const results = Array.isArray(result) ? result : [result];
  count("d1_rows_written", results.reduce((n, r) => n + (r?.meta?.rows_written ?? 0), 0));
  return result;
}

/** Wraps `proto[name]` (a method of a runtime class) so each call counts as `kind`. */
function countMethod(proto, name, kind) {
  const original = proto?.[name];
  if (typeof original !== "function" || original.__counted) return;
  const wrapped = function (...args) {
    const run = current;
    const counted = typeof kind === "function" ? kind(this) : kind;
    if (!counted) return original.apply(this, args);
    count(counted);
    const out = original.apply(this, args);
    // The rows a query wrote reach its request's counts when it answers (run/all/batch carry meta).
    if (kind !== "cache" && out && typeof out.then === "function") {
      return out.then((r) => { if (run === current) countRowsWritten(r); return r; });
    }
    return out;
  };
  wrapped.__counted = true;
  proto[name] = wrapped;
}

// D1's Sessions API: a session begun `first-unconstrained` (or at a bookmark) may be answered by
// a read replica near the caller (developers.cloudflare.com/d1/best-practices/read-replication);
// one begun `first-primary`, or no session, by the primary. Its statements (and the statements
// `bind` makes of them) count as `d1_replica`. Local D1 has no replica: the column says where
// production may answer, not where it did.
const replicaSessions = new WeakSet();
const sessions = new WeakSet();
const replicaEligible = new WeakSet();
function markReplicaReads(db) {
  const dbProto = Object.getPrototypeOf(db);
  const withSession = dbProto.withSession;
  if (typeof withSession !== "function" || withSession.__counted) return;
  dbProto.withSession = function (constraint, ...rest) {
    const session = withSession.call(this, constraint, ...rest);
    if (constraint !== undefined && constraint !== "first-primary") replicaSessions.add(session);
    const sessionProto = Object.getPrototypeOf(session);
    // A session's batch is one round trip, to a replica for a session a replica may answer. Only
    // sessions made here count: where the runtime's own `batch` runs through an internal session,
    // `D1Database.batch` has counted it already.
    sessions.add(session);
    countMethod(sessionProto, "batch", (self) => (!sessions.has(self) ? null : replicaSessions.has(self) ? "d1_replica" : "d1"));
    if (!sessionProto.prepare.__counted) {
      const prepare = sessionProto.prepare;
      sessionProto.prepare = function (...args) {
        const s = prepare.apply(this, args);
        if (replicaSessions.has(this)) replicaEligible.add(s);
        return s;
      };
      sessionProto.prepare.__counted = true;
    }
    return session;
  };
  dbProto.withSession.__counted = true;
  const statementProto = Object.getPrototypeOf(db.prepare("SELECT 1"));
  const bind = statementProto.bind;
  statementProto.bind = function (...args) {
    const s = bind.apply(this, args);
    if (replicaEligible.has(this)) replicaEligible.add(s);
    return s;
  };
}

let patched = false;
/** Patches the runtime's classes once, from the objects the first request's env holds. */
async function patchOnce(env) {
  if (patched) return;
  patched = true;
  const db = env.DB;
  countMethod(Object.getPrototypeOf(db), "batch", "d1");
  countMethod(Object.getPrototypeOf(db), "exec", "d1");
  markReplicaReads(db);
  const statement = Object.getPrototypeOf(db.prepare("SELECT 1"));
  for (const m of ["all", "first", "run", "raw"]) {
    countMethod(statement, m, (self) => (replicaEligible.has(self) ? "d1_replica" : "d1"));
  }
  const cache = Object.getPrototypeOf(caches.default);
  for (const m of ["match", "put", "delete"]) countMethod(cache, m, "cache");
  const realFetch = globalThis.fetch;
  globalThis.fetch = function (...args) { count("fetch"); return realFetch.apply(this, args); };
}

/**
 * Property `p` of the runtime object `t` seen through a Proxy: methods bound to `t` (the runtime's
 * methods need their own receiver), but `constructor` as it is: workers-rs takes a binding only when
 * its constructor's name is the runtime class's ("Ratelimit", "DurableObjectNamespace"), and a
 * bound constructor is named "bound Ratelimit", so the Rust code would see the binding as absent.
 */
function forward(t, p) {
  const v = Reflect.get(t, p);
  return typeof v === "function" && p !== "constructor" ? v.bind(t) : v;
}

/** A Durable Object namespace whose stubs count their requests. */
function countedNamespace(ns) {
  if (!ns) return ns;
  const stub = (s) => new Proxy(s, {
    get(t, p) {
      if (p === "fetch") return (...args) => {
        count("do");
        const run = current;
        const out = t.fetch(...args);
        // A request answered after the response was returned was not waited for (the Worker left
        // it to waitUntil): it counts as after the response. Its run's counts wait for it.
        const answered = out.then(() => { if (run?.path) run.answeredAfter.do += 1; }, () => {});
        run?.pending.push(answered);
        return out;
      };
      return forward(t, p);
    },
  });
  return new Proxy(ns, {
    get(t, p) {
      if (p === "get" || p === "getByName") return (...args) => stub(t[p](...args));
      return forward(t, p);
    },
  });
}

/** A Rate Limiting binding whose `limit` calls count. */
function countedLimiter(rl) {
  if (!rl) return rl;
  return new Proxy(rl, {
    get(t, p) {
      if (p === "limit") return (...args) => { count("limit"); return t.limit(...args); };
      return forward(t, p);
    },
  });
}

function countedEnv(env) {
  return {
    ...env,
    MCP_SESSIONS: countedNamespace(env.MCP_SESSIONS),
    MCP_TASKS: countedNamespace(env.MCP_TASKS),
    MKIT_COUNTERS: countedNamespace(env.MKIT_COUNTERS),
    MKIT_RATE_LIMIT: countedLimiter(env.MKIT_RATE_LIMIT),
    MKIT_TOOL_RATE_LIMIT: countedLimiter(env.MKIT_TOOL_RATE_LIMIT),
    MKIT_REGISTRATION_RATE_LIMIT: countedLimiter(env.MKIT_REGISTRATION_RATE_LIMIT),
  };
}

/** The counts of run `id`, once its waitUntil work has settled. */
async function report(id) {
  const run = runs.get(id);
  if (!run) return Response.json({ error: "no such request" }, { status: 404 });
  await run.done;
  await Promise.allSettled(run.pending);
  const path = { ...run.path, do: run.path.do - run.answeredAfter.do };
  return Response.json({ path, total: run.total, overlapped: run.overlapped });
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/__io") return report(Number(url.searchParams.get("id")));
    await patchOnce(this.env);
    const run = { total: zero(), path: null, pending: [], overlapped: false, done: null, answeredAfter: zero() };
    if (current) { current.overlapped = true; run.overlapped = true; }
    const id = nextId++;
    runs.set(id, run);
    current = run;
    const ctx = this.ctx;
    const countedCtx = new Proxy(ctx, {
      get(t, p) {
        if (p === "waitUntil") return (promise) => { run.pending.push(promise); return t.waitUntil(promise); };
        return forward(t, p);
      },
    });
    let settle;
    run.done = new Promise((r) => { settle = r; });
    try {
      const response = await new Mkit(countedCtx, countedEnv(this.env)).fetch(request);
      run.path = { ...run.total };
      const headers = new Headers(response.headers);
      headers.set("x-mkit-io-id", String(id));
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    } finally {
      settle();
      // The next request may start once this one's waitUntil work has settled.
      Promise.allSettled(run.pending).then(() => { if (current === run) current = null; });
    }
  }
}
