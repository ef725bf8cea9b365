// A complete MCP client with OAuth, on the official TypeScript SDK (@modelcontextprotocol/sdk), the
// way a command-line or desktop client connects to an mKit server:
//
//   node examples/clients/oauth-client.mjs https://mcp.example.com/mcp [tool] [arguments as JSON]
//
// 1. The first request gets 401; the SDK reads the Protected Resource Metadata (RFC 9728) it
//    names, then the authorization server's metadata (RFC 8414).
// 2. It registers this client (Dynamic Client Registration, RFC 7591) with a loopback redirect URI.
// 3. It asks us to open the authorization URL (PKCE, and `resource` = the server, RFC 8707): we
//    print it; the user signs in and consents in a browser, which comes back to our loopback
//    listener with the code.
// 4. The SDK exchanges the code for tokens; we reconnect and call a tool (default: whoami),
//    printing its structured result as one JSON line.
//
// State (registration, tokens) lives in memory here; a real client keeps it per server.

import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [serverUrl, tool = "whoami", args = "{}"] = process.argv.slice(2);
if (!serverUrl) {
  console.error("usage: node oauth-client.mjs <MCP server URL> [tool] [arguments as JSON]");
  process.exit(2);
}

/** A loopback listener for the authorization response (RFC 8252 §7.3): resolves with its query. */
async function startCallbackListener() {
  let resolve;
  const answered = new Promise((r) => { resolve = r; });
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname !== "/callback") return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>Signed in</title><h1 id=\"done\">Signed in. You can close this window.</h1>");
    resolve(url.searchParams);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { redirectUri: `http://127.0.0.1:${server.address().port}/callback`, answered, close: () => server.close() };
}

/** The SDK's OAuthClientProvider: what it stores and how it sends the user to sign in. */
class InMemoryOAuthProvider {
  constructor(redirectUri) {
    this.redirectUri = redirectUri;
    this.saved = {};
  }
  get redirectUrl() { return this.redirectUri; }
  get clientMetadata() {
    return { client_name: "mKit example client", redirect_uris: [this.redirectUri], grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"], token_endpoint_auth_method: "none",
      // MCP 2026-07-28 (SEP-837): a program on this device, redirecting to loopback, is native.
      application_type: "native" };
  }
  clientInformation() { return this.saved.client; }
  saveClientInformation(client) { this.saved.client = client; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; }
  state() { return (this.saved.csrf = randomBytes(16).toString("base64url")); }
  saveCodeVerifier(verifier) { this.saved.verifier = verifier; }
  codeVerifier() { return this.saved.verifier; }
  redirectToAuthorization(url) {
    // A desktop client opens the system browser here.
    console.log(`Open this URL to sign in: ${url.href}`);
  }
}

const callback = await startCallbackListener();
const auth = new InMemoryOAuthProvider(callback.redirectUri);
const client = new Client({ name: "mkit-example-client", version: "1.0.0" });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: auth }));
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
  const params = await callback.answered;
  // The answer must be to our request (CSRF): the state we sent comes back.
  if (params.get("state") !== auth.saved.csrf) throw new Error("authorization response with a foreign state");
  if (!params.get("code")) throw new Error(`authorization failed: ${params.get("error")} ${params.get("error_description") ?? ""}`);
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: auth });
  await transport.finishAuth(params.get("code"));
  await client.connect(transport);
}
callback.close();
const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
console.log(JSON.stringify(result.structuredContent ?? result.content));
await client.close();
