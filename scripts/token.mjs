// `make token`: an access token for the running `make dev`, for curl. It asks the server's
// protected resource metadata who issues its tokens:
// - mKit itself (the default, AUTH_SERVER=on): a user's sign-in, done without a browser — register
//   a client (RFC 7591), authorize with PKCE, sign in at the dev issuer as USER (default mkit-test),
//   allow on mKit's consent page, exchange the code;
// - the dev issuer (AUTH_SERVER=off): a client_credentials token of its registered client, whose
//   subject is the client id, mkit-test.
// Only for `make dev`: it types the dev issuer's any-password login and clicks Allow.

import { createHash, randomBytes } from "node:crypto";
import { CLIENT_ID, CLIENT_SECRET, SCOPES } from "../tests/e2e/issuer.mjs";

const resource = process.env.MCP_RESOURCE ?? "http://127.0.0.1:8787/mcp";
const user = process.env.USER_NAME || "mkit-test";
const REDIRECT = "http://127.0.0.1:9/callback"; // never contacted: the code is read from the redirect

/** fetch without following redirects, keeping cookies per origin. */
function browserish() {
  const jars = new Map();
  return async (url, init = {}) => {
    const { origin } = new URL(url);
    const jar = jars.get(origin) ?? new Map();
    jars.set(origin, jar);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(10_000),
      headers: { ...(init.headers ?? {}), ...(cookie ? { cookie } : {}) } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
}

async function json(res, what) {
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${what}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function clientCredentials(issuer) {
  const meta = await json(await fetch(new URL(".well-known/openid-configuration", issuer)), "issuer metadata");
  const res = await fetch(meta.token_endpoint, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: SCOPES, resource }),
  });
  return (await json(res, "token endpoint")).access_token;
}

/** One step of the sign-in: the form to post on the page at `url`, or null when there is none. */
function formFor(html, url) {
  if (html.includes('name="login"')) return { url, body: { prompt: "login", login: user, password: "dev" } };
  if (html.includes('value="consent"')) return { url, body: { prompt: "consent" } };
  const sealed = html.match(/name="request" value="([^"]+)"/)?.[1];
  if (sealed) {
    return { url: new URL("/oauth/consent", url).href, body: { request: sealed.replaceAll("&amp;", "&"), decision: "allow" } };
  }
  return null;
}

async function signIn(server) {
  const go = browserish();
  const meta = await json(await fetch(`${server}/.well-known/oauth-authorization-server`), "authorization server metadata");
  const client = await json(await fetch(meta.registration_endpoint, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "make token", redirect_uris: [REDIRECT], grant_types: ["authorization_code"],
      response_types: ["code"], token_endpoint_auth_method: "none", application_type: "native" }) }), "client registration");
  const verifier = randomBytes(32).toString("base64url");
  const auth = new URL(meta.authorization_endpoint);
  auth.search = new URLSearchParams({ client_id: client.client_id, response_type: "code", redirect_uri: REDIRECT, resource,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256",
    state: randomBytes(8).toString("hex") }).toString();
  let res = await go(auth.href);
  let at = auth.href;
  for (let hops = 0; hops < 20; hops++) {
    const location = res.headers.get("location");
    if (location) {
      const next = new URL(location, at);
      if (next.href.startsWith(REDIRECT)) {
        const code = next.searchParams.get("code");
        if (!code) throw new Error(`sign-in refused: ${next.search}`);
        const token = await go(meta.token_endpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id,
            code_verifier: verifier, resource }) });
        return (await json(token, "token endpoint")).access_token;
      }
      at = next.href;
      res = await go(at);
      continue;
    }
    const form = formFor(await res.text(), at);
    if (!form) throw new Error(`sign-in stopped at ${at} (${res.status})`);
    res = await go(form.url, { method: "POST", body: new URLSearchParams(form.body),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(form.url).origin } });
    at = form.url;
  }
  throw new Error("sign-in took too many steps");
}

try {
  const server = new URL(resource).origin;
  const prm = await json(await fetch(`${server}/.well-known/oauth-protected-resource/mcp`), "protected resource metadata");
  const issuer = prm.authorization_servers?.[0] ?? "";
  const own = new URL(issuer).origin === server;
  console.log(own ? await signIn(server) : await clientCredentials(issuer));
} catch (e) {
  console.error(`token: no token for ${resource} (is \`make dev\` running?): ${e.message}`);
  process.exit(1);
}
