// The walk's deploy part (#27): docs/deployment.md's first deploy, run as written in a clean clone,
// against a fake Cloudflare API. Every command comes from a block marked `<!-- walk: NAME -->`
// ("first-deploy", "rehearse"); the walk fills in only the doc's own placeholders (<your issuer>,
// <your subdomain>) and adds to a person's shell only what stands for the operator's world:
//
//   - Cloudflare: the fake API (tests/e2e/fake-cloudflare.mjs), which the real, pinned Wrangler
//     and the scripts reach through CLOUDFLARE_API_BASE_URL, and a home with a stored
//     `wrangler login` (HOME, XDG_CONFIG_HOME); the home links this machine's tool caches
//     (~/.cargo, ~/.rustup, ~/.npm, ~/.npmrc) and git identity, as an operator's own home has them
//     (a made-up identity when this machine has none);
//   - a person typing the Stripe webhook secret at `wrangler secret put`'s prompt (piped in);
//   - `make check`'s world, in checkWorld() below: the deployment as Cloudflare would serve it,
//     which is the clone's release bundle in `wrangler dev --env staging --local-protocol https`
//     with the vars the provisioned wrangler.jsonc gives staging and the secrets the fake received,
//     reached at https://mkit-staging.<subdomain>.workers.dev through a local proxy; and the identity
//     provider at https://127.0.0.1:<port>/. Their certificates come from a CA of the walk's own,
//     trusted through NODE_EXTRA_CA_CERTS (Node and Wrangler's workerd both read it); Node's fetch
//     finds the proxy through HTTPS_PROXY with NODE_USE_ENV_PROXY=1.
//
// Two lines of the first-deploy block are not run: `make test` (this walk is part of it) and
// `wrangler login` (a browser sign-in at Cloudflare; the stored login stands for it).
//
// In order: make provision; make vars (the issuer); the secrets; make secrets; the commit; make
// deploy (a new Worker: `wrangler deploy` applies the Durable Object migration); make check; the
// rehearsal (a gradual make deploy PERCENT=10, wrangler deployments status, make rollback, make
// check); then a release that adds a Durable Object migration and `make deploy` again (`wrangler
// deploy` applies it).
// Every assertion on Cloudflare is on what Wrangler sent to the fake, and on the fake's state.
//
// `make deploy` builds the release worker in the clone (its .tools and Cargo target directory are
// this checkout's, see stranger.mjs): about a minute per commit. No port is fixed: 8787 and 9400
// belong to walk.test.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { block, commands } from "./docs.mjs";
import { cleanClone, removeClone, sh, shellEnv } from "./stranger.mjs";
import { ACCOUNT_ID, cloudflareEnv, startFakeCloudflare } from "../e2e/fake-cloudflare.mjs";
import { freePort } from "../e2e/harness.mjs";
import { parseJsonc } from "../../scripts/jsonc.mjs";
import { kitMigrationsDir, mergeMigrations } from "../../scripts/migrations.mjs";

const DOC = "docs/deployment.md";
const SUBDOMAIN = "acme";
const WEBHOOK_SECRET = "whsec_walk_typed_at_the_prompt";
const STEP = { timeout: 30 * 60_000 };
const LINKED = [".cargo", ".rustup", ".npm", ".npmrc"];

let dir;
let cf;
let world;
let operator;
let worker;

const doc = (name) => commands(block(dir, DOC, name));
/** The doc's placeholders, as this operator fills them in. */
const filled = (line) => line.replaceAll("https://<your issuer>/", world.issuer).replaceAll("<your subdomain>", SUBDOMAIN);
/** The one line of a walked block that starts with `prefix`, filled in. */
function line(name, prefix) {
  const found = doc(name).filter((l) => l.startsWith(prefix));
  assert.equal(found.length, 1, `${DOC} <!-- walk: ${name} -->: one line starting with \`${prefix}\`, found ${found.length}`);
  return filled(found[0]);
}
/** Runs a documented line in the clone, in the operator's world; fails the test on a non-zero exit. */
async function run(command, { env = {}, expect = 0 } = {}) {
  const r = await sh(dir, command, { env: { ...operator, ...env }, timeoutMs: 25 * 60_000 });
  assert.equal(r.code, expect, `\`${command}\` exited ${r.code}:\n${r.out.slice(-6000)}\n${r.err.slice(-6000)}`);
  return { ...r, all: r.out + r.err };
}
/** The requests Wrangler (and the scripts) sent to the fake during `fn`. */
async function during(fn) {
  const from = cf.requests.length;
  const result = await fn();
  return { ...result, sent: cf.requests.slice(from) };
}
const sent = (reqs, method, path) => reqs.filter((r) => r.method === method && r.path === path);
const scriptPath = () => `/accounts/${ACCOUNT_ID}/workers/scripts/${worker}`;
/** The metadata part of a multipart Worker upload Wrangler sent. */
async function uploadMetadata(req) {
  const form = await new Response(req.raw, { headers: { "content-type": req.headers["content-type"] } }).formData();
  const meta = form.get("metadata");
  return JSON.parse(typeof meta === "string" ? meta : await meta.text());
}
const config = () => parseJsonc(readFileSync(join(dir, "wrangler.jsonc"), "utf8")).value;
const head = () => execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();

