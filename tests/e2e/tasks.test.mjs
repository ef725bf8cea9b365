// Tasks (issue 18), the 2026-07-28 Tasks extension, on workerd with the fixtures build: a task is
// stored in the caller's Durable Object before tools/call answers, runs from the object's alarm,
// survives a crash of the whole runtime in the middle of its run (wrangler and workerd killed,
// then started again on the same state) and completes; another user can neither read, answer nor
// cancel it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { defaultVars, EXAMPLES_BUILD, freePort, startWorker } from "./harness.mjs";
import { startIssuer } from "./issuer.mjs";

const EXTENSION = "io.modelcontextprotocol/tasks";
let issuer;
let worker;
let vars;
let port;
let alice;
let bob;

before(async () => {
  port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  issuer = await startIssuer({ resource });
  vars = { ...defaultVars(), OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource };
  worker = await startWorker({ name: "tasks", script: EXAMPLES_BUILD, port, vars });
  alice = (await issuer.userTokens({ user: "alice" })).access_token;
  bob = (await issuer.userTokens({ user: "bob" })).access_token;
});
after(async () => {
  await worker?.stop();
  await issuer?.stop();
});

/** One 2026-07-28 request; `tasks` declares the extension for this request. */
async function rpc(token, method, params, tasks = true) {
  const name = params.name ?? params.taskId;
  const res = await fetch(`${worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2026-07-28",
      "mcp-method": method, ...(name ? { "mcp-name": name } : {}), authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": tasks ? { extensions: { [EXTENSION]: {} } } : {} } } }),
  });
  return res.json();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(token, taskId, done, ms) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = (await rpc(token, "tasks/get", { taskId })).result;
    if (done(last)) return last;
    await sleep(500);
  }
  throw new Error(`task ${taskId} still ${JSON.stringify(last)}`);
}

test("a long task survives a crash of the runtime in the middle of its run and completes", async (t) => {
  const created = (await rpc(alice, "tools/call", { name: "slow_compute", arguments: { seconds: 6, label: "survivor" } })).result;
  assert.equal(created.resultType, "task");
  const running = await until(alice, created.taskId, (r) => r.status === "working", 5000);
  assert.equal(running.result, undefined);
  await sleep(2000);
  await worker.crash();
  const crashedAt = Date.now();
  worker = await startWorker({ name: "tasks-again", script: EXAMPLES_BUILD, port, vars, persist: worker.persist, migrate: false });
  const done = await until(alice, created.taskId, (r) => r.status !== "working", 60_000);
  t.diagnostic(`completed ${Date.now() - crashedAt} ms after the crash: ${JSON.stringify(done)}`);
  assert.equal(done.status, "completed");
  assert.match(done.result.content[0].text, /Computed survivor after 6 seconds/);
});

test("another user can neither read, answer nor cancel a task", async () => {
  const created = (await rpc(alice, "tools/call", { name: "confirm_delete", arguments: { path: "/tmp/a" } })).result;
  const parked = await until(alice, created.taskId, (r) => r.status === "input_required", 10_000);
  const [key] = Object.keys(parked.inputRequests);
  for (const [method, params] of [["tasks/get", {}], ["tasks/cancel", {}],
    ["tasks/update", { inputResponses: { [key]: { action: "accept", content: { confirm: true } } } }]]) {
    const r = await rpc(bob, method, { taskId: created.taskId, ...params });
    assert.equal(r.error?.code, -32602, `bob's ${method}: ${JSON.stringify(r)}`);
  }
  assert.equal((await rpc(alice, "tasks/get", { taskId: created.taskId })).result.status, "input_required", "untouched");
  const ack = await rpc(alice, "tasks/update", { taskId: created.taskId,
    inputResponses: { [key]: { action: "accept", content: { confirm: true } } } });
  assert.equal(ack.result.resultType, "complete");
  const done = await until(alice, created.taskId, (r) => r.status === "completed", 10_000);
  assert.equal(done.result.content[0].text, "Deleted /tmp/a");
  // Cancelling a finished task changes nothing; without the extension the task surface is refused.
  assert.equal((await rpc(alice, "tasks/cancel", { taskId: created.taskId })).result.resultType, "complete");
  assert.equal((await rpc(alice, "tasks/get", { taskId: created.taskId })).result.status, "completed");
  assert.equal((await rpc(alice, "tasks/get", { taskId: created.taskId }, false)).error.code, -32021);
});

