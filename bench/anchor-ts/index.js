// The TypeScript alternative a user would otherwise pick, for `make bench`: the official MCP
// TypeScript SDK (stateless Streamable HTTP, JSON responses, one shared Ajv validator: its best
// configuration) and jose for the same token checks mKit makes, serving the same `whoami` tool,
// which reads the caller's entitlements from the same D1 ledger with the same query.

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";

const validator = new AjvJsonSchemaValidator();
let jwks;

async function authenticate(request, env) {
  const h = request.headers.get("authorization") ?? "";
  const [scheme, token] = h.split(" ");
  if (scheme?.toLowerCase() !== "bearer" || !token) return null;
  jwks ??= createRemoteJWKSet(new URL(`${env.OAUTH_ISSUER}jwks`), { timeoutDuration: 5000, cacheMaxAge: 600_000 });
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: env.OAUTH_ISSUER,
      audience: env.MCP_RESOURCE,
      typ: "at+jwt",
      algorithms: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"],
      clockTolerance: 60,
      requiredClaims: ["exp", "sub"],
    });
    return payload;
  } catch {
    return null;
  }
}

const ENTITLEMENTS_SQL = `SELECT j.value AS key FROM customers c
  JOIN subscriptions s ON s.customer_id = c.customer_id AND s.status IN ('active', 'trialing')
  JOIN json_each(s.price_lookup_keys) j WHERE c.user_sub = ?1 AND j.type = 'text'
UNION SELECT j.value AS key FROM customers c JOIN entitlement_summaries e ON e.customer_id = c.customer_id
  JOIN json_each(e.feature_lookup_keys) j WHERE c.user_sub = ?1 AND j.type = 'text' ORDER BY key`;

function server(claims, env) {
  const s = new McpServer({ name: "anchor", version: "1.0.0" }, { jsonSchemaValidator: validator });
  s.registerTool("whoami", {
    description: "Returns who you are.",
    inputSchema: {},
    outputSchema: { sub: z.string(), client_id: z.string().nullable(), scopes: z.array(z.string()), entitlements: z.array(z.string()) },
  }, async () => {
    const { results } = await env.DB.prepare(ENTITLEMENTS_SQL).bind(claims.sub).all();
    const out = { sub: claims.sub, client_id: claims.client_id ?? null, scopes: (claims.scope ?? "").split(" ").filter(Boolean),
      entitlements: results.map((r) => r.key) };
    return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
  });
  return s;
}

/** One JSON log line per request, as mKit writes: the same work on both sides of the bench. */
function logged(request, route, started, response) {
  console.log(JSON.stringify({ method: request.method, route, status: response.status, duration_ms: Date.now() - started }));
  return response;
}

export default {
  async fetch(request, env) {
    const started = Date.now();
    const response = await handle(request, env);
    return logged(request, new URL(request.url).pathname, started, response);
  },
};

async function handle(request, env) {
  {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ status: "ok" });
    if (url.pathname !== "/mcp") return Response.json({ error: "not_found" }, { status: 404 });
    const claims = await authenticate(request, env);
    if (!claims) {
      return Response.json({ error: "unauthorized" }, { status: 401, headers: { "www-authenticate": "Bearer" } });
    }
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server(claims, env).connect(transport);
    return transport.handleRequest(request);
  }
}
