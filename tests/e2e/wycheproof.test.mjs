// Project Wycheproof through the signature check mKit runs on Workers: workerd's WebCrypto
// (crates/mkit/src/edge/webcrypto.rs), with keys taken or refused by the same `parse_jwk` as natively. The
// vectors come from the native suite (crates/mkit/tests/wycheproof.rs, `vectors_for_workerd`), so both
// targets judge the very same cases; every `valid`/`invalid` verdict must match, `acceptable`
// may go either way. Uses the fixtures build (build-fixtures/), which is never deployed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT, EXAMPLES_BUILD, startWorker } from "./harness.mjs";

const run = promisify(execFile);
let worker;
let vectors;
before(async () => {
  const dir = join(ROOT, ".e2e", `wycheproof-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "vectors.json");
  await run("cargo", ["test", "--quiet", "-p", "mkit", "--test", "wycheproof", "--", "--ignored", "--exact", "vectors_for_workerd"],
    { cwd: ROOT, env: { ...process.env, MKIT_WYCHEPROOF_OUT: out }, maxBuffer: 1 << 24 });
  vectors = JSON.parse(readFileSync(out, "utf8"));
  worker = await startWorker({ name: "wycheproof", script: EXAMPLES_BUILD, migrate: false });
});
after(async () => {
  await worker?.stop();
});

test("every Wycheproof signature verdict through workerd's WebCrypto matches", async () => {
  assert.ok(vectors.length > 3000, `${vectors.length} vectors`);
  const tally = new Map();
  const mismatches = [];
  for (let i = 0; i < vectors.length; i += 400) {
    const batch = vectors.slice(i, i + 400);
    const res = await fetch(`${worker.url}/__fixtures/jws-verify`, { method: "POST",
      headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
    assert.equal(res.status, 200, await res.clone().text());
    const verdicts = await res.json();
    assert.equal(verdicts.length, batch.length);
    batch.forEach((v, j) => {
      const t = tally.get(v.file) ?? { run: 0, matched: 0, acceptable: 0, refused: 0 };
      tally.set(v.file, t);
      t.run++;
      if (verdicts[j] === "refused") t.refused++;
      const got = verdicts[j] === true;
      if (v.expected === "acceptable") t.acceptable++;
      else if (got === (v.expected === "valid")) t.matched++;
      else mismatches.push(`${v.file} tcId ${v.tc}: expected ${v.expected}, got ${verdicts[j]}`);
    });
  }
  for (const [file, t] of tally) {
    console.log(`wycheproof via WebCrypto ${file}: ${t.run} cases, ${t.matched} matched, ${t.acceptable} acceptable, ${t.refused} of refused keys`);
  }
  assert.deepEqual(mismatches, []);
  for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"]) {
    assert.ok(vectors.some((v) => v.alg === alg), `vectors for ${alg}`);
  }
  // Valid signatures did verify: the check is not merely refusing everything.
  const valid = vectors.filter((v) => v.expected === "valid").length;
  assert.ok(valid > 500, `${valid} valid vectors`);
});

test("a malformed request to the fixture answers 400, never a 5xx", async () => {
  for (const body of ["{", "[{}]", '[{"alg":"HS256","msg":"","sig":""}]']) {
    const res = await fetch(`${worker.url}/__fixtures/jws-verify`, { method: "POST", body });
    assert.equal(res.status, 400, body);
    await res.arrayBuffer();
  }
});
