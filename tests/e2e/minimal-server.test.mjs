// docs/minimal-server.md, built as written (#29): a seller's second, minimal crate (one free tool,
// mKit a resource server only) from the page's blocks marked `<!-- minimal: NAME -->`. A block
// named after a file is that file; the others are run with bash. The only change to the page's
// text is its placeholder, /path/to/mkit, which becomes this checkout; and, to run beside other
// tests, the ports (the local issuer is tests/e2e/issuer.mjs on a free port, standing in for
// `make dev AUTH_SERVER=off`'s, and the Worker's port is a free one; both given to the Worker as
// `.dev.vars` would, over the page's wrangler.jsonc vars).
//
// It builds in a fresh /tmp/minimal-server-* directory with its own Cargo target directory
// (target/minimal-server: warm on a rerun, apart from the template's build), holds the bundle to
// BUDGET_GZIP_KIB, then runs it in workerd (wrangler dev, as the harness runs every worker):
// /healthz, the 401 challenge, the official MCP TypeScript SDK client listing and calling the tool,
// and the page's own curl call with a token from `make token`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { block } from "../walk/docs.mjs";
import { freePort, ROOT, startWorker } from "./harness.mjs";
import { startIssuer } from "./issuer.mjs";
import { parseJsonc } from "../../scripts/jsonc.mjs";
import { undeployable } from "../../scripts/bundle-check.mjs";
import { ISSUER_PORT } from "../../scripts/dev-issuer.mjs";

const DOC = "docs/minimal-server.md";
const PLACEHOLDER = "/path/to/mkit";
/** The page's files, each written from the block of the same name. */
const FILES = ["Cargo.toml", "src/lib.rs", "src/greet.rs", "wrangler.jsonc"];
/**
 * The minimal server's bundle, gzip: index_bg.wasm plus index.js. Measured 2026-12-05, with the
 * kit's four features off: 220.2 + 7.5 = 227.7 KiB (the template's build/index_bg.wasm: 453.7
 * KiB). The budget is issue #29's goal, so that the kit's growth is a decision
 * (docs/minimal-server.md states it).
 */
const BUDGET_GZIP_KIB = 250;

const run = promisify(execFile);
const doc = (name) => block(ROOT, DOC, name, "minimal").replaceAll(PLACEHOLDER, ROOT);
const kib = (bytes) => Math.round(bytes / 102.4) / 10;
/** A file's size as `gzip -c FILE | wc -c` counts it (GNU gzip packs wasm tighter than Node's zlib). */
const gzipSize = (path) => execFileSync("gzip", ["-c", path], { maxBuffer: 64 << 20 }).length;

/** Runs a block's text with bash in `cwd`; its output goes to `log`. Returns stdout. */
async function bash(script, cwd, { env = {}, log, timeout = 120_000 } = {}) {
  try {
    const { stdout, stderr } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd, timeout,
      env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    if (log) writeFileSync(log, stdout + stderr);
    return stdout;
  } catch (e) {
    if (log) writeFileSync(log, `${e.stdout ?? ""}${e.stderr ?? ""}`);
    const tail = `${e.stdout ?? ""}${e.stderr ?? ""}`.split("\n").slice(-40).join("\n");
    throw new Error(`bash in ${cwd} failed (${e.code ?? e.signal}):\n${script}\n---\n${tail}`);
  }
}

let tmp;
let dir;
let port;
let issuer;
let worker;
let built;
let resource;
const started = performance.now();

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "minimal-server-"));
  // The setup block makes the directory and enters it: the files go where it `cd`s.
  const setup = doc("setup");
  const into = setup.match(/\bcd (\S+)/)?.[1];
  assert.ok(into, "the setup block enters the server's directory");
  await bash(setup, tmp);
  dir = join(tmp, into);
  for (const file of FILES) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), doc(file));
  }
  await bash(doc("dev-vars"), dir);

  const buildStart = performance.now();
  await bash(doc("build"), dir, { env: { CARGO_TARGET_DIR: join(ROOT, "target", "minimal-server") },
    log: join(tmp, "build.log"), timeout: 20 * 60_000 });
  const [wasm, js] = ["index_bg.wasm", "index.js"].map((f) => join(dir, "build", f));
  built = { seconds: (performance.now() - buildStart) / 1000, wasmRaw: readFileSync(wasm).length,
    wasmText: readFileSync(wasm).toString("latin1"), wasmGzip: gzipSize(wasm), jsGzip: gzipSize(js) };

  port = Number(doc("run").match(/--port (\d+)/)?.[1]);
  assert.ok(port, "the run block names the port");
  const local = await freePort();
  resource = `http://127.0.0.1:${local}/mcp`;
  issuer = await startIssuer({ resource });
  // What the page's .dev.vars holds (MKIT_SECRET), and the local issuer and URL over the page's vars.
  const devVars = Object.fromEntries(readFileSync(join(dir, ".dev.vars"), "utf8").trim().split("\n")
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  worker = await startWorker({ name: "minimal-server", config: join(dir, "wrangler.jsonc"), migrate: false, port: local,
    vars: { ...devVars, OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource } });
});

after(async () => {
  await worker?.stop();
  await issuer?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  console.log(`minimal server: whole test ${((performance.now() - started) / 1000).toFixed(0)} s`);
});

