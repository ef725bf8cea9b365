// Held sessions on the 2025 wire (issue 18), on workerd with the fixtures build, whose tools ask
// the client: the official SDK client answers an elicitation and a sampling request that a tool
// sends mid-call (the answer comes back on a later POST and reaches the waiting call through the
// caller's Durable Object); a subscription receives an update announced from another request;
// another user cannot use, read or end a session; DELETE ends it; a dropped GET stream resumes
// with Last-Event-ID. On 2026-07-28, subscriptions/listen carries the same updates, driven raw
// and by the official Python SDK's Client.listen.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { EXAMPLES_BUILD, ROOT } from "./harness.mjs";
import { sseEvents } from "./sse.mjs";
import { startStack } from "./stack.mjs";

const WATCHED = "test://watched-resource";
let stack;
let alice;
let bob;
const clients = [];

before(async () => {
  stack = await startStack({ name: "sessions", script: EXAMPLES_BUILD });
  alice = (await stack.issuer.userTokens({ user: "alice" })).access_token;
  bob = (await stack.issuer.userTokens({ user: "bob" })).access_token;
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stack?.stop();
});

const url = () => `${stack.worker.url}/mcp`;

async function connect(token, capabilities, handlers = {}) {
  const client = new Client({ name: "sessions-e2e", version: "1.0.0" }, { capabilities });
  if (handlers.elicit) client.setRequestHandler(ElicitRequestSchema, handlers.elicit);
  if (handlers.sample) client.setRequestHandler(CreateMessageRequestSchema, handlers.sample);
  const transport = new StreamableHTTPClientTransport(new URL(url()), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

const raw = (token, body, headers = {}) => fetch(url(), {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2025-11-25", authorization: `Bearer ${token}`, ...headers },
  body: JSON.stringify(body),
});

async function rawSession(token) {
  const res = await raw(token, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25",
    capabilities: { elicitation: {} }, clientInfo: { name: "raw", version: "1" } } });
  assert.equal(res.status, 200);
  const id = res.headers.get("mcp-session-id");
  assert.ok(id, "a held session id");
  assert.equal((await res.json()).result.capabilities.resources.subscribe, true);
  return id;
}

/** Opens the session's GET stream; `next(n)` resolves with the next `n` events ({id, data}). */
async function openStream(token, session, lastEventId) {
  const abort = new AbortController();
  const res = await fetch(url(), { signal: abort.signal, headers: { accept: "text/event-stream",
    authorization: `Bearer ${token}`, "mcp-session-id": session, ...(lastEventId ? { "last-event-id": lastEventId } : {}) } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /text\/event-stream/);
  return { ...sseEvents(res), close: () => abort.abort() };
}

/** Announces a change of the watched resource from a 2026-07-28 request: no session at all. */
async function update(token) {
  const res = await fetch(url(), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call", "mcp-name": "test_update_watched_resource", authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "test_update_watched_resource",
      arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {} } } }),
  });
  assert.equal(res.status, 200, await res.clone().text());
}

test("a tool elicits and samples mid-call on the 2025 wire; the answers reach it through the Durable Object", async (t) => {
  const asked = [];
  const { client, transport } = await connect(alice, { elicitation: {}, sampling: {} }, {
    elicit: async (req) => {
      asked.push(req.params);
      return { action: "accept", content: { username: "ann", email: "ann@example.com" } };
    },
    sample: async (req) => {
      asked.push(req.params);
      return { role: "assistant", content: { type: "text", text: "Paris" }, model: "m", stopReason: "endTurn" };
    },
  });
  assert.ok(transport.sessionId, "the server issued a session id");
  const started = Date.now();
  const elicited = await client.callTool({ name: "test_elicitation", arguments: { message: "Who are you?" } });
  t.diagnostic(`test_elicitation: ${JSON.stringify(elicited)}`);
  assert.equal(asked[0].message, "Who are you?");
  assert.deepEqual(asked[0].requestedSchema.required, ["username", "email"]);
  assert.match(elicited.content[0].text, /action=accept/);
  assert.match(elicited.content[0].text, /ann@example\.com/);
  const sampled = await client.callTool({ name: "test_sampling", arguments: { prompt: "Capital of France?" } });
  assert.equal(asked[1].messages[0].content.text, "Capital of France?");
  assert.equal(sampled.content[0].text, "LLM response: Paris");
  t.diagnostic(`two calls, each with one round trip to the client: ${Date.now() - started} ms`);
  // A client that declared no sampling is told so, not left waiting.
  const { client: plain } = await connect(alice, { elicitation: {} });
  const refused = await plain.callTool({ name: "test_sampling", arguments: { prompt: "x" } }).catch((e) => e);
  assert.match(String(refused.message ?? JSON.stringify(refused)), /sampling/);
  // A declined elicitation is the tool's to report.
  const { client: decliner } = await connect(alice, { elicitation: {} }, { elicit: async () => ({ action: "decline" }) });
  const declined = await decliner.callTool({ name: "test_elicitation", arguments: { message: "?" } });
  assert.match(declined.content[0].text, /action=decline/);
});