/** An operator's home: a stored `wrangler login`, and this machine's tools and git identity. */
function operatorHome() {
  const home = mkdtempSync(join(tmpdir(), "mkit-walk-operator-"));
  for (const kept of LINKED) {
    if (existsSync(join(homedir(), kept))) symlinkSync(join(homedir(), kept), join(home, kept));
  }
  const identity = (key, otherwise) => {
    try { return execFileSync("git", ["config", "--global", "--get", key], { encoding: "utf8" }).trim() || otherwise; } catch { return otherwise; }
  };
  writeFileSync(join(home, ".gitconfig"),
    `[user]\n\tname = ${identity("user.name", "Operator")}\n\temail = ${identity("user.email", "operator@example.com")}\n`);
  const env = cloudflareEnv({ cf, home, login: "oauth" });
  return Object.fromEntries(["HOME", "XDG_CONFIG_HOME", "CLOUDFLARE_API_BASE_URL"].map((k) => [k, env[k]]));
}

before(async () => {
  dir = cleanClone();
  console.log(`walk: clean clone in ${dir}`);
  cf = await startFakeCloudflare({ subdomain: SUBDOMAIN });
  world = await checkWorld();
  operator = operatorHome();
});
after(async () => {
  await world?.stop();
  await cf?.stop();
  if (operator) {
    // The links to this machine's tool caches first, by themselves: never what they point at.
    for (const kept of LINKED) rmSync(join(operator.HOME, kept), { force: true });
    rmSync(operator.HOME, { recursive: true, force: true });
  }
  removeClone(dir);
});

test("the first-deploy block is the walk's path: every line, in the doc's order", () => {
  // The walk runs the lines by what they start with; this keeps it to the doc's order and makes
  // a line the walk does not know (a new step in the doc) fail here until the walk runs it too.
  const path = [/^make test$/, /^scripts\/bin\/node node_modules\/\.bin\/wrangler login$/, /^make provision ENV=staging$/,
    /^make vars ENV=staging NAME=OAUTH_ISSUER VALUE=/, /\| scripts\/bin\/node node_modules\/\.bin\/wrangler secret put MKIT_SECRET --env staging$/,
    /^scripts\/bin\/node node_modules\/\.bin\/wrangler secret put STRIPE_WEBHOOK_SECRET --env staging$/, /^make secrets ENV=staging$/,
    /^git commit /, /^make deploy ENV=staging$/, /^make check URL=/];
  const lines = doc("first-deploy");
  assert.ok(lines.length === path.length && lines.every((l, i) => path[i].test(l)),
    `${DOC} <!-- walk: first-deploy -->, line by line against the walk's path:\n${lines.map((l, i) => `${path[i]?.test(l) ? "ok  " : "NEW "}${l}`).join("\n")}`);
});

