// What the walk reads from the docs: the code block right after a `<!-- walk: NAME -->` marker
// (an HTML comment, invisible to readers). The walk runs that block's text, so the docs and the
// walk cannot drift apart: change the block and the walk runs the change. Other tests read their
// own markers the same way (`<!-- minimal: NAME -->`, tests/e2e/minimal-server.test.mjs).

import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The body of the fenced block after `<!-- kind: name -->` in `file` (under `root`). */
export function block(root, file, name, kind = "walk") {
  const marker = `<!-- ${kind}: ${name} -->`;
  const text = readFileSync(join(root, file), "utf8");
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`${file} has no ${marker} marker`);
  const m = text.slice(at).match(/^ *```[\w-]*\n([\s\S]*?)^ *```/m);
  if (!m) throw new Error(`${file}: no code block after ${marker}`);
  return m[1];
}

/** Shell lines of a block: backslash continuations joined, comments and blank lines dropped. */
export function commands(body) {
  return body.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter((l) => l && !l.startsWith("#"));
}

/** The one command of a block that starts with `prefix` (e.g. "make dev"). */
export function command(body, prefix) {
  const found = commands(body).filter((l) => l.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one \`${prefix}\` command, found ${found.length}`);
  return found[0];
}
