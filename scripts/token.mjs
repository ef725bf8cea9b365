// `make token`: a client_credentials access token from the `make dev` issuer, for curl.
import { CLIENT_ID, CLIENT_SECRET, SCOPES } from "../tests/e2e/issuer.mjs";

const issuer = process.env.ISSUER ?? "http://127.0.0.1:9400/";
const resource = process.env.MCP_RESOURCE ?? "http://127.0.0.1:8787/mcp";
const res = await fetch(`${issuer}token`, {
  method: "POST",
  headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
    "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ grant_type: "client_credentials", scope: SCOPES, resource }),
}).catch(() => null);
if (!res?.ok) {
  console.error(`token: no token from ${issuer} (is \`make dev\` running?)`);
  process.exit(1);
}
console.log((await res.json()).access_token);
