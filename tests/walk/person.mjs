// A person at a real browser (Chromium through playwright-core): a client prints the URL to sign
// in; they open it, sign in at the local identity provider, allow on mKit's consent page when it
// asks, and land on the client's "Signed in" page.

import { spawn } from "node:child_process";
import { signInAtDevIssuer, withBrowser } from "../e2e/browser.mjs";
import { shellEnv } from "./stranger.mjs";

/** Signs `user` in at `url` in a fresh browser; returns the steps done (e.g. login, consent, allow). */
export async function signIn(url, user) {
  return withBrowser(async (page) => {
    await page.goto(url);
    const { steps } = await signInAtDevIssuer(page, user);
    const allow = page.locator('form[action="/oauth/consent"] button[value="allow"]');
    const done = page.locator("#done");
    try {
      await allow.or(done).first().waitFor();
      if (await allow.count()) {
        steps.push("allow");
        await allow.click();
      }
      await done.waitFor();
    } catch (e) {
      const text = await page.locator("body").innerText().catch(() => "");
      throw new Error(`${e.message.split("\n")[0]} after ${steps.join(", ")} at ${page.url()}: ${text.replace(/\s+/g, " ").slice(0, 300)}`);
    }
    return steps;
  });
}

/**
 * Runs a documented client command in `dir`; when it prints "Open this URL to sign in: …", signs
 * `user` in. Resolves { code, out, err, steps }: out is the client's output, whose last line is
 * the tool's result as JSON.
 */
export function runClient(dir, command, user, { timeoutMs = 180_000 } = {}) {
  return new Promise((ok) => {
    let out = "";
    let err = "";
    let steps = null;
    // Its own process group, so a kill reaches the client under bash and npm.
    const child = spawn("bash", ["-c", command], { cwd: dir, env: shellEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
    const kill = () => { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } };
    const timer = setTimeout(() => {
      err += `\nno answer in ${timeoutMs / 1000} s`;
      kill();
    }, timeoutMs);
    child.stdout.on("data", (d) => {
      out += d;
      const url = out.match(/Open this URL to sign in: (\S+)/)?.[1];
      if (url && !steps) {
        steps = signIn(url, user).catch((e) => {
          err += `\nsign-in failed: ${e.message}`;
          kill();
          return [];
        });
      }
    });
    child.stderr.on("data", (d) => { err += d; });
    child.on("close", async (code, signal) => {
      clearTimeout(timer);
      ok({ code: code ?? signal, out, err, steps: await steps });
    });
  });
}

/** The tool result a client printed: its last line, parsed. */
export function lastJson(out) {
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`the client's last line is not JSON: ${line}`);
  }
}

/**
 * Follows a pay link as `user` in a fresh browser: signs in at the identity provider, pays on the
 * checkout page `make dev` serves (the local simulation) and waits for mKit's success page.
 * Returns { steps, checkout } — the checkout page's text.
 */
export async function pay(url, user) {
  return withBrowser(async (page) => {
    await page.goto(url);
    const { steps } = await signInAtDevIssuer(page, user);
    const payButton = page.locator("#pay");
    await payButton.waitFor();
    const checkout = await page.locator("body").innerText();
    await payButton.click();
    await page.waitForURL(/\/billing\/success/);
    return { steps, checkout, success: await page.locator("body").innerText() };
  });
}
