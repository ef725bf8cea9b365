// A fault-injecting HTTP proxy on loopback, for the issuer's JWKS: every GET is answered in the
// current mode, switched by the test at any time. Modes:
//   pass              forward to the real jwks_uri (found from the issuer's discovery document)
//   500               HTTP 500 with a JSON error body
//   invalid           200, application/json, a truncated (invalid) JSON body
//   empty             200, {"keys":[]} (well-formed, no key)
//   oversize          200, the real set padded past `cap` bytes, with Content-Length
//   oversize-chunked  the same body without Content-Length (chunked), in 8 KiB chunks
//   trickle           200, headers at once, then the real set one byte every `trickleMs`
//   hangup            200 with the full Content-Length, half the body, then the socket is destroyed
//   slow              200, the real set in `slowChunks` pieces `slowChunkMs` apart (a slow but
//                     healthy issuer: the whole body arrives well within the worker's 5 s)
// Every request is recorded (mode, start, end, how it ended, bytes sent), so a test can tell
// that the worker did refetch, and when its connection went away.

import { createServer } from "node:http";

export const MODES = ["pass", "500", "invalid", "empty", "oversize", "oversize-chunked", "trickle", "hangup", "slow"];

/**
 * Starts the proxy. `issuerUrl` is the issuer's base URL (ending in "/"); its discovery document
 * is read on the first forwarded request. Options: trickleMs (default 2000), cap (default 64 KiB),
 * slowChunks (default 4) and slowChunkMs (default 300).
 */
export async function startFaultProxy({ issuerUrl, trickleMs = 2000, cap = 64 * 1024, slowChunks = 4, slowChunkMs = 300 } = {}) {
  let mode = "pass";
  let jwksUri;
  const requests = [];
  const sockets = new Set();
  const timers = new Set();
  const waiters = [];

  async function upstreamJwks() {
    if (!jwksUri) {
      for (const path of [".well-known/openid-configuration", ".well-known/oauth-authorization-server"]) {
        const res = await fetch(`${issuerUrl}${path}`, { signal: AbortSignal.timeout(5000) });
        if (res.ok) {
          jwksUri = (await res.json()).jwks_uri;
          if (jwksUri) break;
        } else {
          await res.arrayBuffer();
        }
      }
      if (!jwksUri) throw new Error(`no jwks_uri in ${issuerUrl}'s metadata`);
    }
    // The issuer restarts on rotate(): a kept-alive connection may be gone, so retry once.
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(jwksUri, { signal: AbortSignal.timeout(5000) });
        return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
      } catch (e) {
        if (attempt >= 2) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  const padded = (body) => {
    const set = JSON.parse(body.toString("utf8"));
    set.padding = "x".repeat(cap + 1024);
    return Buffer.from(JSON.stringify(set));
  };

  const server = createServer(async (req, res) => {
    const rec = { mode, method: req.method, url: req.url, start: Date.now(), end: null, ended: null, bytes: 0 };
    requests.push(rec);
    for (const w of waiters.splice(0)) w(rec);
    const finish = (how) => {
      if (rec.end === null) {
        rec.end = Date.now();
        rec.ended = how;
      }
    };
    // "finished" when we ended the response ourselves; "closed" when the peer went away first.
    res.on("finish", () => finish("finished"));
    res.on("close", () => finish(res.writableFinished ? "finished" : "closed"));
    const send = (status, body, headers = {}) => {
      rec.bytes += body.length;
      res.writeHead(status, { "content-type": "application/json", "content-length": body.length, ...headers });
      res.end(body);
    };
    try {
      switch (rec.mode) {
        case "500":
          return send(500, Buffer.from('{"error":"injected failure"}'));
        case "invalid":
          return send(200, Buffer.from('{"keys":[{"kty":"RSA","kid":"rsa-1","n":"abc'));
        case "empty":
          return send(200, Buffer.from('{"keys":[]}'));
        default:
          break;
      }
      const upstream = await upstreamJwks();
      if (upstream.status !== 200) return send(upstream.status, upstream.body);
      switch (rec.mode) {
        case "pass":
          return send(200, upstream.body);
        case "oversize":
          return send(200, padded(upstream.body));
        case "oversize-chunked": {
          const body = padded(upstream.body);
          res.writeHead(200, { "content-type": "application/json" });
          for (let i = 0; i < body.length && !res.destroyed; i += 8192) {
            const chunk = body.subarray(i, i + 8192);
            rec.bytes += chunk.length;
            if (!res.write(chunk)) await new Promise((r) => { res.once("drain", r); res.once("close", r); });
          }
          return res.end();
        }
        case "trickle": {
          const body = upstream.body;
          res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
          res.flushHeaders();
          let i = 0;
          const timer = setInterval(() => {
            if (res.destroyed || i >= body.length) {
              clearInterval(timer);
              timers.delete(timer);
              if (!res.destroyed) res.end();
              return;
            }
            rec.bytes += 1;
            res.write(body.subarray(i, i + 1));
            i += 1;
          }, trickleMs);
          timers.add(timer);
          res.on("close", () => {
            clearInterval(timer);
            timers.delete(timer);
          });
          return;
        }
        case "slow": {
          const body = upstream.body;
          res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
          res.flushHeaders();
          const size = Math.ceil(body.length / slowChunks);
          for (let i = 0; i < body.length && !res.destroyed; i += size) {
            await new Promise((r) => setTimeout(r, slowChunkMs));
            rec.bytes += Math.min(size, body.length - i);
            res.write(body.subarray(i, i + size));
          }
          return res.end();
        }
        case "hangup": {
          const body = upstream.body;
          res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
          const half = body.subarray(0, Math.floor(body.length / 2));
          rec.bytes += half.length;
          res.write(half, () => setTimeout(() => {
            finish("hung-up");
            res.socket?.destroy();
          }, 50));
          return;
        }
        default:
          return send(500, Buffer.from(`{"error":"unknown proxy mode ${rec.mode}"}`));
      }
    } catch (e) {
      if (!res.headersSent) send(502, Buffer.from(JSON.stringify({ error: "proxy_upstream", message: String(e) })));
      else res.destroy();
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const url = `http://127.0.0.1:${server.address().port}/jwks`;

  return {
    url,
    requests,
    get mode() {
      return mode;
    },
    set(m) {
      if (!MODES.includes(m)) throw new Error(`unknown mode ${m}`);
      mode = m;
    },
    /** Requests received in `m` (default: any mode). */
    count(m) {
      return requests.filter((r) => m === undefined || r.mode === m).length;
    },
    /** The next request to arrive (or the one already arrived after `since`). */
    async nextRequest({ since = 0, timeoutMs = 20_000 } = {}) {
      const seen = requests.find((r) => r.start >= since);
      if (seen) return seen;
      return new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`no JWKS request to the proxy within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((r) => {
          clearTimeout(t);
          ok(r);
        });
      });
    },
    async close() {
      for (const t of timers) clearInterval(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await new Promise((ok) => server.close(() => ok()));
    },
  };
}
