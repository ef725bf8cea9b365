// What a macOS or Linux arm64 operator runs must not need this machine's tools (issue 27, findings
// 5, 7 and 8). Stock macOS has bash 3.2, make 3.81 and BSD tools; the shell the Makefile and
// scripts use is checked here for what those lack, and the deploy path for what it installs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

// bash >= 4 only, GNU-only, or absent on macOS (toolchain.md, "Stock macOS").
const NOT_ON_MACOS = [
  [/\bwait -n\b/, "`wait -n` (bash >= 4.3)"],
  [/\b(mapfile|readarray)\b/, "mapfile (bash 4)"],
  [/\bdeclare -A\b/, "associative arrays (bash 4)"],
  [/\$\{\w+(,,|\^\^)\}/, "case conversion (bash 4)"],
  [/\bnproc\b/, "nproc (use getconf _NPROCESSORS_ONLN)"],
  [/\bsha256sum\b/, "sha256sum (use shasum -a 256)"],
  [/\bsetsid\b/, "setsid"],
  [/\bsed -i(\s|$)/, "GNU sed -i (BSD sed needs an argument)"],
  [/"\$\{\w+\[@\]\}"/, "an array expansion (aborts under set -u on bash 3.2 when empty)"],
];

function shellSources() {
  const scripts = readdirSync(join(ROOT, "scripts")).filter((f) => f.endsWith(".sh")).map((f) => `scripts/${f}`);
  return ["Makefile", ".ci/run", ...scripts];
}

test("the Makefile and shell scripts use nothing stock macOS lacks", () => {
  const found = [];
  for (const file of shellSources()) {
    readFileSync(join(ROOT, file), "utf8").split("\n").forEach((line, i) => {
      if (/^\s*#/.test(line)) return;
      for (const [re, what] of NOT_ON_MACOS) if (re.test(line)) found.push(`${file}:${i + 1}: ${what}`);
    });
  }
  assert.deepEqual(found, []);
});

test("make deploy and the ops targets install only what they run", () => {
  for (const target of ["deploy ENV=staging", "provision ENV=staging", "rollback ENV=staging", "check URL=http://x", "dev"]) {
    // -n: what make would run, with each recursive make's plan too; nothing runs.
    const plan = execFileSync("make", ["-n", ...target.split(" ")], { cwd: ROOT, encoding: "utf8",
      env: { ...process.env, MAKEFLAGS: "" } });
    for (const tool of ["lychee", "chromium", "cargo-fuzz", "pip install", "apt-get"]) {
      assert.ok(!plan.includes(tool), `make ${target} would install ${tool}:\n${plan}`);
    }
  }
});

test("the Rust toolchain is pinned, and it is the one that runs", () => {
  const pinned = readFileSync(join(ROOT, "rust-toolchain.toml"), "utf8").match(/^channel = "(\d+\.\d+\.\d+)"$/m)?.[1];
  assert.ok(pinned, "rust-toolchain.toml names an exact version, not stable");
  assert.match(execFileSync("rustc", ["--version"], { cwd: ROOT, encoding: "utf8" }), new RegExp(`^rustc ${pinned.replaceAll(".", "\\.")} `));
});
