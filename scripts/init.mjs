// `make init NAME=… [TITLE=…] [DESCRIPTION=…] [KEEP_EXAMPLES=0]`: makes a fork of mKit yours in one
// command. Reads NAME, TITLE, DESCRIPTION, KEEP_EXAMPLES and ALLOW_DIRTY from the environment:
//
//   NAME=acme-search TITLE="Acme Search" node scripts/init.mjs
//
// It rewrites, in place, keeping comments and formatting:
//   - src/tools/mod.rs: SERVER_INFO's name, title and description (the MCP serverInfo; the OAuth
//     protected resource metadata's resource_name and the `about` heading are its title);
//   - Cargo.toml and Cargo.lock: the seller's crate's name (the repository's root crate); the
//     kit's crates under crates/ keep theirs: `mkit` is what your code depends on;
//   - wrangler.jsonc: the Worker names (NAME, NAME-staging, NAME-production) and the D1
//     database_names likewise (only where the database_id is still a placeholder: a filled id
//     names a database that exists under its own name);
//   - package.json and package-lock.json: the package name;
//   - the end-to-end tests that assert these names, so `make test` still passes;
// then rustfmt on the Rust files it rewrote, and Wrangler's own parser reads wrangler.jsonc back.
//
// KEEP_EXAMPLES=0 stops serving the example tools `remember` and `text_stats` (whoami stays): they
// are compiled only for the kit's tests and the fixtures build, which use them as their D1 tool and
// their paid tool (the end-to-end tests that call them run on the fixtures build, so make test
// stays green). migrations/0002_notes.sql
// stays: migrations are append-only, and an unused empty table costs nothing.
//
// Idempotent: a second run with the same values changes nothing. Refuses, before writing, when
// tracked files have uncommitted changes (ALLOW_DIRTY=1 to go ahead), so `git diff` shows exactly
// what it did.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseJsonc, setJsoncStrings } from "./jsonc.mjs";

/** The fork to rename: the current directory (make runs recipes from the repository root). */
const ROOT = process.cwd();

class Refusal extends Error {}

// ---- inputs -----------------------------------------------------------------------------------

/** A Worker name that leaves room for "-production" within Cloudflare's 63 characters. */
export const NAME_RULE = /^[a-z0-9](?:[a-z0-9-]{0,50}[a-z0-9])?$/;

export function checkName(name) {
  if (!name) throw new Refusal("NAME is required, e.g. make init NAME=acme-search TITLE=\"Acme Search\"");
  if (!NAME_RULE.test(name)) {
    throw new Refusal(`NAME=${JSON.stringify(name)} is not a valid Worker name: lowercase letters, digits and dashes, ` +
      "starting and ending with a letter or digit, at most 52 characters (so NAME-production fits in 63)");
  }
  return name;
}

function checkText(what, v, max) {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new Refusal(`${what} must be one line without control characters`);
  if (!v.trim()) throw new Refusal(`${what} must not be empty`);
  if (v.length > max) throw new Refusal(`${what} is longer than ${max} characters`);
  return v;
}

/** "acme-search" → "Acme Search". */
export const titleFrom = (name) => name.split("-").filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(" ");

// ---- Rust source ------------------------------------------------------------------------------

const RUST_STRING = String.raw`"(?:[^"\\]|\\[\s\S])*"`;
const rustString = (s) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
/** The value of a Rust string literal, for the escapes kit sources use (`\"`, `\\`, `\n`, line continuations). */
const rustValue = (lit) => lit.slice(1, -1).replace(/\\\n\s*/g, "").replace(/\\(.)/g, (_, c) => ({ n: "\n", t: "\t" })[c] ?? c);

function serverInfoBlock(src) {
  const m = /pub const SERVER_INFO: ServerInfo = ServerInfo \{[\s\S]*?\n\};/.exec(src);
  if (!m) throw new Refusal("src/tools/mod.rs has no `pub const SERVER_INFO: ServerInfo = ServerInfo { … };` to rename");
  return m;
}

/** SERVER_INFO's name, title and description, as written in src/tools/mod.rs. */
export function readServerInfo(src) {
  const block = serverInfoBlock(src)[0];
  const field = (f) => {
    const m = new RegExp(`\\n\\s*${f}: (${RUST_STRING}),`).exec(block);
    if (!m) throw new Refusal(`SERVER_INFO in src/tools/mod.rs has no ${f}: "…" literal`);
    return rustValue(m[1]);
  };
  return { name: field("name"), title: field("title"), description: field("description") };
}

function setServerInfo(src, info) {
  const m = serverInfoBlock(src);
  let block = m[0];
  for (const [f, v] of Object.entries(info)) {
    block = block.replace(new RegExp(`(\\n\\s*${f}: )${RUST_STRING},`), (_, head) => `${head}${rustString(v)},`);
  }
  return src.slice(0, m.index) + block + src.slice(m.index + m[0].length);
}

