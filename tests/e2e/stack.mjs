// A worker wired to a real issuer: the shape of every authenticated end-to-end test.

import { startWorker, defaultVars, freePort } from "./harness.mjs";
import { startIssuer } from "./issuer.mjs";

/**
 * Starts an issuer and a worker configured for it (`OAUTH_ISSUER`, `MCP_RESOURCE` = the worker's
 * own /mcp). Options are passed to startWorker; `vars` are merged over the defaults, and a var
 * set to undefined is removed. `issuerOptions` go to startIssuer.
 */
export async function startStack({ vars = {}, issuerOptions = {}, ...workerOptions } = {}) {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const issuer = await startIssuer({ resource, ...issuerOptions });
  const merged = { ...defaultVars(), OAUTH_ISSUER: issuer.url, MCP_RESOURCE: resource, ...vars };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  let worker;
  try {
    worker = await startWorker({ ...workerOptions, port, vars: merged });
  } catch (e) {
    await issuer.stop();
    throw e;
  }
  return {
    worker,
    issuer,
    resource,
    token: (opts) => issuer.clientCredentialsToken(opts),
    /** One 2025-11-25 JSON-RPC request to /mcp as `token`'s caller: its `result` (HTTP 200 required). */
    async rpc(token, method, params) {
      const res = await fetch(`${worker.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-11-25",
          authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()).result;
    },
    async stop() {
      await worker.stop();
      await issuer.stop();
    },
  };
}
