// The D1 migrations Wrangler applies (scripts/migrations.mjs): the kit's, found through `cargo
// metadata`, and the server's own migrations/, assembled into one directory under their own
// names. A clash (one name, two contents) is refused before anything is written. With the pinned
// Wrangler on a throwaway local D1: a migration the seller adds later is applied after the kit's,
// and a second apply applies nothing.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./harness.mjs";
import { assembleMigrations, kitMigrationsDir, MIGRATIONS_DIR, Refusal } from "../../scripts/migrations.mjs";

const exec = promisify(execFile);
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const temp = mkdtempSync(join(tmpdir(), "mkit-migrations-"));
after(() => rmSync(temp, { recursive: true, force: true }));

const sqlNames = (dir) => readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();

/** Runs a command; resolves to { code, out } whatever the exit status. */
async function run(cmd, args, { cwd = ROOT, env = {} } = {}) {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, timeout: 180_000, maxBuffer: 1 << 24,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true", ...env } });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    if (e.killed) throw new Error(`${cmd} ${args.join(" ")} did not finish`);
    return { code: e.code, out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

/**
 * A seller's repository of its own: a crate depending on a kit crate named mkit by path, outside
 * any workspace (as one from crates.io is), with scripts/migrations.mjs copied in.
 */
function sellerRepo(name, { kit, mine }) {
  const repo = join(temp, name);
  for (const [path, text] of Object.entries({
    "Cargo.toml": '[package]\nname = "acme"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nmkit = { path = "vendor/mkit" }\n',
    "src/lib.rs": "",
    "vendor/mkit/Cargo.toml": '[package]\nname = "mkit"\nversion = "0.1.0"\nedition = "2021"\n',
    "vendor/mkit/src/lib.rs": "",
    ...Object.fromEntries(Object.entries(kit).map(([f, sql]) => [`vendor/mkit/migrations/${f}`, sql])),
    ...Object.fromEntries(Object.entries(mine).map(([f, sql]) => [`migrations/${f}`, sql])),
  })) {
    mkdirSync(join(repo, path, ".."), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  mkdirSync(join(repo, "scripts"));
  copyFileSync(join(ROOT, "scripts/migrations.mjs"), join(repo, "scripts/migrations.mjs"));
  copyFileSync(join(ROOT, "rust-toolchain.toml"), join(repo, "rust-toolchain.toml"));
  return repo;
}

test("the assembled directory holds the kit's migrations and the server's, under their own names", async () => {
  assert.equal(kitMigrationsDir(), join(ROOT, "crates/mkit/migrations"), "cargo metadata finds the mkit package");
  const out = join(temp, "assembled");
  const files = assembleMigrations({ out });
  const kit = sqlNames(join(ROOT, "crates/mkit/migrations"));
  const mine = sqlNames(join(ROOT, "migrations"));
  assert.ok(kit.includes("0001_init.sql") && mine.includes("0002_notes.sql"), `${kit} / ${mine}`);
  assert.deepEqual(sqlNames(out), [...kit, ...mine].sort());
  assert.deepEqual(files.map((f) => f.name), [...kit, ...mine].sort(), "in Wrangler's order");
  for (const f of kit) assert.equal(readFileSync(join(out, f), "utf8"), readFileSync(join(ROOT, "crates/mkit/migrations", f), "utf8"));

  // A file that is no longer a source goes; an unchanged one stays.
  writeFileSync(join(out, "0099_gone.sql"), "SELECT 1;");
  assembleMigrations({ out });
  assert.deepEqual(sqlNames(out), [...kit, ...mine].sort());

  // The command, into the directory wrangler.jsonc names.
  const r = await run(process.execPath, ["scripts/migrations.mjs"]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`migrations: ${kit.length} of the kit's \\(crates/mkit/migrations\\) and ${mine.length} of yours`));
  assert.deepEqual(sqlNames(join(ROOT, MIGRATIONS_DIR)), [...kit, ...mine].sort());
});

test("a kit outside the workspace (as from crates.io) is found; a name clash is refused and nothing is written", async () => {
  const init = "CREATE TABLE kit_meta (k TEXT);";
  const repo = sellerRepo("clash", { kit: { "0001_init.sql": init }, mine: { "0001_init.sql": "CREATE TABLE mine (k TEXT);" } });
  let r = await run(process.execPath, ["scripts/migrations.mjs"], { cwd: repo });
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /^refused: migration names clash with different content: 0001_init\.sql \(\S+vendor\/mkit\/migrations and \S+\/migrations\)/m);
  assert.ok(!existsSync(join(repo, "target/d1-migrations")), "nothing written");
  assert.throws(() => assembleMigrations({ root: repo }), Refusal);
  assert.ok(!existsSync(join(repo, "target/d1-migrations")), "nothing written");

  // The same file on both sides (a copy made by hand before the kit was a crate) is one migration.
  writeFileSync(join(repo, "migrations/0001_init.sql"), init);
  writeFileSync(join(repo, "migrations/0002_orders.sql"), "CREATE TABLE orders (id INTEGER);");
  r = await run(process.execPath, ["scripts/migrations.mjs"], { cwd: repo });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /migrations: 1 of the kit's \(vendor\/mkit\/migrations\) and 1 of yours \(migrations\/\) in target\/d1-migrations\//);
  assert.deepEqual(sqlNames(join(repo, "target/d1-migrations")), ["0001_init.sql", "0002_orders.sql"]);
});

test("wrangler d1 migrations apply: the kit's and the server's, then one the seller adds later, then nothing", { timeout: 300_000 }, async () => {
  // The server's repository as wrangler.jsonc sees it: migrations/ (a copy, to add to) and the
  // assembled directory its migrations_dir names.
  const repo = join(temp, "apply");
  cpSync(join(ROOT, "migrations"), join(repo, "migrations"), { recursive: true });
  const config = join(repo, "wrangler.jsonc");
  writeFileSync(config, JSON.stringify({ name: "mkit-migrations-test", compatibility_date: "2026-11-17",
    d1_databases: [{ binding: "DB", database_name: "mkit", database_id: "00000000-0000-0000-0000-000000000000",
      migrations_dir: MIGRATIONS_DIR }] }));
  const local = ["--local", "--persist-to", join(repo, "state"), "--config", config];
  const assemble = () => assembleMigrations({ seller: join(repo, "migrations"), out: join(repo, MIGRATIONS_DIR) });
  const apply = () => run(WRANGLER, ["d1", "migrations", "apply", "DB", ...local], { cwd: repo });
  const applied = async () => {
    const r = await run(WRANGLER, ["d1", "execute", "DB", ...local, "--json", "--command", "SELECT name FROM d1_migrations ORDER BY id"],
      { cwd: repo });
    assert.equal(r.code, 0, r.out);
    return JSON.parse(r.out.slice(r.out.indexOf("[")))[0].results.map((row) => row.name);
  };

  const first = assemble().map((f) => f.name);
  let r = await apply();
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await applied(), first, "the kit's and the server's, in order, under their own names");

  writeFileSync(join(repo, "migrations/0011_acme_orders.sql"), "CREATE TABLE acme_orders (id INTEGER PRIMARY KEY);\n");
  assemble();
  r = await apply();
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /0011_acme_orders\.sql/);
  assert.doesNotMatch(r.out, /0001_init\.sql/, "nothing applied twice");
  assert.deepEqual(await applied(), [...first, "0011_acme_orders.sql"], "the seller's new migration, after the kit's");

  assemble();
  r = await apply();
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /No migrations to apply/);
  assert.deepEqual(await applied(), [...first, "0011_acme_orders.sql"]);
});
