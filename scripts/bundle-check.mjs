// A bundle that can point mKit at a test server must never be deployed. Such code exists only in
// the fixtures build (the end-to-end tests) and `make dev`'s build (the local checkout
// simulation); both read a `MKIT_TEST_…` variable, whose name is then in the WebAssembly.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const TEST_ONLY = /MKIT_TEST_[A-Z_]+/;

/** Why the bundle whose entry is `main` must not be deployed, or null when it may be. */
export function undeployable(main) {
  const dir = dirname(main);
  if (!existsSync(dir)) return `no bundle at ${dir}: run make worker`;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".wasm"))) {
    const found = readFileSync(join(dir, file)).toString("latin1").match(TEST_ONLY);
    if (found) {
      return `${join(dir, file)} reads ${found[0]}: it is a test or \`make dev\` build (features fixtures or ` +
        "local-checkout), never deployable. Build the release bundle with `make worker` (a plain `worker-build --release`)";
    }
  }
  return null;
}