test("a subscription receives the update another request announces, and only the caller's sessions do", async () => {
  const updates = { alice: [], bob: [] };
  for (const [who, token] of [["alice", alice], ["bob", bob]]) {
    const { client } = await connect(token, { elicitation: {} });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates[who].push(n.params.uri));
    await client.subscribeResource({ uri: WATCHED });
  }
  // The SDK opens its GET stream after initialize; give it a moment to be held.
  await new Promise((r) => setTimeout(r, 500));
  await update(alice);
  for (let i = 0; i < 50 && updates.alice.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(updates.alice, [WATCHED]);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(updates.bob, [], "bob's session hears nothing of alice's resources");
});

test("another user cannot use, read or end a session; DELETE ends it; a dropped stream resumes after Last-Event-ID", async () => {
  const session = await rawSession(alice);
  const list = { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} };
  assert.equal((await raw(alice, list, { "mcp-session-id": session })).status, 200);
  assert.equal((await raw(bob, list, { "mcp-session-id": session })).status, 404, "bob presenting alice's id");
  for (const method of ["GET", "DELETE"]) {
    const res = await fetch(url(), { method, headers: { accept: "text/event-stream", authorization: `Bearer ${bob}`,
      "mcp-session-id": session } });
    assert.equal(res.status, 404, `bob's ${method}`);
  }
  const altered = `${session.slice(0, -2)}AA`;
  assert.equal((await raw(alice, list, { "mcp-session-id": altered })).status, 404, "an altered id");

  const subscribe = { jsonrpc: "2.0", id: 3, method: "resources/subscribe", params: { uri: WATCHED } };
  assert.deepEqual((await (await raw(alice, subscribe, { "mcp-session-id": session })).json()).result, {});
  const stream = await openStream(alice, session);
  const [priming] = await stream.next(1);
  assert.equal(priming.data, "");
  await update(alice);
  const [first] = await stream.next(1);
  assert.equal(JSON.parse(first.data).params.uri, WATCHED);
  stream.close();
  await update(alice);
  await update(alice);
  const resumed = await openStream(alice, session, first.id);
  const events = await resumed.next(3);
  assert.deepEqual(events.slice(1).map((e) => JSON.parse(e.data).method), ["notifications/resources/updated",
    "notifications/resources/updated"], "the two missed updates are replayed after the priming event");
  assert.notEqual(events[1].id, first.id);
  resumed.close();

  const del = await fetch(url(), { method: "DELETE", headers: { authorization: `Bearer ${alice}`, "mcp-session-id": session } });
  assert.equal(del.status, 204);
  assert.equal((await raw(alice, list, { "mcp-session-id": session })).status, 404, "ended");
  const gone = await fetch(url(), { headers: { accept: "text/event-stream", authorization: `Bearer ${alice}`,
    "mcp-session-id": session } });
  assert.equal(gone.status, 404);
});

/** A 2026-07-28 request's headers and `_meta`, for `method`. */
function stateless(token, method, id, params) {
  return { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28", "mcp-method": method, authorization: `Bearer ${token}` },
  body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } }) };
}

