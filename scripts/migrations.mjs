// The D1 migrations Wrangler applies: the kit's (the `mkit` crate's migrations/, found with `cargo
// metadata`, so a path dependency and one from crates.io work alike) and yours (migrations/),
// assembled into target/d1-migrations/ (git-ignored), which wrangler.jsonc's migrations_dir names.
// `make dev`, `make deploy`, `make migrations` and the tests run it before any
// `wrangler d1 migrations` command.
//
//   node scripts/migrations.mjs
//
// File names are kept as they are: D1 records each applied one by name (d1_migrations), so a
// renamed file would run again. The same name on both sides is refused (exit 2, nothing written)
// unless the files are identical (yours may still hold copies of the kit's from before it was a
// crate). The directory ends up holding exactly those files: each is written to a temporary name
// and renamed into place, and an identical one is left alone, so a concurrent run (tests run side
// by side) never sees it empty or half written.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the assembled migrations go, relative to the repository (wrangler.jsonc's migrations_dir). */
export const MIGRATIONS_DIR = "target/d1-migrations";

/** A reason not to assemble, printed as "refused: …" with exit code 2. */
export class Refusal extends Error {}

/** The `mkit` package's migrations directory, as Cargo resolves the package for `root`. */
export function kitMigrationsDir(root = ROOT) {
  let meta;
  try {
    meta = JSON.parse(execFileSync("cargo", ["metadata", "--format-version", "1"],
      { cwd: root, encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "pipe"] }));
  } catch (e) {
    throw new Error(`cargo metadata failed in ${root}, so the kit's migrations cannot be found: ${(e.stderr || e.message).trim()}`);
  }
  let kits = meta.packages.filter((p) => p.name === "mkit");
  if (kits.length > 1) {
    // Several versions in the graph: the one the root package depends on.
    const deps = new Set(meta.resolve?.nodes.find((n) => n.id === meta.resolve.root)?.deps.map((d) => d.pkg) ?? []);
    kits = kits.filter((p) => deps.has(p.id));
  }
  if (kits.length !== 1) throw new Refusal(`cargo metadata names ${kits.length} packages called mkit that this crate uses; expected one`);
  const dir = join(dirname(kits[0].manifest_path), "migrations");
  if (!existsSync(dir)) throw new Refusal(`the mkit package has no migrations directory (${dir})`);
  return dir;
}

/** The `.sql` files of `dir` as name → content; none when `dir` does not exist. */
function sqlFiles(dir) {
  if (!existsSync(dir)) return new Map();
  return new Map(readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".sql"))
    .map((e) => [e.name, readFileSync(join(dir, e.name), "utf8")]));
}

/** Wrangler's order of migration files: by leading number, then by name (its compareMigrationPaths). */
export function compareMigrationNames(a, b) {
  const [x, y] = [parseInt(a.split("_")[0], 10), parseInt(b.split("_")[0], 10)];
  if (x !== y && (Number.isFinite(x) || Number.isFinite(y))) {
    if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
    return Number.isFinite(x) ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The merged list [{ name, from, text }] in Wrangler's order, `from` being each file's first
 * directory; a Refusal naming every clash (same name, other content) before anything is written.
 */
export function mergeMigrations(dirs) {
  const merged = new Map();
  const clashes = [];
  for (const dir of dirs) {
    for (const [name, text] of sqlFiles(dir)) {
      const seen = merged.get(name);
      if (!seen) merged.set(name, { name, from: dir, text });
      else if (seen.text !== text) clashes.push(`${name} (${seen.from} and ${dir})`);
    }
  }
  if (clashes.length) {
    throw new Refusal(`migration names clash with different content: ${clashes.join(", ")}. The kit's are ` +
      "applied by name: give yours a name of its own (a new file; never rename one already applied)");
  }
  return [...merged.values()].sort((a, b) => compareMigrationNames(a.name, b.name));
}

/**
 * Writes the kit's and the seller's migrations into `out`, leaving exactly those `.sql` files
 * there; returns the merged list. Throws a Refusal (nothing written) on a clash.
 */
export function assembleMigrations({ root = ROOT, kit = kitMigrationsDir(root), seller = join(root, "migrations"),
  out = join(root, MIGRATIONS_DIR) } = {}) {
  if ([kit, seller].some((d) => resolve(d) === resolve(out))) throw new Refusal(`${out} is a source directory, not the output`);
  const files = mergeMigrations([kit, seller]);
  mkdirSync(out, { recursive: true });
  const present = sqlFiles(out);
  for (const f of files) {
    if (present.get(f.name) === f.text) continue;
    const tmp = join(out, `.${f.name}.${process.pid}.tmp`);
    writeFileSync(tmp, f.text);
    renameSync(tmp, join(out, f.name));
  }
  const wanted = new Set(files.map((f) => f.name));
  for (const name of present.keys()) if (!wanted.has(name)) rmSync(join(out, name), { force: true });
  return files;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const kit = kitMigrationsDir();
    const files = assembleMigrations({ kit });
    const count = (dir) => files.filter((f) => f.from === dir).length;
    const show = (dir) => relative(ROOT, dir).startsWith("..") ? dir : relative(ROOT, dir);
    console.log(`migrations: ${count(kit)} of the kit's (${show(kit)}) and ${files.length - count(kit)} of yours ` +
      `(migrations/) in ${MIGRATIONS_DIR}/`);
  } catch (e) {
    console.error(`${e instanceof Refusal ? "refused" : "failed"}: ${e.message}`);
    process.exit(e instanceof Refusal ? 2 : 1);
  }
}
