// `make init`: renames a fresh clone of this repository and leaves a tree that compiles and passes
// the tools' unit tests; refuses bad names and uncommitted changes; a second run changes nothing.
// The clone's cargo builds share this repository's target directory (its dependencies are built
// already), so only the renamed crate itself compiles. The clone's path is the same on every run
// and incremental compilation is off, so its artifacts replace the last run's instead of piling up.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { experimental_readRawConfig } from "wrangler";
import { ROOT } from "./harness.mjs";
import { demoteExamples, titleFrom } from "../../scripts/init.mjs";
import { insertJsoncMember, parseJsonc, setJsoncStrings } from "../../scripts/jsonc.mjs";

const exec = promisify(execFile);
const INIT = join(ROOT, "scripts/init.mjs");

/** Runs a command; resolves to { code, out } whatever the exit status. */
async function run(cmd, args, { cwd, env = {}, timeout = 120_000 } = {}) {
  const started = performance.now();
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, env: { ...process.env, ...env }, timeout, maxBuffer: 1 << 24 });
    return { code: 0, out: stdout + stderr, ms: performance.now() - started };
  } catch (e) {
    if (e.killed) throw new Error(`${cmd} ${args.join(" ")} did not finish within ${timeout} ms`);
    return { code: e.code, out: (e.stdout ?? "") + (e.stderr ?? ""), ms: performance.now() - started };
  }
}

/** init.mjs from this checkout, run in the clone (it renames the current directory). */
const init = (env) => run(process.execPath, [INIT], { cwd: clone, env: { NAME: "", TITLE: "", DESCRIPTION: "", KEEP_EXAMPLES: "", ALLOW_DIRTY: "", ...env } });
const read = (rel) => readFileSync(join(clone, rel), "utf8");

let clone;
before(async () => {
  clone = join(tmpdir(), `mkit-init-test-${createHash("sha256").update(ROOT).digest("hex").slice(0, 12)}`);
  rmSync(clone, { recursive: true, force: true });
  const cloned = await run("git", ["clone", "-q", ROOT, clone]);
  assert.equal(cloned.code, 0, cloned.out);
});
after(() => {
  if (clone) rmSync(clone, { recursive: true, force: true });
});

test("init refuses invalid names and values before touching anything", async () => {
  for (const [env, reason] of [
    [{}, /NAME is required/],
    [{ NAME: "Acme" }, /not a valid Worker name/],
    [{ NAME: "acme_search" }, /not a valid Worker name/],
    [{ NAME: "-acme" }, /not a valid Worker name/],
    [{ NAME: "a".repeat(53) }, /at most 52 characters/],
    [{ NAME: "acme", TITLE: "two\nlines" }, /TITLE must be one line/],
    [{ NAME: "acme", KEEP_EXAMPLES: "no" }, /KEEP_EXAMPLES must be 0 or 1/],
  ]) {
    const r = await init(env);
    assert.equal(r.code, 2, `${JSON.stringify(env)}: ${r.out}`);
    assert.match(r.out, reason);
  }
  assert.equal((await run("git", ["status", "--porcelain"], { cwd: clone })).out, "", "nothing changed");
});

