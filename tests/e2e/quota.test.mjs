// Free quotas on workerd with D1 local: 64 concurrent calls against a quota of 10 settle to
// exactly 10 runs, however they race; failed runs give their call back; each caller has their own
// count; whoami and tools/list show it; the log says which calls were free and which refused.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack } from "./stack.mjs";
import { d1, EXAMPLES_BUILD } from "./harness.mjs";

let stack;
before(async () => {
  stack = await startStack({ name: "quota", script: EXAMPLES_BUILD });
});
after(async () => {
  await stack?.stop();
});

const rpc = (token, method, params) => stack.rpc(token, method, params);
const callQuotaTool = (token, fail = false) => rpc(token, "tools/call", { name: "test_free_quota", arguments: { fail } });
const quotaOf = async (token) =>
  (await rpc(token, "tools/call", { name: "whoami", arguments: {} })).structuredContent.quotas.find((q) => q.quota === "test_free_quota");

/** The next UTC midnight, as the quota's reset time. */
const nextMidnight = () => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)).toISOString().replace(".000Z", "Z");
};

test("64 concurrent calls against 10 free calls: exactly 10 run", async (t) => {
  const token = await stack.token();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: 64 }, () => callQuotaTool(token)));
  t.diagnostic(`64 concurrent calls settled in ${(performance.now() - t0).toFixed(0)} ms`);
  const ran = results.filter((r) => r.isError !== true);
  const refused = results.filter((r) => r.structuredContent?.error === "quota_exceeded");
  assert.equal(ran.length, 10);
  assert.equal(refused.length, 54);
  assert.equal(refused[0].structuredContent.resets_at, nextMidnight());
  assert.match(refused[0].content[0].text, /free quota "test_free_quota" \(10 calls per day\) is used up; it resets at /);
  const rows = await d1(stack.worker, "SELECT user_sub, quota_key, used FROM quota_usage");
  assert.deepEqual(rows.map((r) => [r.quota_key, r.used]), [["test_free_quota", 10]]);
  const q = await quotaOf(token);
  assert.deepEqual(q, { quota: "test_free_quota", calls: 10, window: "day", used: 10, remaining: 0, resets_at: nextMidnight() });
  const logged = stack.worker.requestLogs().filter((l) => l.tool === "test_free_quota");
  assert.equal(logged.filter((l) => l.billing === "free_quota").length, 10);
  assert.equal(logged.filter((l) => l.billing === "quota_exceeded").length, 54);
});

test("a failed run gives its call back; another caller has their own quota", async () => {
  const { access_token: token } = await stack.issuer.userTokens({ user: "quinn" });
  for (let i = 0; i < 3; i++) assert.equal((await callQuotaTool(token, true)).isError, true);
  assert.equal((await quotaOf(token)).used, 0, "three failed runs cost nothing");
  const results = await Promise.all(Array.from({ length: 12 }, () => callQuotaTool(token)));
  assert.equal(results.filter((r) => r.isError !== true).length, 10, "quinn's own ten, untouched by the first caller's");
  assert.equal((await quotaOf(token)).remaining, 0);
});

test("tools/list shows the free quota for clients to display", async () => {
  const { tools } = await rpc(await stack.token(), "tools/list", {});
  const t = tools.find((x) => x.name === "test_free_quota");
  assert.deepEqual(t._meta, { "mkit/free_quota": { calls: 10, window: "day", quota: "test_free_quota" } });
});