test("make provision ENV=staging: the D1 database is created and wrangler.jsonc filled in", STEP, async () => {
  const r = await during(() => run(line("first-deploy", "make provision")));
  const staging = config().env.staging;
  worker = staging.name;
  const dbName = staging.d1_databases[0].database_name;
  const db = cf.databases.find((d) => d.name === dbName);
  assert.ok(db, `the fake has ${dbName}:\n${r.all}`);
  assert.equal(sent(r.sent, "POST", `/accounts/${ACCOUNT_ID}/d1/database`).length, 1, "wrangler d1 create");
  assert.equal(staging.d1_databases[0].database_id, db.uuid);
  const url = `https://${worker}.${SUBDOMAIN}.workers.dev`;
  assert.equal(staging.vars.MCP_RESOURCE, `${url}/mcp`);
  assert.match(r.all, new RegExp(`make check URL=${url.replaceAll(".", "\\.")}`), "provision prints the make check URL");
  assert.ok(filled(doc("first-deploy").find((l) => l.startsWith("make check"))).endsWith(`URL=${url}`),
    "the doc's make check URL is the one provision printed");
  assert.match(r.all, /fill REPLACE_WITH_STAGING_ISSUER \(REPLACE_WITH_STAGING_ISSUER: make vars ENV=staging NAME=OAUTH_ISSUER/,
    "provision names the doc's next step for the issuer");
  assert.equal(sent(r.sent, "GET", `/accounts/${ACCOUNT_ID}/workers/scripts`).length, 1, "the account's Workers were looked at");
  const ids = staging.ratelimits.map((x) => x.namespace_id);
  assert.ok(ids.every((id) => /^[1-9]\d{8}$/.test(id)) && new Set(ids).size === ids.length, `rate-limit namespaces of its own: ${ids}`);
});

test("make vars ENV=staging NAME=OAUTH_ISSUER: the issuer set in wrangler.jsonc, comments kept", STEP, async () => {
  const r = await run(line("first-deploy", "make vars"));
  const staging = config().env.staging;
  assert.equal(staging.vars.OAUTH_ISSUER, world.issuer);
  assert.match(r.all, /set OAUTH_ISSUER = .* \(was the placeholder REPLACE_WITH_STAGING_ISSUER\)/);
  assert.doesNotMatch(JSON.stringify(staging), /REPLACE_WITH_/, "no placeholder left in env.staging");
  assert.match(readFileSync(join(dir, "wrangler.jsonc"), "utf8"), /^\/\/ mKit's Wrangler configuration/, "comments kept");
});

test("the secrets, as the doc sets them: Wrangler creates the Worker and puts both; make secrets says set", STEP, async () => {
  const puts = doc("first-deploy").filter((l) => l.includes("wrangler secret put"));
  assert.equal(puts.length, 2, puts.join("\n"));
  for (const put of puts) {
    // A line without a pipe prompts for the value: the person types it.
    await run(put.includes("|") ? put : `printf '%s\\n' '${WEBHOOK_SECRET}' | ${put}`);
  }
  const s = cf.scripts.get(worker);
  assert.ok(s, "the first secret put created the Worker (Wrangler's createDraftWorker)");
  assert.match(s.secrets.get("MKIT_SECRET").text, /^[0-9a-f]{64}$/, "openssl rand -hex 32, trailing newline trimmed");
  assert.equal(s.secrets.get("STRIPE_WEBHOOK_SECRET").text, WEBHOOK_SECRET);
  assert.equal(s.migration_tag, null, "the draft Worker has no Durable Object migration yet");

  const r = await run(line("first-deploy", "make secrets"));
  assert.match(r.all, /^set\s+MKIT_SECRET \(required\)$/m);
  assert.match(r.all, /^set\s+STRIPE_WEBHOOK_SECRET \(required\)$/m);
  assert.doesNotMatch(r.all, /MISSING/);
});

test("the commit, then make deploy: D1 migrations, then `wrangler deploy` applies the Durable Object migration", STEP, async () => {
  await run(line("first-deploy", "git commit"));
  const commit = head();
  assert.equal(execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: dir, encoding: "utf8" }), "",
    "the commit left no tracked change: the build is clean");
  const dbId = config().env.staging.d1_databases[0].database_id;
  const r = await during(() => run(line("first-deploy", "make deploy")));
  assert.match(r.all, /has a pending Durable Object migration \(none applied yet; wrangler\.jsonc ends at v1-mcp-objects\)/);

  // The kit's migrations (the mkit crate's, as Cargo finds it in the clone) and the server's own.
  const files = mergeMigrations([kitMigrationsDir(dir), join(dir, "migrations")]).map((f) => f.name);
  assert.ok(files.includes("0001_init.sql") && files.includes("0002_notes.sql"), `the kit's and the server's: ${files}`);
  assert.deepEqual(cf.d1.get(dbId).applied, files, "every D1 migration, the kit's and the server's, in order");
  const put = sent(r.sent, "PUT", scriptPath());
  assert.equal(put.length, 1, "one script upload: wrangler deploy");
  assert.equal(sent(r.sent, "POST", `${scriptPath()}/versions`).length, 0, "no versions upload");
  const lastD1 = r.sent.findLastIndex((q) => q.path.endsWith(`/d1/database/${dbId}/query`));
  assert.ok(lastD1 < r.sent.indexOf(put[0]), "the schema is migrated before the upload");

  const s = cf.scripts.get(worker);
  assert.equal(s.migration_tag, "v1-mcp-objects");
  assert.deepEqual(s.migrations.map((m) => [m.old_tag, m.new_tag]), [[null, "v1-mcp-objects"]]);
  const version = s.versions.at(-1);
  assert.deepEqual(s.deployments[0].versions, [{ version_id: version.id, percentage: 100 }]);
  assert.ok(version.modules.some((m) => m.endsWith(".wasm")), `the release bundle was uploaded: ${version.modules}`);
  assert.equal(version.annotations["workers/tag"], commit, "the version is tagged with the clean commit");
  assert.deepEqual([...s.secrets.keys()].sort(), ["MKIT_SECRET", "STRIPE_WEBHOOK_SECRET"], "the secrets are kept");
  const metadata = await uploadMetadata(put[0]);
  assert.ok(metadata.keep_bindings?.includes("secret_text"), `the upload keeps the secrets put before it: ${metadata.keep_bindings}`);
  const limits = metadata.bindings.filter((b) => b.type === "ratelimit").map((b) => b.namespace_id);
  assert.deepEqual(limits, config().env.staging.ratelimits.map((x) => x.namespace_id), "the Worker binds the namespaces provision chose");
  assert.match(r.all, new RegExp(`deploy: version ${version.id} serves 100% of staging, migration v1-mcp-objects applied`));
});

