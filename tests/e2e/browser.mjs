// A real browser for the end-to-end tests: npm `playwright-core` (pinned in package.json) driving
// Debian's `chromium` (installed by `make setup-browser`; Playwright's own browser downloads are
// not used). Pages may reach loopback only: every request to another host is aborted, so a test
// never depends on the network (oidc-provider's pages @import a web font, for one).
//
//   await withBrowser(async (page) => {
//     await page.goto(authorizeUrl);
//     const { url } = await signInAtDevIssuer(page, "alice");
//   });

import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.MKIT_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run"];
/** The default timeout for page actions and waits, in ms. */
export const TIMEOUT = 15_000;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const isLoopback = (url) => !/^https?:$|^wss?:$/.test(url.protocol) || LOOPBACK.has(url.hostname) ||
  url.hostname.endsWith(".localhost");

/**
 * Launches chromium, opens a fresh context and page, runs `fn(page, context)` and always closes
 * the browser, returning what `fn` returned. Options: loopbackOnly (default true: requests to
 * other hosts are aborted and listed in `context.blocked`), context (options for newContext).
 */
export async function withBrowser(fn, { loopbackOnly = true, context: contextOptions = {} } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: run \`make setup-browser\` (installs Debian's chromium) or set MKIT_CHROMIUM`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  try {
    const context = await browser.newContext(contextOptions);
    context.setDefaultTimeout(TIMEOUT);
    context.blocked = [];
    if (loopbackOnly) {
      await context.route((url) => !isLoopback(url), (route) => {
        context.blocked.push(route.request().url());
        return route.abort("blockedbyclient");
      });
    }
    const page = await context.newPage();
    return await fn(page, context);
  } finally {
    await browser.close();
  }
}

// oidc-provider 9.x's devInteractions (lib/views/login.js and interaction.js): each step is one
// form posting to /interaction/:uid, told apart by its hidden `prompt` input.
export const SELECTORS = {
  loginForm: 'form:has(input[name="prompt"][value="login"])',
  login: 'input[name="login"]',
  password: 'input[name="password"]',
  consentForm: 'form:has(input[name="prompt"][value="consent"])',
  submit: 'button[type="submit"]',
};

const onInteraction = (url) => /\/interaction\/[^/]+\/?$/.test(new URL(url).pathname);

/**
 * Completes oidc-provider's devInteractions for `user` from wherever the authorization request
 * left `page`: the login form (any user name and password are accepted; the account id is the
 * user name), then the consent screen. Either step is skipped when the issuer skips it (an
 * existing session, an existing grant). Waits until the browser has left the interaction pages
 * and returns { url, steps }: the page's URL then (usually the client's redirect URI with `code`
 * and `state`) and the steps done, e.g. ["login", "consent"]. Throws, with the page text, when
 * the issuer shows its error page instead. Options: password, timeout.
 */
export async function signInAtDevIssuer(page, user, { password = "any-password", timeout = TIMEOUT } = {}) {
  const steps = [];
  await page.waitForLoadState("domcontentloaded", { timeout });
  for (let i = 0; i < 4 && onInteraction(page.url()); i++) {
    const login = page.locator(SELECTORS.loginForm);
    const consent = page.locator(SELECTORS.consentForm);
    await login.or(consent).waitFor({ timeout });
    let form;
    if (await login.count()) {
      form = login;
      await form.locator(SELECTORS.login).fill(user, { timeout });
      await form.locator(SELECTORS.password).fill(password, { timeout });
      steps.push("login");
    } else {
      form = consent;
      steps.push("consent");
    }
    // Login and consent share one URL, so wait for the submitted form to go rather than for a URL.
    await form.locator(SELECTORS.submit).click({ timeout });
    await form.waitFor({ state: "detached", timeout });
    await page.waitForLoadState("domcontentloaded", { timeout });
  }
  if (onInteraction(page.url())) throw new Error(`still on the issuer's interaction page after ${steps.join(", ")}: ${page.url()}`);
  const text = await page.locator("body").innerText({ timeout }).catch(() => "");
  if (/oops! something went wrong/i.test(text)) {
    throw new Error(`the issuer refused (${page.url()}): ${text.replace(/\s+/g, " ").trim()}`);
  }
  return { url: page.url(), steps };
}
