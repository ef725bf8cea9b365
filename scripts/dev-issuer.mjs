// `make dev`'s local authorization server: oidc-provider on 127.0.0.1:9400 with a registered
// dev client (mkit-test / mkit-test-secret), dynamic client registration on (local only), and
// dev login screens that accept any user name and password.

import { startIssuer, CLIENT_ID, CLIENT_SECRET } from "../tests/e2e/issuer.mjs";

const port = Number(process.env.ISSUER_PORT ?? 9400);
const resource = process.env.MCP_RESOURCE ?? "http://127.0.0.1:8787/mcp";
const issuer = await startIssuer({
  port,
  resource,
  registration: true,
  // The Inspector's callbacks, and mKit's own sign-in callback (pay pages, AUTH_SERVER=on).
  redirectUris: ["http://localhost:6274/oauth/callback", "http://localhost:6274/oauth/callback/debug", `http://127.0.0.1:${port}/cb`,
    `${new URL(resource).origin}/billing/callback`],
});
console.log(`dev issuer ${issuer.url} (client ${CLIENT_ID} / ${CLIENT_SECRET}, resource ${resource})`);
const stop = async () => {
  await issuer.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