test("make check against the deployment", STEP, async () => {
  await world.serve(dir, cf.scripts.get(worker));
  const r = await run(line("first-deploy", "make check"), { env: world.env });
  assert.match(r.all, /^OK: \d+ passed, 0 failed$/m);
  assert.match(r.all, new RegExp(`^PASS healthz .*commit=${head()}`, "m"), "the deployed commit answers");
});

test("the rehearsal: a gradual make deploy PERCENT=10, its split, make rollback, make check", STEP, async () => {
  const s = cf.scripts.get(worker);
  const live = s.deployments[0].versions[0].version_id;
  const block = doc("rehearse").map(filled);
  const expected = [/^make deploy ENV=staging PERCENT=10$/, /wrangler deployments status --env staging$/, /^make rollback ENV=staging$/, /^make check URL=/];
  assert.ok(block.length === expected.length && block.every((l, i) => expected[i].test(l)), `the rehearsal block:\n${block.join("\n")}`);

  const deploy = await during(() => run(block[0]));
  assert.doesNotMatch(deploy.all, /pending Durable Object migration/);
  assert.equal(sent(deploy.sent, "PUT", scriptPath()).length, 0, "no wrangler deploy");
  assert.equal(sent(deploy.sent, "POST", `${scriptPath()}/versions`).length, 1, "wrangler versions upload");
  const uploaded = s.versions.at(-1).id;
  const split = [{ version_id: uploaded, percentage: 10 }, { version_id: live, percentage: 90 }];
  const [post] = sent(deploy.sent, "POST", `${scriptPath()}/deployments`);
  assert.deepEqual(JSON.parse(post.body).versions, split, "wrangler versions deploy, split with the live version");
  assert.deepEqual(s.deployments[0].versions, split);
  assert.match(deploy.all, new RegExp(`make promote ENV=staging VERSION=${uploaded}`));

  const status = await run(block[1]);
  assert.match(status.all, new RegExp(`\\(10%\\) ${uploaded}`), status.all);
  assert.match(status.all, new RegExp(`\\(90%\\) ${live}`), status.all);

  const rollback = await during(() => run(block[2]));
  const [back] = sent(rollback.sent, "POST", `${scriptPath()}/deployments`);
  assert.deepEqual(JSON.parse(back.body).versions, [{ version_id: live, percentage: 100 }], "back to the version that served 100%");
  assert.deepEqual(s.deployments[0].versions, [{ version_id: live, percentage: 100 }]);

  const check = await run(block[3], { env: world.env });
  assert.match(check.all, /^OK: \d+ passed, 0 failed$/m);
});

