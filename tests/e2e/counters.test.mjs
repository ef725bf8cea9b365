// Each caller's counters in their own Durable Object (issue #30 part 3; MKIT_COUNTERS bound as
// docs/deployment.md shows): the guarantees proven on D1 hold there too. 64 concurrent calls
// against 10 free calls or 10 credits run exactly 10; distinct callers at once keep their own
// exact counts; a grant paid after a refusal counts at once; an existing deployment's windows and
// balance carry over; and everything counted reaches the D1 ledger after the response, once.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startStack } from "./stack.mjs";
import { countersConfig, d1, defaultVars, EXAMPLES_BUILD, startWorker, TEST_WEBHOOK_SECRET } from "./harness.mjs";
import { callTool, pool } from "./timed.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";

let stack;
let config;
let restarted; // the worker started again after the crash test's crash
before(async () => {
  config = countersConfig("counters");
  stack = await startStack({ name: "counters", script: EXAMPLES_BUILD, config });
});
after(async () => {
  await restarted?.stop();
  await stack?.stop();
});

const call = (token, name, args = {}) => stack.rpc(token, "tools/call", { name, arguments: args });
const whoami = async (token) => (await call(token, "whoami")).structuredContent;
const user = async (name) => {
  const { access_token: token } = await stack.issuer.userTokens({ user: name });
  return { token, sub: (await whoami(token)).sub };
};

async function send(ev) {
  const res = await deliver(stack.worker.url, JSON.stringify(ev), TEST_WEBHOOK_SECRET);
  assert.equal(res.status, 200, await res.text());
}

function packPaid(sub, session, credits) {
  const o = objectFor("checkout.session.completed", { user: sub });
  return envelope("checkout.session.completed", { ...o, id: session, mode: "payment", subscription: null,
    metadata: { mkit_user: sub, mkit_credits: String(credits) } });
}

/** D1 rows for `sql`, once `done(rows)` holds: the object writes them after the response. */
async function ledgerOnce(sql, done, worker = stack.worker) {
  let rows;
  for (let i = 0; i < 60; i++) {
    rows = await d1(worker, sql);
    if (done(rows)) return rows;
    await sleep(250);
  }
  assert.fail(`the D1 ledger never showed it: ${sql} → ${JSON.stringify(rows)}`);
}

test("64 concurrent calls against 10 free calls and against 10 credits: exactly 10 of each run", async () => {
  const { token, sub } = await user("ctr-ada");
  await send(packPaid(sub, "cs_ctr_ada", 10));
  const quota = await Promise.all(Array.from({ length: 64 }, () => call(token, "test_free_quota")));
  assert.equal(quota.filter((r) => r.isError !== true).length, 10);
  assert.equal(quota.filter((r) => r.structuredContent?.error === "quota_exceeded").length, 54);
  const credits = await Promise.all(Array.from({ length: 64 }, () => call(token, "test_credits")));
  assert.equal(credits.filter((r) => r.isError !== true).length, 10);
  assert.equal(credits.filter((r) => r.structuredContent?.error === "payment_required").length, 54);
  const who = await whoami(token);
  assert.equal(who.credits, 0);
  assert.equal(who.quotas.find((q) => q.quota === "test_free_quota").used, 10);
  // After the response, once each: ten debits charged, the balance at 0, the window at 10.
  const debits = await ledgerOnce(`SELECT COUNT(*) AS n, SUM(charged) AS charged FROM credit_debits
    WHERE user_sub = '${sub}' AND state = 'settled'`, (r) => r[0].n === 10);
  assert.deepEqual(debits, [{ n: 10, charged: 10 }]);
  assert.deepEqual(await d1(stack.worker, `SELECT balance FROM credit_balances WHERE user_sub = '${sub}'`), [{ balance: 0 }]);
  const window = await ledgerOnce(`SELECT used FROM quota_usage WHERE user_sub = '${sub}'`, (r) => r[0]?.used === 10);
  assert.deepEqual(window, [{ used: 10 }]);
  const logged = stack.worker.requestLogs().filter((l) => l.tool === "test_credits");
  assert.equal(logged.filter((l) => l.billing === "credits").length, 10);
});

