// A machine client on the official TypeScript SDK (@modelcontextprotocol/sdk): a program with no
// person present (a nightly job, a backend, an agent on a server) that calls an mKit server with
// the client credentials grant (the MCP extension io.modelcontextprotocol/oauth-client-credentials).
// The operator registered it with `make client-create`, which printed its client id and either a
// client secret or, given the public key, nothing more.
//
//   MKIT_CLIENT_ID=mkit_m_… MKIT_CLIENT_SECRET=… node examples/clients/machine_client.mjs https://mcp.example.com/mcp
//   MKIT_CLIENT_ID=mkit_m_… MKIT_PRIVATE_KEY=key.pem node examples/clients/machine_client.mjs https://mcp.example.com/mcp
//
// Arguments: the MCP server URL, then optionally the tool (default whoami) and its arguments as
// JSON. Environment:
//   MKIT_CLIENT_ID     the client id (mkit_m_…)
//   MKIT_CLIENT_SECRET its client secret (client_secret_basic), or
//   MKIT_PRIVATE_KEY   a file holding its private key, PEM or a JWK (private_key_jwt: the SDK signs a
//                      fresh assertion, good for 5 minutes, for each token request)
//   MKIT_KEY_ALG       the key's algorithm (default: ES256 for EC, EdDSA for Ed25519, RS256 for RSA)
//   MKIT_ISSUER        the authorization server (default: the origin of the server URL, which is
//                      mKit's issuer): the SDK presents the credentials to no other
//   MKIT_SCOPE         the scopes to ask for (default: every scope registered to the client)
//
// The SDK gets the 401, reads the Protected Resource Metadata and the authorization server's
// metadata, asks /oauth/token for a token (no refresh token: it asks again when one expires),
// and calls the tool. It prints the tool's structured result as one JSON line.

import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";

const [serverUrl, tool = "whoami", args = "{}"] = process.argv.slice(2);
const { MKIT_CLIENT_ID: clientId, MKIT_CLIENT_SECRET: clientSecret, MKIT_PRIVATE_KEY: keyFile } = process.env;
if (!serverUrl || !clientId || !clientSecret === !keyFile) {
  console.error("usage: MKIT_CLIENT_ID=… (MKIT_CLIENT_SECRET=… | MKIT_PRIVATE_KEY=<file>) " +
    "node machine_client.mjs <MCP server URL> [tool] [arguments as JSON]");
  process.exit(2);
}
const expectedIssuer = process.env.MKIT_ISSUER ?? new URL(serverUrl).origin;
const scope = process.env.MKIT_SCOPE;

/** The private key file (PEM of any kind, or a JWK) as a JWK, which the SDK signs with. */
function privateKey(file) {
  const text = readFileSync(file, "utf8").trim();
  const jwk = createPrivateKey(text.startsWith("{") ? { key: JSON.parse(text), format: "jwk" } : text).export({ format: "jwk" });
  const algorithm = process.env.MKIT_KEY_ALG ?? { EC: "ES256", OKP: "EdDSA" }[jwk.kty] ?? "RS256";
  return { jwk, algorithm };
}

let authProvider;
if (clientSecret) {
  authProvider = new ClientCredentialsProvider({ clientId, clientSecret, scope, expectedIssuer });
} else {
  const { jwk, algorithm } = privateKey(keyFile);
  authProvider = new PrivateKeyJwtProvider({ clientId, privateKey: jwk, algorithm, scope, expectedIssuer });
}

const client = new Client({ name: "mkit-machine-client", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider }));
const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
console.log(JSON.stringify(result.structuredContent ?? result.content));
await client.close();
