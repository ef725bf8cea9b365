// The WebCrypto reference of `make bench`: the no-op worker plus one signature check of the
// bearer token through workerd's crypto.subtle.verify, with keys imported once per isolate.
// Its CPU above the no-op's is what a JWS verify costs a worker that delegates it to workerd.

const PARAMS = {
  RS256: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
  EdDSA: [{ name: "Ed25519" }, { name: "Ed25519" }],
};
const imported = new Map();
let jwks;

function b64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function key(jwk) {
  if (!imported.has(jwk.kid)) {
    imported.set(jwk.kid, await crypto.subtle.importKey("jwk", jwk, PARAMS[jwk.alg][0], false, ["verify"]));
  }
  return imported.get(jwk.kid);
}

export default {
  async fetch(request, env) {
    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    const [h, c, s] = token.split(".");
    const header = JSON.parse(new TextDecoder().decode(b64url(h)));
    jwks ??= JSON.parse(env.JWKS).keys;
    const jwk = jwks.find((k) => k.kid === header.kid);
    const ok = jwk && await crypto.subtle.verify(PARAMS[jwk.alg][1], await key(jwk), b64url(s),
      new TextEncoder().encode(`${h}.${c}`));
    return new Response(ok ? '{"status":"ok"}' : '{"status":"bad"}', { status: ok ? 200 : 401,
      headers: { "content-type": "application/json" } });
  },
};