test("a release that adds a Durable Object migration: make deploy runs `wrangler deploy` again, which applies it", STEP, async () => {
  // The release, as a developer makes it: a migration appended to wrangler.jsonc's `migrations`
  // (a step with only a tag: the bundle need not change), committed.
  const path = join(dir, "wrangler.jsonc");
  const text = readFileSync(path, "utf8");
  const { spans, value } = parseJsonc(text);
  const end = spans.get(JSON.stringify(["migrations", value.migrations.length - 1])).end;
  writeFileSync(path, `${text.slice(0, end)},\n    { "tag": "v2-walk-release" }${text.slice(end)}`);
  assert.equal(config().migrations.at(-1).tag, "v2-walk-release");
  await run(`git commit -qam "a Durable Object migration"`);

  const s = cf.scripts.get(worker);
  const r = await during(() => run(line("first-deploy", "make deploy")));
  assert.match(r.all, /pending Durable Object migration \(the Worker is at v1-mcp-objects; wrangler\.jsonc ends at v2-walk-release\)/);
  assert.match(r.all, /This step is NOT gradual: the new version serves 100% of staging at once/);
  assert.equal(sent(r.sent, "PUT", scriptPath()).length, 1, "wrangler deploy");
  assert.equal(sent(r.sent, "POST", `${scriptPath()}/versions`).length, 0, "no versions upload");
  assert.equal(s.migration_tag, "v2-walk-release");
  assert.deepEqual(s.migrations.at(-1), { old_tag: "v1-mcp-objects", new_tag: "v2-walk-release", steps: [{}] });
  assert.deepEqual(s.deployments[0].versions, [{ version_id: s.versions.at(-1).id, percentage: 100 }]);
  assert.equal(s.versions.at(-1).annotations["workers/tag"], head());
  assert.deepEqual(cf.unrouted().map((q) => `${q.method} ${q.path}`), [], "the fake answered every call Wrangler made");
});

/**
 * `make check`'s world: a CA of the walk's own; the identity provider at https://127.0.0.1:<port>/
 * (RFC 8414 and OIDC metadata naming it, and a JWKS with one RS256 key); Cloudflare's edge for
 * <worker>.<subdomain>.workers.dev, a TLS server that passes each request to the deployment; and an HTTP
 * proxy that reaches those two and nothing else. `serve(dir, script)` starts the deployment:
 * `wrangler dev --env staging` of the clone's release bundle, its local D1 migrated, with the
 * secrets the fake holds for `script`. `env` is what `make check` needs to reach it all.
 */