test("init refuses on uncommitted changes unless ALLOW_DIRTY=1", async () => {
  const readme = read("README.md");
  const config = read("wrangler.jsonc");
  writeFileSync(join(clone, "README.md"), `${readme}\nlocal edit\n`);
  try {
    // A name no fork has yet, so there is something to rename (this kit may itself be a fork).
    const r = await init({ NAME: "init-dirty-check" });
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /refused: uncommitted changes to tracked files[\s\S]*M README\.md/);
    assert.equal(read("wrangler.jsonc"), config, "nothing rewritten");
    const allowed = await init({ NAME: "dirty-ok", ALLOW_DIRTY: "1" });
    assert.equal(allowed.code, 0, allowed.out);
    assert.match(read("wrangler.jsonc"), /"name": "dirty-ok"/);
  } finally {
    await run("git", ["checkout", "-q", "--", "."], { cwd: clone });
    assert.equal((await run("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: clone })).out, "");
  }
});

test("make init passes NAME only from the command line, quoted", async () => {
  const r = await run("make", ["-n", "--no-print-directory", "init", "NAME=acme's"], { cwd: ROOT });
  assert.match(r.out, /NAME='acme'\\''s' node scripts\/init\.mjs/);
  const fromEnv = await run("make", ["-n", "--no-print-directory", "init"], { cwd: ROOT, env: { NAME: "my-laptop" } });
  assert.match(fromEnv.out, /NAME='' node scripts\/init\.mjs/, "an inherited NAME (a host name on some systems) is not used");
});

test("init renames a clone, KEEP_EXAMPLES=0 unserves the examples, and the tree compiles", async () => {
  const r = await init({ NAME: "acme-search", TITLE: "Acme \"Search\"", DESCRIPTION: "Searches Acme's catalogue.", KEEP_EXAMPLES: "0" });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /init: now acme-search/);

  // wrangler.jsonc, read by Wrangler's own parser: Worker and D1 names per environment; comments kept.
  const config = experimental_readRawConfig({ config: join(clone, "wrangler.jsonc") }).rawConfig;
  assert.equal(config.name, "acme-search");
  assert.equal(config.d1_databases[0].database_name, "acme-search");
  for (const env of ["staging", "production"]) {
    assert.equal(config.env[env].name, `acme-search-${env}`);
    assert.equal(config.env[env].d1_databases[0].database_name, `acme-search-${env}`);
    assert.match(config.env[env].d1_databases[0].database_id, /^REPLACE_WITH_/, "ids untouched");
    assert.deepEqual(config.env[env].analytics_engine_datasets, [{ binding: "MKIT_STATS", dataset: `acme_search_${env}_tool_calls` }]);
  }
  assert.equal(config.analytics_engine_datasets[0].dataset, "acme_search_tool_calls");
  assert.match(read("wrangler.jsonc"), /^\/\/ mKit's Wrangler configuration/, "comments kept");

  // SERVER_INFO (serverInfo; the PRM's resource_name and the about heading are its title).
  const mod = read("src/tools/mod.rs");
  assert.match(mod, /\n {4}name: "acme-search",\n {4}title: "Acme \\"Search\\"",/);
  assert.match(mod, /\n {4}description: "Searches Acme's catalogue\.",/);
  assert.match(read("crates/mkit/src/edge/mcp.rs"), /resource_name: iso\.info\.title,/);

  // The examples: compiled for tests and fixtures only, not served.
  assert.match(mod, /#\[cfg\(any\(test, feature = "fixtures"\)\)\]\npub mod notes;/);
  assert.match(mod, /#\[cfg\(any\(test, feature = "fixtures"\)\)\]\npub mod text_stats;/);
  assert.match(mod, /let mut r = mkit::tools::standard\(\);\n[^\n]*\n[^\n]*\n {4}#\[cfg\(any\(test, feature = "fixtures"\)\)\]\n {4}r\.tool\(notes::Remember\)/);
  assert.ok(read("migrations/0002_notes.sql"), "migrations stay append-only");

  // Packages: the seller's crate is renamed; the kit's crates keep their names.
  assert.equal(JSON.parse(read("package.json")).name, "acme-search");
  const lock = JSON.parse(read("package-lock.json"));
  assert.deepEqual([lock.name, lock.packages[""].name], ["acme-search", "acme-search"]);
  assert.match(read("Cargo.toml"), /^\[package\]\nname = "acme-search"$/m);
  assert.match(read("Cargo.lock"), /^name = "acme-search"$/m);
  assert.match(read("crates/mkit/Cargo.toml"), /^\[package\]\nname = "mkit"$/m);

  // The kit's tests follow the names.
  assert.match(read("tests/e2e/auth.test.mjs"), /prm\.resource_name, "Acme \\"Search\\""/);
  assert.match(read("tests/e2e/mcp.test.mjs"), /getServerVersion\(\)\.name, "acme-search"/);

  // Idempotent: the same values again change nothing, even on the now uncommitted tree.
  const diff = (await run("git", ["diff"], { cwd: clone })).out;
  const again = await init({ NAME: "acme-search", KEEP_EXAMPLES: "0" });
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /already acme-search \(title "Acme \\"Search\\"", examples not served\); nothing to change/);
  assert.equal((await run("git", ["diff"], { cwd: clone })).out, diff);

  // It compiles (lib with fixtures: the examples' cfg), and the tools' and MCP tool tests pass.
  const cargoEnv = { CARGO_TARGET_DIR: join(ROOT, "target"), CARGO_TERM_COLOR: "never", CARGO_INCREMENTAL: "0" };
  const check = await run("cargo", ["check", "--quiet", "--lib", "--features", "fixtures"], { cwd: clone, env: cargoEnv, timeout: 600_000 });
  assert.equal(check.code, 0, check.out);
  const unit = await run("cargo", ["test", "--quiet", "--lib", "tools"], { cwd: clone, env: cargoEnv, timeout: 600_000 });
  assert.equal(unit.code, 0, unit.out);
  assert.match(unit.out, /test result: ok\. [1-9]\d* passed; 0 failed/);
  console.log(`[init] init ${Math.round(r.ms)} ms, cargo check ${Math.round(check.ms)} ms, cargo test --lib tools ${Math.round(unit.ms)} ms`);
});

test("init's building blocks: JSONC edits keep comments, titles, example demotion", () => {
  const text = '// c\n{\n  "a": "x", /* k */ "b": { "c": ["y", "z",], },\n}\n';
  assert.deepEqual(parseJsonc(text).value, { a: "x", b: { c: ["y", "z"] } });
  assert.equal(setJsoncStrings(text, [[["b", "c", 1], "w\"q"], [["a"], "v"], [["missing"], "m"]]),
    '// c\n{\n  "a": "v", /* k */ "b": { "c": ["y", "w\\"q",], },\n}\n');
  const routes = [{ pattern: "mcp.example.com", custom_domain: true }];
  const added = insertJsoncMember(text, ["b"], "routes", routes, "    ");
  assert.deepEqual(parseJsonc(added).value.b, { routes, c: ["y", "z"] }, "an inserted member keeps the rest");
  assert.match(added, /^\/\/ c\n/, "comments stay");
  assert.deepEqual(parseJsonc(insertJsoncMember('{ "e": {} }', ["e"], "k", 1, " ")).value, { e: { k: 1 } }, "into an empty object");
  assert.throws(() => insertJsoncMember(text, ["b"], "c", 1, ""), /already has c/);
  assert.equal(titleFrom("acme-search-2"), "Acme Search 2");
  const src = "pub mod notes;\npub mod text_stats;\npub mod whoami;\nfn registry() {\n    r.tool(notes::Remember).tool(whoami::WhoAmI).tool(text_stats::TextStats);\n}\n";
  const once = demoteExamples(src);
  assert.match(once, /^#\[cfg\(any\(test, feature = "fixtures"\)\)\]\npub mod notes;\n#\[cfg[^\n]*\npub mod text_stats;\npub mod whoami;/);
  assert.match(once, / {4}r\.tool\(whoami::WhoAmI\);\n/);
  assert.equal(demoteExamples(once), once, "idempotent");
});