const EXAMPLES_CFG = '#[cfg(any(test, feature = "fixtures"))]';
const EXAMPLE_CALLS = [".tool(notes::Remember)", ".tool(text_stats::TextStats)"];
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** KEEP_EXAMPLES=0: the example tools leave the served registry, kept for tests and fixtures. */
export function demoteExamples(src) {
  for (const mod of ["notes", "text_stats"]) {
    src = src.replace(new RegExp(`^pub mod ${mod};$`, "m"), (m, at, all) => (all.slice(0, at).endsWith(`${EXAMPLES_CFG}\n`) ? m : `${EXAMPLES_CFG}\n${m}`));
  }
  if (new RegExp(`${escapeRe(EXAMPLES_CFG)}\\n\\s*${escapeRe(`r${EXAMPLE_CALLS.join("")};`)}`).test(src)) return src;
  const lines = src.split("\n");
  const at = lines.findIndex((l) => EXAMPLE_CALLS.some((c) => l.includes(c)));
  if (at < 0) {
    if (!/\bnotes::Remember\b|\btext_stats::TextStats\b/.test(src)) return src;
    throw new Refusal("src/tools/mod.rs registers the example tools in a way init does not recognise: take them out by hand");
  }
  let rest = lines[at];
  for (const c of EXAMPLE_CALLS) rest = rest.replace(c, "");
  const indent = lines[at].match(/^\s*/)[0];
  lines.splice(at, 1, ...(/^\s*r;\s*$/.test(rest) ? [] : [rest]),
    `${indent}// The kit's example tools: not served (make init KEEP_EXAMPLES=0), but still compiled for the`,
    `${indent}// kit's own tests and the fixtures build, which use them as a D1 tool and a paid tool.`,
    `${indent}${EXAMPLES_CFG}`,
    `${indent}r${EXAMPLE_CALLS.join("")};`);
  return lines.join("\n");
}

// ---- the plan ---------------------------------------------------------------------------------

const read = (rel) => readFileSync(join(ROOT, rel), "utf8");
/** A database_id nobody filled in yet: the placeholders, and the top level's local all-zero id. */
const UNSET_ID = /^(REPLACE_WITH_[A-Z0-9_]+|0{8}-0{4}-0{4}-0{4}-0{12})?$/;