async function checkWorld() {
  const root = mkdtempSync(join(tmpdir(), "mkit-walk-world-"));
  const pki = certificates(root);
  const listen = (server, port) => new Promise((ok) => server.listen(port, "127.0.0.1", () => ok(server.address().port)));
  const servers = [];
  let deployment = null;
  let dev = null;

  const issuerPort = await freePort();
  const issuer = `https://127.0.0.1:${issuerPort}/`;
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "walk-1", alg: "RS256", use: "sig" };
  const metadata = { issuer, jwks_uri: `${issuer}jwks`, authorization_endpoint: `${issuer}authorize`, token_endpoint: `${issuer}token`,
    response_types_supported: ["code"], code_challenge_methods_supported: ["S256"], subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"] };
  const idp = createHttpsServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    const path = new URL(req.url, issuer).pathname;
    const body = path === "/jwks" ? { keys: [jwk] }
      : ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"].includes(path) ? metadata : null;
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { error: "not_found" }));
  });
  servers.push(idp);
  await listen(idp, issuerPort);

  // The edge: each request passed on to the deployment as it came (method, path, headers, body).
  const edge = createHttpsServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    if (!deployment || req.headers.host !== deployment.host) return res.writeHead(404).end("There is nothing here yet");
    // To the Worker over https, as Cloudflare runs it (wrangler dev --local-protocol https, its own
    // certificate): the Worker sees https://<host>/… and Wrangler's dev proxy keeps the https
    // origin in response headers (it rewrites them to the scheme it serves).
    const upstream = httpsRequest({ host: "127.0.0.1", port: deployment.port, method: req.method, path: req.url, headers: req.headers,
      rejectUnauthorized: false }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on("error", (e) => res.writeHead(502).end(String(e)));
    req.pipe(upstream);
  });
  servers.push(edge);
  const edgePort = await listen(edge, 0);

  const proxy = createHttpServer((req, res) => res.writeHead(405).end("CONNECT only"));
  proxy.on("connect", (req, client, head) => {
    const [host, port] = req.url.split(":");
    const to = host.endsWith(`.${SUBDOMAIN}.workers.dev`) && port === "443" ? edgePort
      : host === "127.0.0.1" && Number(port) === issuerPort ? issuerPort : null;
    if (!to) return client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    const upstream = connect(to, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  servers.push(proxy);
  const proxyPort = await listen(proxy, 0);

  return {
    issuer,
    env: { NODE_EXTRA_CA_CERTS: pki.caFile, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, NODE_USE_ENV_PROXY: "1" },
    async serve(clone, script) {
      if (dev) return;
      const persist = join(root, "state");
      const secrets = join(root, "secrets.env");
      writeFileSync(secrets, [...script.secrets.values()].map(({ name, text }) => `${name}=${JSON.stringify(text)}\n`).join(""));
      const env = shellEnv({ ...operator, NODE_EXTRA_CA_CERTS: pki.caFile, CI: "true", WRANGLER_SEND_METRICS: "false" });
      // The clone's own Wrangler on the project's Node (scripts/bin/node), as its Makefile runs it.
      const node = join(clone, "scripts/bin/node");
      const wrangler = [join(clone, "node_modules/.bin/wrangler")];
      // The kit's migrations and the server's, where wrangler.jsonc's migrations_dir points, as make deploy assembles them.
      execFileSync(node, [join(clone, "scripts/migrations.mjs")], { cwd: clone, env, stdio: "pipe" });
      execFileSync(node, [...wrangler, "d1", "migrations", "apply", "DB", "--local", "--env", "staging", "--persist-to", persist],
        { cwd: clone, env, stdio: "pipe" });
      const port = await freePort();
      const log = join(root, "wrangler-dev.log");
      const out = openSync(log, "a");
      const child = spawn(node, [...wrangler, "dev", "--env", "staging", "--ip", "127.0.0.1", "--port", String(port),
        "--inspector-port", String(await freePort()), "--persist-to", persist, "--env-file", secrets,
        "--local-protocol", "https", "--show-interactive-dev-session=false"], { cwd: clone, env, stdio: ["ignore", out, out] });
      const exited = new Promise((ok) => child.once("exit", ok));
      const kill = () => child.kill("SIGKILL");
      process.once("exit", kill);
      dev = {
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            const timer = setTimeout(kill, 5000);
            await exited;
            clearTimeout(timer);
          }
          process.off("exit", kill);
        },
      };
      for (const deadline = Date.now() + 180_000; ; ) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`wrangler dev --env staging did not answer /healthz:\n${readFileSync(log, "utf8").slice(-4000)}`);
        }
        const up = await new Promise((ok) => {
          const probe = httpsRequest({ host: "127.0.0.1", port, path: "/healthz", rejectUnauthorized: false, timeout: 2000 }, (res) => {
            res.resume();
            ok(true);
          });
          probe.on("error", () => ok(false)).on("timeout", () => probe.destroy());
          probe.end();
        });
        if (up) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      deployment = { port, host: `${script.name}.${SUBDOMAIN}.workers.dev` };
    },
    async stop() {
      await dev?.stop();
      for (const server of servers) server.closeAllConnections?.();
      await Promise.all(servers.map((server) => new Promise((ok) => server.close(ok))));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A CA and one server certificate for 127.0.0.1 and *.<subdomain>.workers.dev, made with openssl. */
function certificates(root) {
  const f = (name) => join(root, name);
  const openssl = (...args) => execFileSync("openssl", args, { cwd: root, stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
    "-subj", "/CN=mKit walk CA", "-keyout", f("ca.key"), "-out", f("ca.pem"),
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-subj", "/CN=mKit walk", "-keyout", f("server.key"), "-out", f("server.csr"));
  writeFileSync(f("server.ext"), `subjectAltName=IP:127.0.0.1,DNS:*.${SUBDOMAIN}.workers.dev\n` +
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
    "-days", "2", "-extfile", f("server.ext"), "-out", f("server.pem"));
  return { caFile: f("ca.pem"), key: readFileSync(f("server.key")), cert: readFileSync(f("server.pem")) };
}
