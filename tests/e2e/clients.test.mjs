// The client guide's SDK examples (examples/clients, shown in docs/clients.md), run as a user runs
// them: each is started against an mKit server on workerd, prints its authorization URL, a person
// signs in at the upstream provider and consents in Chromium, the browser lands on the example's
// loopback listener, and the example calls whoami and prints the result.
//
// Two servers: mKit as the authorization server (DCR, PKCE, consent), and mKit as a plain resource
// server in front of oidc-provider with registration open (the provider does DCR and consent).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROOT, startWorker, defaultVars, freePort } from "./harness.mjs";
import { startIssuer, CLIENT_ID, CLIENT_SECRET } from "./issuer.mjs";
import { startStack } from "./stack.mjs";
import { withBrowser, signInAtDevIssuer } from "./browser.mjs";

const EXAMPLES = join(ROOT, "examples/clients");
const PYTHONPATH = join(ROOT, ".tools/python");

let asWorker;
let asIssuer;
let asResource;
let rs;
before(async () => {
  const port = await freePort();
  asResource = `http://127.0.0.1:${port}/mcp`;
  asIssuer = await startIssuer({ resource: asResource, redirectUris: [`http://127.0.0.1:${port}/billing/callback`] });
  [asWorker, rs] = await Promise.all([
    startWorker({ name: "clients-as", port, vars: { ...defaultVars(), OAUTH_ISSUER: asIssuer.url, MCP_RESOURCE: asResource,
      MKIT_WEB_CLIENT_ID: CLIENT_ID, MKIT_WEB_CLIENT_SECRET: CLIENT_SECRET, MKIT_AUTH_SERVER: "on", MKIT_AUTH_CLAIMS: "email" } }),
    // The 401 names the scope to ask for, which the provider requires before it grants anything.
    startStack({ name: "clients-rs", issuerOptions: { registration: true }, vars: { OAUTH_REQUIRED_SCOPES: "mcp" } }),
  ]);
});
after(async () => {
  await Promise.all([asWorker?.stop(), asIssuer?.stop(), rs?.stop()]);
});

/**
 * Runs an example to completion: `person(page, url)` plays the user in Chromium once the example
 * prints its authorization URL. Resolves with the example's last output line, parsed.
 */
async function runExample(command, args, person, env = {}) {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const lines = [];
  const exited = new Promise((r) => child.once("exit", r));
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  try {
    let prompted = false;
    for await (const line of createInterface({ input: child.stdout })) {
      lines.push(line);
      const m = /^Open this URL to sign in: (\S+)$/.exec(line);
      if (m && !prompted) {
        prompted = true;
        await withBrowser((page) => person(page, m[1]));
      }
    }
    const code = await exited;
    assert.equal(code, 0, `${command} ${args.join(" ")} exited ${code}:\n${lines.join("\n")}\n${stderr}`);
    assert.ok(prompted, `the example asked the user to sign in:\n${lines.join("\n")}\n${stderr}`);
    return JSON.parse(lines.at(-1));
  } finally {
    clearTimeout(timer);
    child.kill();
  }
}

/** The person at mKit's authorization server: upstream sign-in, then mKit's consent page. */
const consentAtMkit = (user) => async (page, url) => {
  assert.ok(url.startsWith(`${new URL(asResource).origin}/oauth/authorize?`), url);
  await page.goto(url);
  await signInAtDevIssuer(page, user);
  await page.locator('button[value="allow"]').click();
  await page.locator("#done").waitFor();
};

/** The person at the upstream provider only (mKit as a plain resource server). */
const consentAtProvider = (user) => async (page, url) => {
  assert.ok(url.startsWith(`${rs.issuer.url}auth?`), url);
  await page.goto(url);
  await signInAtDevIssuer(page, user);
  await page.locator("#done").waitFor();
};

test("TypeScript SDK example: DCR at mKit's authorization server, sign-in, consent, whoami", async () => {
  const me = await runExample(process.execPath, [join(EXAMPLES, "oauth-client.mjs"), asResource], consentAtMkit("tess"));
  assert.equal(me.sub, "tess");
  assert.match(me.client_id, /^mkit_/, "registered with mKit");
  assert.deepEqual(me.claims, { email: "tess@example.test" });
});

test("Python SDK example: DCR at mKit's authorization server, sign-in, consent, whoami", async () => {
  const me = await runExample("python3", [join(EXAMPLES, "oauth_client.py"), asResource], consentAtMkit("pyotr"), { PYTHONPATH });
  assert.equal(me.sub, "pyotr");
  assert.match(me.client_id, /^mkit_/);
});

test("both examples against mKit as a resource server of a provider with DCR", async () => {
  const ts = await runExample(process.execPath, [join(EXAMPLES, "oauth-client.mjs"), rs.resource], consentAtProvider("tara"));
  assert.equal(ts.sub, "tara");
  const py = await runExample("python3", [join(EXAMPLES, "oauth_client.py"), rs.resource], consentAtProvider("paul"), { PYTHONPATH });
  assert.equal(py.sub, "paul");
  assert.notEqual(ts.client_id, py.client_id, "each registered itself at the provider");
});