test("the page agrees with the template: worker version, compatibility date, the local issuer", () => {
  const manifest = readFileSync(join(ROOT, "Cargo.toml"), "utf8");
  const pin = (text) => text.match(/^worker = "([^"]+)"/m)?.[1];
  assert.equal(pin(doc("Cargo.toml")), pin(manifest), "worker is pinned as the template pins it");
  const page = parseJsonc(doc("wrangler.jsonc")).value;
  const template = parseJsonc(readFileSync(join(ROOT, "wrangler.jsonc"), "utf8")).value;
  assert.equal(page.compatibility_date, template.compatibility_date);
  assert.equal(page.vars.OAUTH_ISSUER, `http://127.0.0.1:${ISSUER_PORT}/`, "the issuer make dev runs");
  assert.equal(page.vars.MCP_RESOURCE, `http://127.0.0.1:${port}/mcp`, "the port the run block listens on");
  assert.equal(page.durable_objects, undefined, "no Durable Objects");
  assert.equal(page.triggers, undefined, "no cron trigger");
});

test("the bundle is a deployable release build within its budget", () => {
  const total = built.wasmGzip + built.jsGzip;
  const template = join(ROOT, "build", "index_bg.wasm");
  const beside = existsSync(template) ? `; the template's build/index_bg.wasm: ${kib(gzipSize(template))} KiB gzip` : "";
  console.log(`minimal server bundle: index_bg.wasm ${kib(built.wasmGzip)} KiB gzip (${kib(built.wasmRaw)} KiB raw), ` +
    `index.js ${kib(built.jsGzip)} KiB gzip; ${kib(total)} KiB gzip in all, budget ${BUDGET_GZIP_KIB} KiB${beside}; ` +
    `built in ${built.seconds.toFixed(0)} s`);
  assert.equal(undeployable(join(dir, "build", "index.js")), null);
  assert.ok(readFileSync(join(ROOT, DOC), "utf8").includes(`to ${BUDGET_GZIP_KIB} KiB gzip`), "the page states the budget");
  assert.ok(kib(total) <= BUDGET_GZIP_KIB, `${kib(total)} KiB gzip is over the budget of ${BUDGET_GZIP_KIB} KiB`);
});

test("/healthz: ok with only OAUTH_ISSUER, MCP_RESOURCE and MKIT_SECRET, a resource server", async () => {
  const res = await fetch(`${worker.url}/healthz`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.status, "ok");
  assert.deepEqual(body.checks.config, { OAUTH_ISSUER: "ok", MCP_RESOURCE: "ok", MKIT_SECRET: "ok" });
  assert.equal(body.checks.db, "ok");
  assert.equal(body.checks.jwks, "ok", "the issuer's keys were fetched");
  assert.deepEqual(body.checks.auth, { mode: "resource_server" });
});

test("/mcp without a token: 401 and a challenge naming the protected resource metadata, which names the issuer", async () => {
  const res = await fetch(`${worker.url}/mcp`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
  assert.equal(res.status, 401);
  const metadata = `${worker.url}/.well-known/oauth-protected-resource/mcp`;
  assert.match(res.headers.get("www-authenticate") ?? "", new RegExp(`^Bearer .*resource_metadata="${metadata}"`));
  const prm = await (await fetch(metadata)).json();
  assert.equal(prm.resource, resource);
  assert.deepEqual(prm.authorization_servers, [issuer.url]);
  assert.equal(prm.resource_name, "Hello MCP");
});

test("no authorization server and no payments: their endpoints are not there, nor their code", async () => {
  for (const [method, path] of [["GET", "/.well-known/oauth-authorization-server"], ["POST", "/stripe/webhook"]]) {
    const res = await fetch(`${worker.url}${path}`, { method, body: method === "POST" ? "{}" : undefined });
    await res.arrayBuffer();
    assert.equal(res.status, 404, `${method} ${path}`);
  }
  // Strings only the webhook (its signature header, an event it handles) and the authorization
  // server's metadata hold: the features are off, so LTO dropped that code.
  for (const s of ["Stripe-Signature", "checkout.session.completed", "registration_endpoint"]) {
    assert.ok(!built.wasmText.includes(s), `index_bg.wasm holds ${JSON.stringify(s)}`);
  }
});

test("the MCP TypeScript SDK client, with the issuer's token, lists the one tool and calls it", async () => {
  const token = await issuer.clientCredentialsToken();
  const client = new Client({ name: "minimal-server-e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    assert.equal(client.getServerVersion().name, "hello-mcp");
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ["greet"]);
    assert.deepEqual(tools[0].inputSchema.required, ["name"]);
    const result = await client.callTool({ name: "greet", arguments: { name: "Ada" } });
    assert.equal(result.isError, false);
    assert.deepEqual(result.structuredContent, { greeting: "Hello, Ada!" });
  } finally {
    await client.close();
  }
});

test("the page's call: make token, then curl", async () => {
  const call = doc("call").replaceAll(`127.0.0.1:${port}`, `127.0.0.1:${worker.port}`)
    .replaceAll(`PORT=${port}`, `PORT=${worker.port}`);
  const out = JSON.parse(await bash(call, dir));
  assert.equal(out.result?.isError, false, JSON.stringify(out));
  assert.deepEqual(JSON.parse(out.result.content[0].text), { greeting: "Hello, Ada!" }, "the answer the page shows");
});
