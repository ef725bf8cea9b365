// The 2025-11-25 tasks utility (issue 18) on workerd with the fixtures build, driven by the
// official SDK client's own task API (client.experimental.tasks): a task-augmented tools/call is
// polled and its result fetched; a task that needs input is answered inside tasks/result, the
// elicitation arriving on that call's stream tagged with the task; cancelling and listing; and
// another user can neither read, fetch, list nor cancel alice's task.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema, CreateTaskResultSchema, ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { EXAMPLES_BUILD } from "./harness.mjs";
import { startStack } from "./stack.mjs";

const RELATED = "io.modelcontextprotocol/related-task";
let stack;
let alice;
let bob;
const clients = [];

before(async () => {
  stack = await startStack({ name: "tasks-2025", script: EXAMPLES_BUILD });
  alice = (await stack.issuer.userTokens({ user: "alice" })).access_token;
  bob = (await stack.issuer.userTokens({ user: "bob" })).access_token;
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stack?.stop();
});

async function connect(token, capabilities = {}, elicit) {
  const client = new Client({ name: "tasks-2025-e2e", version: "1.0.0" }, { capabilities });
  if (elicit) client.setRequestHandler(ElicitRequestSchema, elicit);
  const transport = new StreamableHTTPClientTransport(new URL(`${stack.worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  clients.push(client);
  await client.listTools(); // the SDK learns each tool's execution.taskSupport from the list
  return client;
}

async function drain(stream) {
  const messages = [];
  for await (const m of stream) messages.push(m);
  return messages;
}

test("a task-augmented call is created, polled and its result fetched, by the SDK's task API", async () => {
  const client = await connect(alice);
  assert.equal(client.getServerCapabilities().tasks?.requests?.tools?.call !== undefined, true);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.find((t) => t.name === "slow_compute").execution, { taskSupport: "optional" });
  assert.equal(tools.find((t) => t.name === "greet").execution, undefined);

  const messages = await drain(client.experimental.tasks.callToolStream(
    { name: "slow_compute", arguments: { seconds: 1, label: "v1" } }, undefined, { task: { ttl: 120000 } }));
  const types = messages.map((m) => m.type);
  assert.equal(types[0], "taskCreated", JSON.stringify(messages));
  assert.equal(types.at(-1), "result", JSON.stringify(messages.at(-1)));
  const created = messages[0].task;
  assert.equal(created.status, "working");
  assert.equal(created.ttl, 120000);
  const result = messages.at(-1).result;
  assert.match(result.content[0].text, /Computed v1 after 1 second/);
  assert.deepEqual(result._meta[RELATED], { taskId: created.taskId });

  const got = await client.experimental.tasks.getTask(created.taskId);
  assert.equal(got.status, "completed");
  const listed = await client.experimental.tasks.listTasks();
  assert.ok(listed.tasks.some((t) => t.taskId === created.taskId), JSON.stringify(listed));

  // Another user: not found on every task method, and an empty list.
  const other = await connect(bob);
  for (const call of [() => other.experimental.tasks.getTask(created.taskId),
    () => other.experimental.tasks.getTaskResult(created.taskId),
    () => other.experimental.tasks.cancelTask(created.taskId)]) {
    await assert.rejects(call, (e) => e.code === -32602);
  }
  assert.equal((await other.experimental.tasks.listTasks()).tasks.some((t) => t.taskId === created.taskId), false);
  assert.equal((await client.experimental.tasks.getTask(created.taskId)).status, "completed", "untouched");
});

test("a task that needs input is answered inside tasks/result, on the held session's stream", async () => {
  const asked = [];
  const client = await connect(alice, { elicitation: {} }, async (request) => {
    asked.push(request.params);
    return { action: "accept", content: { name: "Ada" } };
  });
  const messages = await drain(client.experimental.tasks.callToolStream({ name: "test_tool_with_task", arguments: {} }));
  const last = messages.at(-1);
  assert.equal(last.type, "result", JSON.stringify(messages));
  assert.match(last.result.content[0].text, /Hello, Ada!/);
  assert.equal(asked.length, 1);
  const taskId = messages[0].task.taskId;
  assert.deepEqual(asked[0]._meta?.[RELATED], { taskId }, "the elicitation names its task");
  assert.ok(messages.some((m) => m.type === "taskStatus" && m.task.status === "input_required"));
});

test("a running task is cancelled once; a second cancel and a plain call of a task-only tool are refused", async () => {
  const client = await connect(alice);
  const created = await client.request({ method: "tools/call", params: { name: "slow_compute",
    arguments: { seconds: 30, label: "cancelled" }, task: {} } }, CreateTaskResultSchema);
  const cancelled = await client.experimental.tasks.cancelTask(created.task.taskId);
  assert.equal(cancelled.status, "cancelled");
  await assert.rejects(client.experimental.tasks.cancelTask(created.task.taskId), (e) => e.code === -32602);
  await assert.rejects(client.experimental.tasks.getTaskResult(created.task.taskId), (e) => e.code === -32600);
  // A plain call of a task-only tool, and a task of a tool that never runs as one: -32601.
  const plain = { method: "tools/call", params: { name: "failing_job", arguments: {} } };
  await assert.rejects(client.request(plain, CallToolResultSchema), (e) => e.code === -32601);
  const forbidden = { method: "tools/call", params: { name: "greet", arguments: { name: "x" }, task: {} } };
  await assert.rejects(client.request(forbidden, CreateTaskResultSchema), (e) => e.code === -32601);
});