test("a failed run gives back its free call and its credits; a pack paid after a refusal counts at once", async () => {
  const { token, sub } = await user("ctr-bo");
  assert.equal((await call(token, "test_credits")).structuredContent.error, "payment_required");
  await send(packPaid(sub, "cs_ctr_bo", 2));
  assert.notEqual((await call(token, "test_credits")).isError, true, "the shortfall was confirmed at D1, which had the grant");
  await send(packPaid(sub, "cs_ctr_bo_2", 3));
  assert.equal((await whoami(token)).credits, 4, "whoami reads the balance again: a pack paid shows at once");
  assert.equal((await call(token, "test_credits", { fail: true })).isError, true);
  assert.equal((await whoami(token)).credits, 4, "the failed run was refunded");
  for (let i = 0; i < 3; i++) assert.equal((await call(token, "test_free_quota", { fail: true })).isError, true);
  assert.equal((await whoami(token)).quotas.find((q) => q.quota === "test_free_quota").used, 0);
});

test("an existing deployment's windows and balance carry over into the caller's object", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "ctr-cy" });
  // The ledger's subject of ctr-cy, spelled as another caller's is (whoami would start the object).
  const sub = (await user("ctr-cx")).sub.replace("ctr-cx", "ctr-cy");
  const day = Math.floor(Date.now() / 86_400_000) * 86_400;
  // What D1 held before the object existed: 9 of 10 free calls used, 3 credits.
  await d1(stack.worker, `INSERT INTO quota_usage (user_sub, quota_key, window_start, used) VALUES ('${sub}', 'test_free_quota', ${day}, 9)`);
  await d1(stack.worker, `INSERT INTO credit_balances (user_sub, balance) VALUES ('${sub}', 3)`);
  const who = await whoami(token);
  assert.equal(who.sub, sub, "the ledger's subject, as the test wrote it");
  assert.equal(who.credits, 3);
  const quota = await Promise.all(Array.from({ length: 4 }, () => call(token, "test_free_quota")));
  assert.equal(quota.filter((r) => r.isError !== true).length, 1, "the tenth call only");
  const credits = await Promise.all(Array.from({ length: 6 }, () => call(token, "test_credits")));
  assert.equal(credits.filter((r) => r.isError !== true).length, 3);
});

test("a metered call's usage reaches the D1 outbox once, after the response", async () => {
  const { token, sub } = await user("ctr-di");
  await send(envelope("checkout.session.completed", objectFor("checkout.session.completed", { user: sub })));
  await send(envelope("customer.subscription.created", objectFor("customer.subscription.created", { user: sub, lookupKey: "pro" })));
  assert.deepEqual((await call(token, "test_metered", { units: 3 })).structuredContent, { units: 3 });
  assert.equal((await call(token, "test_metered", { units: 5, fail: true })).isError, true);
  const rows = await ledgerOnce(`SELECT event_name, value FROM meter_outbox WHERE user_sub = '${sub}'`, (r) => r.length > 0);
  await sleep(500);
  assert.deepEqual(await d1(stack.worker, `SELECT event_name, value FROM meter_outbox WHERE user_sub = '${sub}'`), rows);
  assert.deepEqual(rows, [{ event_name: "mkit_test_units", value: 3 }]);
});

