// /mcp on workerd, driven by the official MCP TypeScript SDK client, plus raw requests for the
// stateless 2026-07-28 era and for every kind of bad input.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { d1, EXAMPLES_BUILD, TEST_WEBHOOK_SECRET } from "./harness.mjs";
import { envelope, objectFor, deliver } from "../../scripts/stripe-event.mjs";
import { startStack } from "./stack.mjs";

let stack;
let worker;
let client;
let token;
before(async () => {
  stack = await startStack({ name: "mcp", script: EXAMPLES_BUILD, vars: { MCP_ALLOWED_ORIGINS: "https://app.example.com" } });
  worker = stack.worker;
  token = await stack.token();
  client = new Client({ name: "mkit-e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  }));
});
after(async () => {
  await client?.close();
  await stack?.stop();
});

const post = (body, headers = {}) =>
  fetch(`${worker.url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

test("the SDK client negotiates 2025-11-25 and sees the server's capabilities", () => {
  assert.equal(client.getServerVersion().name, "mkit");
  const caps = client.getServerCapabilities();
  assert.ok(caps.tools && caps.resources && caps.prompts && caps.completions && caps.logging);
});

test("tools/list shows the shipped tools with schemas, annotations and the paid marker", async () => {
  const { tools } = await client.listTools();
  // The shipped tools come first, in registration order; the fixtures build (EXAMPLES_BUILD) adds
  // the conformance suite's tools after them.
  assert.deepEqual(tools.map((t) => t.name).slice(0, 3), ["whoami", "remember", "text_stats"]);
  const paid = tools.find((t) => t.name === "text_stats");
  assert.deepEqual(paid._meta, { "mkit/entitlement": "pro" });
  assert.equal(paid.annotations.readOnlyHint, true);
  assert.equal(paid.inputSchema.type, "object");
  assert.deepEqual(paid.inputSchema.required, ["text"]);
  assert.equal(paid.outputSchema.type, "object");
});

test("every tool schema is standard JSON Schema: Ajv strict compiles it, the SDK lists and validates without a warning", async () => {
  const warnings = [];
  const saved = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  let tools;
  const fresh = new Client({ name: "mkit-e2e-schemas", version: "1.0.0" });
  try {
    await fresh.connect(new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    ({ tools } = await fresh.listTools());
    // Calls compile and run the SDK's validator of each tool's outputSchema.
    await fresh.callTool({ name: "whoami", arguments: {} });
    await fresh.callTool({ name: "text_stats", arguments: { text: "a b" } });
  } finally {
    console.warn = saved;
    await fresh.close();
  }
  assert.deepEqual(warnings, [], "the SDK warned");
  // The shipped tools (the fixtures build adds the conformance suite's, whose schemas are the
  // suite's own).
  const shipped = tools.filter((t) => ["whoami", "remember", "text_stats"].includes(t.name));
  assert.equal(shipped.length, 3);
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
  addFormats(ajv);
  for (const t of shipped) {
    for (const [which, schema] of [["inputSchema", t.inputSchema], ["outputSchema", t.outputSchema]]) {
      if (!schema) continue;
      assert.doesNotThrow(() => ajv.compile(schema), `${t.name} ${which}: ${JSON.stringify(schema)}`);
    }
  }
  assert.ok(shipped.every((t) => !JSON.stringify(t).includes('"format":"uint')), "no schemars formats");
});

test("tools/call returns structured content validated by the SDK against outputSchema", async () => {
  const who = await client.callTool({ name: "whoami", arguments: {} });
  assert.equal(who.isError, false);
  assert.equal(who.structuredContent.protocol_version, "2025-11-25");
  assert.equal(who.structuredContent.sub, "mkit-test", "the token's subject reaches the tool");
  assert.equal(who.structuredContent.client_id, "mkit-test");
  assert.deepEqual(who.structuredContent.scopes, ["mcp", "tools:read", "notes"]);
  // The paid tool: refused until the ledger grants `pro`; the SDK accepts the error's structured content.
  const unpaid = await client.callTool({ name: "text_stats", arguments: { text: "One two. Three!" } });
  assert.equal(unpaid.isError, true);
  assert.deepEqual(unpaid.structuredContent, { error: "payment_required", entitlement: "pro", upgrade_url: null, checkout_url: null });
  const grant = envelope("customer.subscription.created", objectFor("customer.subscription.created", { user: "mkit-test" }));
  assert.equal((await deliver(worker.url, JSON.stringify(grant), TEST_WEBHOOK_SECRET)).status, 200);
  const stats = await client.callTool({ name: "text_stats", arguments: { text: "One two. Three!" } });
  assert.deepEqual(stats.structuredContent, { characters: 15, words: 3, sentences: 2, unique_words: 3, reading_seconds: 1 });
  const bad = await client.callTool({ name: "text_stats", arguments: { txt: "typo" } });
  assert.equal(bad.isError, true, "schema violations are tool errors the model can read");
  assert.match(bad.content[0].text, /txt|text/);
});

test("the remember tool writes to and reads from D1", async () => {
  const first = await client.callTool({ name: "remember", arguments: { note: "buy milk" } });
  assert.equal(first.isError, false);
  assert.equal(first.structuredContent.stored, true);
  const second = await client.callTool({ name: "remember", arguments: { note: "call Ana" } });
  assert.deepEqual(second.structuredContent.notes.map((n) => n.text), ["call Ana", "buy milk"]);
  const listed = await client.callTool({ name: "remember", arguments: {} });
  assert.equal(listed.structuredContent.stored, false);
  const rows = await d1(worker, "SELECT owner, text FROM notes ORDER BY id");
  assert.deepEqual(rows, [{ owner: "mkit-test", text: "buy milk" }, { owner: "mkit-test", text: "call Ana" }]);
});

test("the remember tool keeps a user's latest 100 notes, and forgets the oldest (#28 item 5)", async () => {
  const { access_token: nora } = await stack.issuer.userTokens({ user: "nora-notes" });
  const call = (note) => fetch(`${stack.worker.url}/mcp`, { method: "POST", headers: { "content-type": "application/json",
    accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18", authorization: `Bearer ${nora}` },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "remember", arguments: { note } } }) });
  for (let i = 0; i < 103; i++) assert.equal((await call(`note ${i}`)).status, 200);
  const rows = await d1(stack.worker, "SELECT text FROM notes WHERE owner = 'nora-notes' ORDER BY id");
  assert.equal(rows.length, 100);
  assert.deepEqual([rows[0].text, rows.at(-1).text], ["note 3", "note 102"]);
});

test("resources, templates, prompts, completion, ping and logging", async () => {
  const { resources } = await client.listResources();
  assert.equal(resources[0].uri, "mkit://about");
  const about = await client.readResource({ uri: "mkit://about" });
  assert.match(about.contents[0].text, /^# mKit/);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.equal(resourceTemplates[0].uriTemplate, "mkit://tools/{name}");
  const doc = await client.readResource({ uri: "mkit://tools/whoami" });
  assert.equal(JSON.parse(doc.contents[0].text).name, "whoami");
  const { prompts } = await client.listPrompts();
  assert.equal(prompts[0].name, "explain_tool");
  const prompt = await client.getPrompt({ name: "explain_tool", arguments: { tool: "remember" } });
  assert.match(prompt.messages[0].content.text, /remember/);
  const done = await client.complete({ ref: { type: "ref/prompt", name: "explain_tool" }, argument: { name: "tool", value: "wh" } });
  assert.deepEqual(done.completion.values, ["whoami"]);
  assert.deepEqual(await client.ping(), {});
  assert.deepEqual(await client.setLoggingLevel("warning"), {});
  await assert.rejects(client.readResource({ uri: "mkit://nope" }), /resource not found/);
});

const stateless = (method, params = {}, headers = {}) => {
  const body = { jsonrpc: "2.0", id: 7, method, params: { ...params, _meta: {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" } } } };
  const name = params.name ?? params.uri;
  return post(body, { "mcp-protocol-version": "2026-07-28", "mcp-method": method, ...(name ? { "mcp-name": name } : {}), ...headers });
};

test("stateless era: server/discover and tools/call without a handshake", async () => {
  const res = await stateless("server/discover");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("mcp-session-id"), null);
  const { result } = await res.json();
  assert.equal(result.resultType, "complete");
  assert.ok(result.supportedVersions.includes("2026-07-28"));
  assert.equal(result._meta["io.modelcontextprotocol/serverInfo"].name, "mkit");
  assert.equal(typeof result.ttlMs, "number");
  const call = await (await stateless("tools/call", { name: "whoami", arguments: {} })).json();
  assert.equal(call.result.structuredContent.protocol_version, "2026-07-28");
  const list = await (await stateless("tools/list")).json();
  assert.equal(list.result.cacheScope, "private");
  const mismatch = await stateless("tools/call", { name: "whoami" }, { "mcp-name": "text_stats" });
  assert.equal(mismatch.status, 400);
  assert.equal((await mismatch.json()).error.code, -32020);
  const gone = await stateless("ping");
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).error.code, -32601);
  const old = await (await post({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: {
    "io.modelcontextprotocol/protocolVersion": "1999-01-01", "io.modelcontextprotocol/clientCapabilities": {} } } },
  { "mcp-protocol-version": "1999-01-01", "mcp-method": "tools/list" })).json();
  assert.equal(old.error.code, -32022);
  assert.equal(old.error.data.requested, "1999-01-01");
});

test("every kind of bad input gets its status and code, never a 5xx", async () => {
  const cases = [
    ["invalid JSON", () => post("{oops"), 400, -32700],
    ["wrong shape", () => post({ jsonrpc: "2.0", id: 1 }), 400, -32600],
    ["batch under 2025-11-25", () => post([{ jsonrpc: "2.0", id: 1, method: "ping" }], { "mcp-protocol-version": "2025-11-25" }), 400, -32600],
    ["unknown method", () => post({ jsonrpc: "2.0", id: 1, method: "nope" }, { "mcp-protocol-version": "2025-11-25" }), 200, -32601],
    ["bad params", () => post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: 3 } }, { "mcp-protocol-version": "2025-11-25" }), 200, -32602],
    ["unsupported version header", () => post({ jsonrpc: "2.0", id: 1, method: "ping" }, { "mcp-protocol-version": "2099-01-01" }), 400, -32600],
    ["oversize body", () => post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(1024 * 1024) } })), 413, -32600],
    ["not acceptable", () => post({ jsonrpc: "2.0", id: 1, method: "ping" }, { accept: "text/html" }), 406, -32600],
    ["foreign origin", () => post({ jsonrpc: "2.0", id: 1, method: "ping" }, { origin: "https://evil.example" }), 403, -32600],
  ];
  for (const [what, send, status, code] of cases) {
    const res = await send();
    assert.equal(res.status, status, what);
    assert.equal((await res.json()).error.code, code, what);
  }
  // This build holds sessions (its tools ask the client): GET and DELETE need a token and a
  // session id (tests/e2e/sessions.test.mjs); a release build without asking tools answers 405
  // (hardening.test.mjs).
  for (const method of ["GET", "DELETE"]) {
    assert.equal((await fetch(`${worker.url}/mcp`, { method })).status, 401, method);
    const res = await fetch(`${worker.url}/mcp`, { method, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 400, method);
    assert.match((await res.json()).error.message, /Mcp-Session-Id is required/);
  }
  const note = await post({ jsonrpc: "2.0", method: "notifications/initialized" });
  assert.equal(note.status, 202);
  assert.equal(await note.text(), "");
});

test("CORS: preflight and responses for an allowed origin only", async () => {
  const pre = await fetch(`${worker.url}/mcp`, { method: "OPTIONS", headers: {
    origin: "https://app.example.com", "access-control-request-method": "POST" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example.com");
  assert.match(pre.headers.get("access-control-allow-headers"), /Mcp-Protocol-Version/);
  assert.match(pre.headers.get("access-control-expose-headers"), /WWW-Authenticate/);
  const res = await post({ jsonrpc: "2.0", id: 1, method: "ping" }, { origin: "https://app.example.com" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example.com");
  const denied = await fetch(`${worker.url}/mcp`, { method: "OPTIONS", headers: { origin: "https://evil.example" } });
  assert.equal(denied.status, 403);
});
