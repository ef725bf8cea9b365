// A stranger's machine for the walk: a clean clone of this repository in a temporary directory, a
// shell environment without anything the project's own Makefile or tests set, and the things a
// person does there — run a documented command, start and stop `make dev` with Ctrl-C, and sign in
// through a browser when a client prints a URL.
//
// Two caches are shared with this checkout, to keep the walk within CI's budget; neither changes
// what runs: the pinned tools in .tools (the same versions the clone's Makefile pins; installing
// them is the 15 minutes of compiling the README announces) and Cargo's target directory (compiled
// dependencies; the clone's own crate is built anew, from its own path).

import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

/**
 * A clean clone of HEAD, plus the work tree's uncommitted changes (a developer walks what they
 * have; CI's clone has none). Returns its path.
 */
export function cleanClone() {
  const dir = join(mkdtempSync(join(tmpdir(), "mkit-walk-")), "mkit");
  execFileSync("git", ["clone", "-q", ROOT, dir]);
  const changed = execFileSync("git", ["ls-files", "-z", "-m", "-o", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  for (const file of changed.split("\0").filter(Boolean)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    if (existsSync(join(ROOT, file))) copyFileSync(join(ROOT, file), join(dir, file));
    else rmSync(join(dir, file), { force: true });
  }
  if (existsSync(join(ROOT, ".tools"))) symlinkSync(join(ROOT, ".tools"), join(dir, ".tools"));
  return dir;
}

/**
 * Removes a clean clone (about 650 MB once built): left behind, a few walks fill a disk, and the
 * next build fails to link. The link to this checkout's .tools goes first, by itself.
 */
export function removeClone(dir) {
  if (!dir) return;
  rmSync(join(dir, ".tools"), { force: true });
  rmSync(dirname(dir), { recursive: true, force: true });
}

/** The environment of a person's shell: no variable the project's Makefile or tests export. */
export function shellEnv(extra = {}) {
  const set = /^(MKIT_|WASM_|ESBUILD_BIN$|MAKE|MFLAGS$|CLOUDFLARE_|WRANGLER_|STRIPE_|npm_|NODE_|CARGO_TARGET_DIR$)/;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !set.test(k)));
  env.PATH = (process.env.PATH ?? "").split(":").filter((p) => p && !p.startsWith(ROOT)).join(":");
  return { ...env, CARGO_TARGET_DIR: join(ROOT, "target"), ...extra };
}

/** Runs a documented shell command in the clone; resolves { code, out, err } (never rejects). */
export function sh(dir, command, { timeoutMs = 15 * 60_000, env = {} } = {}) {
  return new Promise((ok) => {
    const child = spawn("bash", ["-c", command], { cwd: dir, env: shellEnv(env), stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs, killSignal: "SIGKILL" });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    child.on("close", (code, signal) => ok({ code: code ?? signal, out, err }));
  });
}

/**
 * Starts a long-running documented command (`make dev`) in its own process group, as a terminal
 * does; resolves once `ready` appears in its output. `stop()` is Ctrl-C: SIGINT to the group.
 */
export async function startForeground(dir, command, { ready, timeoutMs = 15 * 60_000 } = {}) {
  const child = spawn("bash", ["-c", command], { cwd: dir, env: shellEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  const exited = new Promise((ok) => child.on("exit", (code, signal) => ok(code ?? signal)));
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`\`${command}\` not ready in ${timeoutMs / 1000} s:\n${log.slice(-3000)}`)), timeoutMs);
    const seen = (d) => {
      log += d;
      if (log.includes(ready)) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", seen);
    exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`\`${command}\` exited ${code} before it was ready:\n${log.slice(-3000)}`));
    });
  });
  return {
    log: () => log,
    /** Ctrl-C; resolves with the exit status once every process of the group has gone. */
    async stop() {
      const group = -child.pid;
      try { process.kill(group, "SIGINT"); } catch { return exited; }
      const timer = setTimeout(() => { try { process.kill(group, "SIGKILL"); } catch { /* gone */ } }, 30_000);
      const code = await exited;
      for (let i = 0; i < 100 && groupAlive(group); i++) await new Promise((r) => setTimeout(r, 100));
      clearTimeout(timer);
      return code;
    },
  };
}

/** Whether `port` on 127.0.0.1 can be listened on now. */
export function canListen(port) {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once("error", () => ok(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => ok(true)));
  });
}

function groupAlive(group) {
  try {
    process.kill(group, 0);
    return true;
  } catch {
    return false;
  }
}