/** A 2026-07-28 `tools/call` or `tasks/get` with the Tasks extension declared. */
async function taskRpc(token, method, params) {
  const res = await fetch(`${stack.worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2026-07-28",
      "mcp-method": method, "mcp-name": params.name ?? params.taskId, authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": { extensions: { "io.modelcontextprotocol/tasks": {} } } } } }),
  });
  return res.json();
}

test("tasks priced in credits: reserved when created, settled from the tasks object, a failed one refunded", async () => {
  const { token, sub } = await user("ctr-fay");
  await send(packPaid(sub, "cs_ctr_fay", 3));
  const create = (args) => taskRpc(token, "tools/call", { name: "test_credits_task", arguments: { seconds: 2, ...args } });
  const created = [await create({}), await create({ fail: true }), await create({})];
  for (const c of created) assert.equal(c.result?.resultType, "task", JSON.stringify(c));
  const refused = await create({});
  assert.equal(refused.result?.structuredContent?.error, "payment_required", `the 3 credits are reserved: ${JSON.stringify(refused)}`);
  const ended = [];
  for (const { result: { taskId } } of created) {
    let task;
    for (let i = 0; i < 60 && !["completed", "failed"].includes(task?.status); i++) {
      await sleep(250);
      task = (await taskRpc(token, "tasks/get", { taskId })).result;
    }
    ended.push(task.status === "completed" && task.result.isError !== true);
  }
  assert.deepEqual(ended, [true, false, true], "two ran, the failing one failed");
  // The settles ran after their runs (deferred inside the tasks object) and reached D1 once each.
  const debits = await ledgerOnce(`SELECT state, COUNT(*) AS n FROM credit_debits WHERE user_sub = '${sub}'
    GROUP BY state ORDER BY state`, (r) => r.some((d) => d.state === "settled" && d.n === 2));
  assert.deepEqual(debits.filter((d) => d.state === "settled"), [{ state: "settled", n: 2 }]);
  const balance = await ledgerOnce(`SELECT balance FROM credit_balances WHERE user_sub = '${sub}'`, (r) => r[0]?.balance === 1);
  assert.deepEqual(balance, [{ balance: 1 }]);
  assert.equal((await whoami(token)).credits, 1, "the failed task's credit came back");
});

test("12 distinct callers at once: each caller's object counts exactly their own", { timeout: 150_000 }, async () => {
  const callers = [];
  for (let i = 0; i < 12; i++) {
    const c = await user(`ctr-load-${i}`);
    await send(packPaid(c.sub, `cs_ctr_load_${i}`, 3 + i));
    callers.push({ ...c, credits: 3 + i });
  }
  const plan = callers.flatMap((c) => [...Array.from({ length: 15 }, () => ({ c, tool: "test_free_quota" })),
    ...Array.from({ length: c.credits + 5 }, () => ({ c, tool: "test_credits" }))]);
  for (let i = plan.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  const results = await pool(plan.length, 32, async (i) => {
    const r = await callTool(stack.worker.url, plan[i].c.token, plan[i].tool);
    assert.equal(r.status, 200, r.text);
    return { ...plan[i], ran: r.result.isError !== true };
  });
  for (const c of callers) {
    const ran = (tool) => results.filter((r) => r.c === c && r.tool === tool && r.ran).length;
    assert.equal(ran("test_free_quota"), 10, `${c.sub}: exactly the free quota`);
    assert.equal(ran("test_credits"), c.credits, `${c.sub}: exactly the balance`);
  }
  const balances = await ledgerOnce(`SELECT COUNT(*) AS n FROM credit_balances
    WHERE user_sub LIKE '%ctr-load-%' AND balance = 0`, (r) => r[0].n === 12);
  assert.deepEqual(balances, [{ n: 12 }], "every balance reached 0 in D1");
});

test("a crash of the runtime right after the calls loses nothing: the counts and their write-back survive", async () => {
  const { token, sub } = await user("ctr-eve");
  await send(packPaid(sub, "cs_ctr_eve", 5));
  for (let i = 0; i < 3; i++) assert.notEqual((await call(token, "test_credits")).isError, true);
  for (let i = 0; i < 2; i++) assert.notEqual((await call(token, "test_free_quota")).isError, true);
  // Killed before the object's write-back (a second after the calls): nothing finishes.
  await stack.worker.crash();
  restarted = await startWorker({ name: "counters-again", script: EXAMPLES_BUILD, config, port: stack.worker.port,
    vars: { ...defaultVars(), OAUTH_ISSUER: stack.issuer.url, MCP_RESOURCE: stack.resource },
    persist: stack.worker.persist, migrate: false });
  const debits = await ledgerOnce(`SELECT COUNT(*) AS n FROM credit_debits WHERE user_sub = '${sub}' AND state = 'settled'`,
    (r) => r[0].n === 3, restarted);
  assert.deepEqual(debits, [{ n: 3 }]);
  assert.deepEqual(await ledgerOnce(`SELECT used FROM quota_usage WHERE user_sub = '${sub}'`, (r) => r[0]?.used === 2, restarted),
    [{ used: 2 }]);
  assert.deepEqual(await d1(restarted, `SELECT balance FROM credit_balances WHERE user_sub = '${sub}'`), [{ balance: 2 }]);
  const who = await whoami(token);
  assert.equal(who.credits, 2, "the object kept its counts across the crash");
  assert.equal(who.quotas.find((q) => q.quota === "test_free_quota").used, 2);
});