/** A `subscriptions/listen` POST (2026-07-28): its event stream, and `close` to hang up. */
async function listen(token, notifications, id) {
  const abort = new AbortController();
  const res = await fetch(url(), { ...stateless(token, "subscriptions/listen", id, { notifications }), signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /text\/event-stream/);
  return { ...sseEvents(res), close: () => abort.abort() };
}

const SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId";

test("subscriptions/listen acknowledges what it agreed to, then carries only the caller's updates", async () => {
  const discovered = await (await fetch(url(), stateless(alice, "server/discover", 1, {}))).json();
  assert.equal(discovered.result.capabilities.resources.subscribe, true);
  const stream = await listen(alice, { resourceSubscriptions: [WATCHED, "test://not-announced"], toolsListChanged: true },
    "sub-1");
  const ack = JSON.parse((await stream.next(1))[0].data);
  assert.equal(ack.method, "notifications/subscriptions/acknowledged");
  assert.equal(ack.params._meta[SUBSCRIPTION], "sub-1");
  assert.deepEqual(ack.params.notifications, { resourceSubscriptions: [WATCHED] }, "only what it will send");
  await update(bob);
  await assert.rejects(stream.next(1, 1500), /only 0 of 1/, "bob's update is not alice's");
  await update(alice);
  const updated = JSON.parse((await stream.next(1))[0].data);
  assert.equal(updated.method, "notifications/resources/updated");
  assert.deepEqual(updated.params, { _meta: { [SUBSCRIPTION]: "sub-1" }, uri: WATCHED });
  stream.close();
});

test("subscriptions/listen with nothing mKit sends is acknowledged and closed cleanly", async () => {
  const stream = await listen(alice, { toolsListChanged: true, promptsListChanged: true }, 7);
  const [ack, end] = (await stream.next(2)).map((e) => JSON.parse(e.data));
  assert.deepEqual(ack.params, { _meta: { [SUBSCRIPTION]: 7 }, notifications: {} });
  assert.deepEqual(end, { jsonrpc: "2.0", id: 7, result: { resultType: "complete", _meta: { [SUBSCRIPTION]: 7 } } });
  assert.equal(await stream.ended(), true);
});

test("the official Python SDK's Client.listen receives an update announced by a tool", async () => {
  const child = spawn("python3", [join(ROOT, "tests/e2e/peers/listen_client.py"), WATCHED], {
    env: { ...process.env, PYTHONPATH: join(ROOT, ".tools/python"), MKIT_URL: url(), MKIT_TOKEN: alice },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const code = await new Promise((r) => child.once("exit", r));
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  const out = JSON.parse(stdout.trim().split("\n").at(-1));
  assert.equal(out.protocolVersion, "2026-07-28");
  assert.deepEqual(out.honored.resourceSubscriptions, [WATCHED], "only the resource that announces updates");
  assert.deepEqual(out.event, { type: "ResourceUpdated", uri: WATCHED });
});

test("a caller keeps at most 32 subscriptions/listen streams: the 33rd ends the oldest, cleanly", async () => {
  const open = [];
  for (let i = 0; i < 32; i++) {
    const s = await listen(bob, { resourceSubscriptions: [WATCHED] }, `cap-${i}`);
    await s.next(1);
    open.push(s);
  }
  const newest = await listen(bob, { resourceSubscriptions: [WATCHED] }, "cap-32");
  assert.equal(JSON.parse((await newest.next(1))[0].data).method, "notifications/subscriptions/acknowledged");
  const [end] = (await open[0].next(1)).map((e) => JSON.parse(e.data));
  assert.deepEqual(end, { jsonrpc: "2.0", id: "cap-0", result: { resultType: "complete",
    _meta: { [SUBSCRIPTION]: "cap-0" } } }, "the oldest got its clean end");
  assert.equal(await open[0].ended(), true);
  await update(bob);
  assert.equal(JSON.parse((await open[1].next(1))[0].data).method, "notifications/resources/updated", "the others stay");
  assert.equal(JSON.parse((await newest.next(1))[0].data).method, "notifications/resources/updated");
  for (const s of [...open, newest]) s.close();
});

test("a held session keeps its 4 newest GET streams: a fifth ends the oldest", async () => {
  const session = await rawSession(alice);
  const streams = [];
  for (let i = 0; i < 5; i++) {
    const s = await openStream(alice, session);
    await s.next(1); // the priming event
    streams.push(s);
  }
  assert.equal(await streams[0].ended(), true, "the oldest ended");
  assert.equal(await streams[1].ended(500), false, "the others stay open");
  for (const s of streams) s.close();
});

test("a caller keeps at most 64 held sessions: the 65th ends the oldest, which answers 404 (#28 item 5)", async () => {
  const { access_token: carl } = await stack.issuer.userTokens({ user: "carl-sessions" });
  const ids = [];
  for (let i = 0; i < 65; i++) ids.push(await rawSession(carl));
  const ping = (id) => raw(carl, { jsonrpc: "2.0", id: 2, method: "ping" }, { "mcp-session-id": id });
  assert.equal((await ping(ids[0])).status, 404, "the oldest was ended to make room");
  assert.equal((await ping(ids[1])).status, 200, "the next oldest is kept");
  assert.equal((await ping(ids[64])).status, 200, "the newest works");
});