/** Every file init would rewrite, as { path, before, after }, plus notes for the operator. */
export function plan({ name, title, description, keepExamples }) {
  const changes = [];
  const notes = [];
  const edit = (path, fn) => {
    if (!existsSync(join(ROOT, path))) return;
    const before = read(path);
    const after = fn(before);
    if (after !== before) changes.push({ path, before, after });
  };

  const old = readServerInfo(read("src/tools/mod.rs"));
  title = checkText("TITLE", title ?? (old.name === name ? old.title : titleFrom(name)), 100);
  description = checkText("DESCRIPTION", description ?? old.description, 300);

  edit("src/tools/mod.rs", (src) => {
    src = setServerInfo(src, { name, title, description });
    return keepExamples ? src : demoteExamples(src);
  });

  edit("wrangler.jsonc", (text) => {
    const config = parseJsonc(text).value;
    const edits = [[["name"], name]];
    const databases = (where, path, dbs, dbName) => (dbs ?? []).forEach((db, n) => {
      if (db.binding !== "DB" || db.database_name === dbName) return;
      if (UNSET_ID.test(db.database_id ?? "")) edits.push([[...path, "d1_databases", n, "database_name"], dbName]);
      else notes.push(`${where}: D1 database_name ${db.database_name} kept: its database_id is filled in, so it names a database that exists`);
    });
    // Analytics Engine datasets are per account: name them after the fork, so two forks never mix.
    const datasets = (path, list, dataset) => (list ?? []).forEach((d, n) => {
      if (d.binding === "MKIT_STATS") edits.push([[...path, "analytics_engine_datasets", n, "dataset"], dataset]);
    });
    const snake = name.replaceAll("-", "_");
    databases("top level", [], config.d1_databases, name);
    datasets([], config.analytics_engine_datasets, `${snake}_tool_calls`);
    for (const [env, c] of Object.entries(config.env ?? {})) {
      const worker = `${name}-${env}`;
      const deployed = (c.d1_databases ?? []).some((db) => !UNSET_ID.test(db.database_id ?? ""));
      if (deployed && c.name !== worker) {
        notes.push(`env.${env}: if ${c.name} is deployed, the next make deploy ENV=${env} creates ${worker} beside it; delete the old Worker when done`);
      }
      edits.push([["env", env, "name"], worker]);
      databases(`env.${env}`, ["env", env], c.d1_databases, worker);
      datasets(["env", env], c.analytics_engine_datasets, `${snake}_${env}_tool_calls`);
    }
    return setJsoncStrings(text, edits);
  });

  // The seller's crate: the root package's name (the kit's crates keep theirs).
  const crate = /^\[package\]\nname = "([^"\n]+)"$/m.exec(read("Cargo.toml"))?.[1];
  if (!crate) throw new Refusal("Cargo.toml has no [package] name = \"…\" right after [package]: rename the crate by hand");
  if (crate === "mkit" || crate.startsWith("mkit-kernel")) throw new Refusal(`Cargo.toml's package is the kit's (${crate}), not a server`);
  edit("Cargo.toml", (text) => text.replace(`[package]\nname = "${crate}"`, `[package]\nname = "${name}"`));
  edit("Cargo.lock", (text) => text.replace(`[[package]]\nname = "${crate}"\n`, `[[package]]\nname = "${name}"\n`));

  edit("package.json", (text) => setJsoncStrings(text, [[["name"], name]]));
  edit("package-lock.json", (text) => setJsoncStrings(text, [[["name"], name], [["packages", "", "name"], name]]));

  // The end-to-end tests that assert these names (they run against this crate).
  const q = JSON.stringify;
  const lineEdit = (path, rules) => edit(path, (src) => src.split("\n").map((l) => {
    for (const [when, from, to] of rules) if (when.test(l)) l = l.replaceAll(from, to);
    return l;
  }).join("\n"));
  lineEdit("tests/e2e/mcp.test.mjs", [
    [/getServerVersion\(\)\.name|serverInfo"\]\.name/, q(old.name), q(name)],
    [/\/\^# /, `/^# ${escapeRe(old.title)}/`, `/^# ${escapeRe(title)}/`],
  ]);
  lineEdit("tests/e2e/auth.test.mjs", [[/resource_name/, q(old.title), q(title)]]);
  return { changes, notes, title, description };
}

function dirty() {
  try {
    return execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return "(not a git work tree)";
  }
}

async function main() {
  const env = process.env;
  if (!["wrangler.jsonc", "src/tools/mod.rs"].every((f) => existsSync(join(ROOT, f)))) {
    throw new Refusal(`${ROOT} has no wrangler.jsonc and src/tools/mod.rs: run make init from the repository's root`);
  }
  const name = checkName(env.NAME ?? "");
  const keep = env.KEEP_EXAMPLES ?? "1";
  if (!["0", "1", ""].includes(keep)) throw new Refusal(`KEEP_EXAMPLES must be 0 or 1, got ${keep}`);
  const { changes, notes, title, description } = plan({ name, title: env.TITLE || undefined, description: env.DESCRIPTION || undefined,
    keepExamples: keep !== "0" });
  const what = `${name} (title ${JSON.stringify(title)}${keep === "0" ? ", examples not served" : ""})`;
  if (changes.length === 0) {
    console.log(`init: already ${what}; nothing to change`);
    return;
  }
  const uncommitted = dirty();
  if (uncommitted && env.ALLOW_DIRTY !== "1") {
    throw new Refusal(`uncommitted changes to tracked files; commit or stash them first, so git diff shows what init changes ` +
      `(or set ALLOW_DIRTY=1):\n${uncommitted}`);
  }
  // package.json's name is not an install input: keep a fresh `npm ci` stamp fresh.
  const stamp = join(ROOT, "node_modules/.installed");
  const stampFresh = existsSync(stamp) && ["package.json", "package-lock.json"].every((f) => statSync(join(ROOT, f)).mtimeMs <= statSync(stamp).mtimeMs);
  for (const c of changes) writeFileSync(join(ROOT, c.path), c.after);
  if (stampFresh) {
    const now = new Date();
    utimesSync(stamp, now, now);
  }
  // A longer name can push an assertion past rustfmt's width: format what was rewritten.
  const rust = changes.filter((c) => c.path.endsWith(".rs")).map((c) => c.path);
  if (rust.length) {
    try {
      execFileSync("rustfmt", ["--edition", "2021", ...rust], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
      notes.push(`rustfmt did not run (${e.code === "ENOENT" ? "not installed" : String(e.stderr ?? e.message).trim()}): run make fmt`);
    }
  }
  await verify(name);
  console.log(`init: now ${what}. Changed:`);
  for (const c of changes) console.log(`  ${c.path}`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`description: ${description}`);
  console.log("Next: git diff, then make test, and fill wrangler.jsonc's placeholders (docs/deployment.md).");
}

/** Wrangler's own parser reads back the names init wrote. */
async function verify(name) {
  const { readConfig } = await import("./wrangler-config.mjs");
  const config = readConfig(join(ROOT, "wrangler.jsonc"));
  const wrong = [[config.name, name], ...Object.entries(config.env ?? {}).map(([env, c]) => [c.name, `${name}-${env}`])]
    .filter(([got, want]) => got !== want);
  if (wrong.length) throw new Error(`wrangler.jsonc reads back ${wrong.map(([g, w]) => `${g} (expected ${w})`).join(", ")}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    await main();
  } catch (e) {
    console.error(`${e instanceof Refusal ? "refused" : "failed"}: ${e.message}`);
    process.exit(e instanceof Refusal ? 2 : 1);
  }
}
