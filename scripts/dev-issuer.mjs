// `make dev`'s local authorization server: oidc-provider on 127.0.0.1:9400 with a registered dev
// client (mkit-test / mkit-test-secret), dynamic client registration on (local only), and dev login
// screens that accept any user name and password. Its signing keys live in
// .wrangler/dev-issuer/keys.json, beside the local state that caches them: a restart keeps them,
// so the worker's copy of the issuer's keys stays right (a new key would also get a new kid).

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { newSigningKeys, startIssuer } from "../tests/e2e/issuer.mjs";
import { ROOT } from "./wrangler-config.mjs";

export const ISSUER_PORT = 9400;
export const KEY_FILE = join(ROOT, ".wrangler", "dev-issuer", "keys.json");

/** The kept keys, or new ones written to KEY_FILE (readable by this user only). */
async function keptKeys() {
  try {
    const keys = JSON.parse(readFileSync(KEY_FILE, "utf8")).keys;
    if (Array.isArray(keys) && keys.length === 2) return keys;
  } catch {
    // absent or unreadable: make new ones below
  }
  const keys = await newSigningKeys();
  mkdirSync(dirname(KEY_FILE), { recursive: true });
  writeFileSync(KEY_FILE, JSON.stringify({ keys }), { mode: 0o600 });
  chmodSync(KEY_FILE, 0o600);
  return keys;
}

/** Starts the dev issuer for the worker at `resource`. */
export async function startDevIssuer(resource) {
  const origin = new URL(resource).origin;
  return startIssuer({
    port: ISSUER_PORT,
    resource,
    registration: true,
    keys: await keptKeys(),
    // The Inspector's callbacks, and mKit's own sign-in callbacks (pay pages, authorization server).
    redirectUris: ["http://localhost:6274/oauth/callback", "http://localhost:6274/oauth/callback/debug",
      `http://127.0.0.1:${ISSUER_PORT}/cb`, `${origin}/billing/callback`],
  });
}