test("a task that asks three times completes: input rounds are not counted as runs cut off (#28 item 10)", async () => {
  const created = (await rpc(alice, "tools/call", { name: "ask_three_times", arguments: {} })).result;
  assert.equal(created.resultType, "task");
  for (let round = 1; round <= 3; round++) {
    const parked = await until(alice, created.taskId, (r) => r.status !== "working", 10_000);
    assert.equal(parked.status, "input_required", `round ${round}: ${JSON.stringify(parked)}`);
    assert.equal(parked.inputRequests.round.params.message, `Round ${round}?`);
    const ack = await rpc(alice, "tasks/update", { taskId: created.taskId,
      inputResponses: { round: { action: "accept", content: { confirm: true } } } });
    assert.equal(ack.result?.resultType, "complete", JSON.stringify(ack));
  }
  const done = await until(alice, created.taskId, (r) => r.status !== "working", 10_000);
  assert.equal(done.status, "completed", JSON.stringify(done));
  assert.equal(done.result.content[0].text, "Answered 3 rounds");
});

test("a caller's tasks run side by side: a short one finishes while a long one still works", async () => {
  const long = (await rpc(alice, "tools/call", { name: "slow_compute", arguments: { seconds: 8, label: "long" } })).result;
  await until(alice, long.taskId, (r) => r.status === "working", 5000);
  await sleep(500);
  const short = (await rpc(alice, "tools/call", { name: "slow_compute", arguments: { seconds: 1, label: "short" } })).result;
  const done = await until(alice, short.taskId, (r) => r.status !== "working", 6000);
  assert.equal(done.status, "completed");
  assert.equal((await rpc(alice, "tasks/get", { taskId: long.taskId })).result.status, "working", "the long one still works");
  assert.equal((await until(alice, long.taskId, (r) => r.status !== "working", 20_000)).status, "completed");
});

test("a caller has at most 16 tasks working; the next is refused, and admitted again once one ends", async () => {
  const created = [];
  for (let i = 0; i < 16; i++) {
    const r = await rpc(bob, "tools/call", { name: "slow_compute", arguments: { seconds: 60, label: `busy-${i}` } });
    assert.equal(r.result?.resultType, "task", JSON.stringify(r));
    created.push(r.result.taskId);
  }
  const refused = await rpc(bob, "tools/call", { name: "slow_compute", arguments: { seconds: 1, label: "one-too-many" } });
  assert.equal(refused.error?.code, -32600, JSON.stringify(refused));
  assert.match(refused.error.message, /16 of your tasks are working/);
  const other = await rpc(alice, "tools/call", { name: "slow_compute", arguments: { seconds: 1, label: "alice's own" } });
  assert.equal(other.result?.resultType, "task", "another caller is not limited by bob's tasks");
  await rpc(bob, "tasks/cancel", { taskId: created[0] });
  const admitted = await rpc(bob, "tools/call", { name: "slow_compute", arguments: { seconds: 1, label: "after a cancel" } });
  assert.equal(admitted.result?.resultType, "task", JSON.stringify(admitted));
  for (const taskId of created) await rpc(bob, "tasks/cancel", { taskId });
});

test("a caller keeps at most 128 tasks: the next forgets the oldest finished one (#28 item 5)", async () => {
  const { access_token: cora } = await issuer.userTokens({ user: "cora-tasks" });
  const start = async (label) => {
    const r = await rpc(cora, "tools/call", { name: "slow_compute", arguments: { seconds: 0, label } });
    assert.equal(r.result?.resultType, "task", JSON.stringify(r));
    return r.result.taskId;
  };
  const finished = (t) => t?.status === "completed";
  const first = await start("first");
  await until(cora, first, finished, 30_000);
  const ids = [];
  // 128 more in bursts under the 16 working at once, each burst finished before the next.
  for (let burst = 0; burst < 8; burst++) {
    const batch = [];
    for (let i = 0; i < 16; i++) batch.push(await start(`t-${burst}-${i}`));
    for (const id of batch) await until(cora, id, finished, 30_000);
    ids.push(...batch);
  }
  const gone = await rpc(cora, "tasks/get", { taskId: first });
  assert.ok(gone.error, `the oldest finished task was forgotten: ${JSON.stringify(gone)}`);
  assert.ok(finished((await rpc(cora, "tasks/get", { taskId: ids[0] })).result), "the next oldest is kept");
  assert.ok(finished((await rpc(cora, "tasks/get", { taskId: ids.at(-1) })).result));
});
