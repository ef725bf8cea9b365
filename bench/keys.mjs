// A static issuer for the token rows of the production-like bench: one RS256, one ES256 and one
// Ed25519 key, their public JWK Set served on 127.0.0.1, and one access token per algorithm
// signed by jose. mKit (its token cache off) and the WebCrypto reference worker verify the same
// tokens against the same keys, so the difference is the signature check alone.

import { createServer } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

export const TOKEN_ALGS = ["RS256", "ES256", "EdDSA"];

/** Starts the issuer; resolves with its URL (`iss`), the JWKS URL, the public keys and a token
 * per algorithm, all for `resource` (`aud`). */
export async function startStaticIssuer(resource) {
  const pairs = await Promise.all(TOKEN_ALGS.map(async (alg) => ({ alg, ...(await generateKeyPair(alg, { extractable: true })) })));
  const keys = await Promise.all(pairs.map(async ({ alg, publicKey }) => ({ ...(await exportJWK(publicKey)), kid: alg, alg, use: "sig" })));
  const body = JSON.stringify({ keys });
  const server = createServer((req, res) => {
    res.writeHead(req.url === "/jwks" ? 200 : 404, { "content-type": "application/json" });
    res.end(req.url === "/jwks" ? body : "{}");
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const tokens = {};
  for (const { alg, privateKey } of pairs) {
    tokens[alg] = await new SignJWT({ scope: "mcp tools:read", client_id: "bench" })
      .setProtectedHeader({ alg, kid: alg, typ: "at+jwt" })
      .setIssuer(url).setAudience(resource).setSubject("bench-user").setIssuedAt().setExpirationTime("2h")
      .sign(privateKey);
  }
  return { url, jwksUri: `${url}jwks`, keys, tokens, stop: () => new Promise((ok) => server.close(ok)) };
}
