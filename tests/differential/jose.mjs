#!/usr/bin/env node
// Differential test of mKit's access-token validator against jose's `jwtVerify` (issue 11).
//
//   node tests/differential/jose.mjs
//
// Generates well over 10,000 JWTs — valid ones for every allow-listed algorithm and key, and
// mutations of the header, claims, signature, key choice and encoding — then asks jose and mKit
// (the `verify_tokens` example, fed JSON lines) for a verdict on each, under the same policy.
// Every disagreement must be one of the CATEGORIES below, where mKit is deliberately stricter
// than jose; each is recognised from the token itself (and mKit's error code), never from how the
// token was generated. Anything else fails the run (exit 1) and is printed.
//
// Choices are seeded (DIFF_SEED, default 11); keys are fresh on each run. Environment:
//   DIFF_SEED=<n>            another seed
//   DIFF_TOKENS=<n>          size of the mutation sweep (default 12000)
//   MKIT_VERIFY_TOKENS=<bin> a prebuilt `verify_tokens` binary (skips `cargo build`)
//   DIFF_VERBOSE=1           also print the verdicts per mutation
//   DIFF_EXAMPLES=1          also print one token per stricter category
//   DIFF_DUMP=<file>         also write the lines fed to verify_tokens (replay: verify_tokens < file)

import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import * as jose from "jose";

// Signing runs on libuv's thread pool: size it before its first use.
process.env.UV_THREADPOOL_SIZE ??= String(Math.min(16, Math.max(4, availableParallelism())));

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const started = performance.now();

// ---- policy ------------------------------------------------------------------------------------

const NOW = 1_800_000_000;
const ISS = "https://issuer.example.com/";
const AUD = "https://mkit.example.com/mcp";
const AUD2 = "urn:mkit:other-resource";
const ALLOWED = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"];
const MAX_TOKEN_BYTES = 8 * 1024;
const MAX_LEEWAY = 60;

const POLICIES = [
  { issuer: ISS, audiences: [AUD], leeway: 60, accept_jwt_typ: false },
  { issuer: ISS, audiences: [AUD, AUD2], leeway: 0, accept_jwt_typ: true },
  { issuer: ISS, audiences: [AUD], leeway: 30, accept_jwt_typ: true },
  // More than mKit's cap: mKit uses 60 s, jose the full 120 s.
  { issuer: ISS, audiences: [AUD2], leeway: 120, accept_jwt_typ: false },
];

// ---- seeded choices ----------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Number(process.env.DIFF_SEED ?? 11);
const rand = mulberry32(SEED);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (list) => list[Math.floor(rand() * list.length)];

// ---- encoding helpers --------------------------------------------------------------------------

const te = new TextEncoder();
const b64u = (bytes) => Buffer.from(bytes).toString("base64url");
const b64uText = (text) => b64u(te.encode(text));
const strictB64u = (s) =>
  /^[A-Za-z0-9_-]*$/.test(s) && s.length % 4 !== 1 && Buffer.from(s, "base64url").toString("base64url") === s;

// ---- keys --------------------------------------------------------------------------------------

const RSA_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const HASH = { 256: "SHA-256", 384: "SHA-384", 512: "SHA-512" };

function stripJwk(jwk) {
  const { alg: _a, key_ops: _o, ext: _e, use: _u, ...rest } = jwk;
  return rest;
}
function publicJwk(jwk) {
  const pub = stripJwk(jwk);
  for (const m of ["d", "p", "q", "dp", "dq", "qi"]) delete pub[m];
  return pub;
}

async function makeKeys() {
  const gen = async (alg, options = {}) => {
    const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...options });
    return stripJwk(await jose.exportJWK(privateKey));
  };
  const [rsaA, rsaB, rsaC, rsaX, ecA, ecE, ecX, edA, edX] = await Promise.all([
    gen("RS256", { modulusLength: 2048 }),
    gen("PS384", { modulusLength: 3072 }),
    gen("RS256", { modulusLength: 2048 }),
    gen("RS256", { modulusLength: 2048 }),
    gen("ES256"),
    gen("ES256"),
    gen("ES256"),
    gen("EdDSA"),
    gen("EdDSA"),
  ]);
  // jose will not generate an RSA key under 2048 bits; node:crypto will.
  const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "jwk" });
  return {
    "rsa-a": rsaA, // 2048
    "rsa-b": rsaB, // 3072
    "rsa-c": rsaC, // 2048, published under a shared kid ("rot")
    "rsa-weak": weak, // 1024: jose and mKit both refuse it
    "rsa-x": rsaX, // attacker, not published
    "ec-a": ecA,
    "ec-e": ecE, // published with use "enc"
    "ec-x": ecX, // attacker
    "ed-a": edA,
    "ed-x": edX, // attacker
  };
}

const signerCache = new Map();
async function signWith(keys, keyName, alg, input) {
  const id = `${keyName}/${alg}`;
  let entry = signerCache.get(id);
  if (!entry) {
    const jwk = keys[keyName];
    let importAlg;
    let signAlg;
    if (alg.startsWith("RS") || alg.startsWith("PS")) {
      const bits = alg.slice(2);
      const name = alg.startsWith("RS") ? "RSASSA-PKCS1-v1_5" : "RSA-PSS";
      importAlg = { name, hash: HASH[bits] };
      signAlg = name === "RSA-PSS" ? { name, saltLength: Number(bits) / 8 } : { name };
    } else if (alg === "ES256") {
      importAlg = { name: "ECDSA", namedCurve: "P-256" };
      signAlg = { name: "ECDSA", hash: "SHA-256" };
    } else if (alg === "EdDSA") {
      importAlg = { name: "Ed25519" };
      signAlg = { name: "Ed25519" };
    } else if (alg.startsWith("HS")) {
      // Algorithm confusion: the RSA/EC public key as an HMAC secret.
      importAlg = { name: "HMAC", hash: HASH[alg.slice(2)] };
      signAlg = { name: "HMAC" };
      const secret = te.encode(JSON.stringify(publicJwk(jwk)));
      const key = await crypto.subtle.importKey("raw", secret, importAlg, false, ["sign"]);
      entry = { key, signAlg };
    } else {
      throw new Error(`cannot sign ${alg}`);
    }
    if (!entry) {
      const key = await crypto.subtle.importKey("jwk", jwk, importAlg, false, ["sign"]);
      entry = { key, signAlg };
    }
    signerCache.set(id, entry);
  }
  return new Uint8Array(await crypto.subtle.sign(entry.signAlg, entry.key, te.encode(input)));
}

function jwks(keys) {
  const pub = (name, extra) => ({ ...publicJwk(keys[name]), ...extra });
  return {
    main: {
      keys: [
        pub("rsa-a", { kid: "rsa-a", use: "sig" }),
        pub("rsa-b", { kid: "rsa-b" }),
        pub("rsa-b", { kid: "rsa-b-ps512", alg: "PS512" }),
        pub("rsa-c", { kid: "rot" }),
        pub("rsa-a", { kid: "rot" }),
        pub("rsa-c", { kid: "rsa-c-verify", key_ops: ["verify"] }),
        pub("rsa-a", { kid: "rsa-a-sign-only", key_ops: ["sign"] }),
        pub("rsa-weak", { kid: "rsa-weak" }),
        pub("ec-a", { kid: "ec-a", alg: "ES256", use: "sig" }),
        pub("ec-e", { kid: "ec-enc", use: "enc" }),
        pub("ed-a", { kid: "ed-a" }),
      ],
    },
    // The same keys without kids: tokens that name a kid find none.
    nokid: { keys: [pub("rsa-a"), pub("ec-a"), pub("ed-a")] },
  };
}

// What signs valid tokens, per key set: key, alg, and the kid the header names (null: none).
const COMBOS = {
  main: [
    ...RSA_ALGS.map((alg) => ({ key: "rsa-a", alg, kid: "rsa-a" })),
    ...RSA_ALGS.map((alg) => ({ key: "rsa-b", alg, kid: "rsa-b" })),
    { key: "rsa-b", alg: "PS512", kid: "rsa-b-ps512" },
    { key: "rsa-c", alg: "RS256", kid: "rot" },
    { key: "rsa-a", alg: "PS256", kid: "rot" },
    { key: "rsa-c", alg: "RS384", kid: "rsa-c-verify" },
    { key: "ec-a", alg: "ES256", kid: "ec-a" },
    { key: "ed-a", alg: "EdDSA", kid: "ed-a" },
    ...["RS256", "PS512"].map((alg) => ({ key: "rsa-a", alg, kid: null })),
    { key: "rsa-b", alg: "RS512", kid: null },
    { key: "ec-a", alg: "ES256", kid: null },
    { key: "ed-a", alg: "EdDSA", kid: null },
  ],
  nokid: [
    ...RSA_ALGS.map((alg) => ({ key: "rsa-a", alg, kid: null })),
    { key: "ec-a", alg: "ES256", kid: null },
    { key: "ed-a", alg: "EdDSA", kid: null },
  ],
};

// ---- token specs -------------------------------------------------------------------------------
//
// A spec is a header and claims (objects, or raw bytes when a mutation needs them), the key and
// alg that sign, and hooks for the encoding and the signature segment. `build` signs exactly the
// encoded text that goes into the token, so an encoding mutation still carries a valid signature.

function baseSpec(combo, policy) {
  const header = { alg: combo.alg };
  if (combo.kid !== null) header.kid = combo.kid;
  const typ = policy.accept_jwt_typ
    ? pick(["at+jwt", "application/at+jwt", "JWT", "jwt", null, "AT+JWT"])
    : pick(["at+jwt", "at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"]);
  if (typ !== null) header.typ = typ;
  const aud = pick(policy.audiences);
  const claims = {
    iss: ISS,
    sub: `user-${int(1, 99999)}`,
    aud: rand() < 0.5 ? aud : rand() < 0.5 ? [aud] : ["https://elsewhere.example/", aud],
    exp: NOW + int(1, 3600),
    iat: NOW - int(0, 600),
    jti: `t${int(0, 1e9)}`,
  };
  if (rand() < 0.5) claims.nbf = NOW - int(0, 600);
  if (rand() < 0.6) claims.client_id = pick(["app", "mcp-client", "c-42"]);
  if (rand() < 0.6) claims.scope = pick(["tools:read", "tools:read notes", ""]);
  if (rand() < 0.2) claims.scp = ["tools:read"];
  return {
    header,
    claims,
    headerBytes: null,
    claimsBytes: null,
    signKey: combo.key,
    signAlg: combo.alg,
    encodeHeader: b64u,
    encodeClaims: b64u,
    signature: async (sig) => b64u(sig), // bytes -> segment
    finish: (token) => token,
  };
}

async function build(keys, spec) {
  const h = spec.encodeHeader(spec.headerBytes ?? te.encode(JSON.stringify(spec.header)));
  const c = spec.encodeClaims(spec.claimsBytes ?? te.encode(JSON.stringify(spec.claims)));
  const input = `${h}.${c}`;
  const sig = spec.signAlg === "none" ? new Uint8Array() : await signWith(keys, spec.signKey, spec.signAlg, input);
  return spec.finish(`${input}.${await spec.signature(sig, input)}`);
}

// ---- mutations ---------------------------------------------------------------------------------
//
// Each mutation: a name, variants (each run in turn, round robin), and optionally which combos it
// applies to. `ctx` carries the policy and the leeway each side applies.

const rawJson = (text) => te.encode(text);
const withClaimsText = (spec, text) => {
  spec.claimsBytes = rawJson(text);
};
const claimsTextWith = (claims, extra) => {
  const body = JSON.stringify(claims).slice(1, -1);
  return `{${body}${body && extra ? "," : ""}${extra}}`;
};
const headerTextWith = (header, extra) => {
  const body = JSON.stringify(header).slice(1, -1);
  return `{${body}${body && extra ? "," : ""}${extra}}`;
};
const bitFlip = (bytes, bit) => {
  const out = Uint8Array.from(bytes);
  if (out.length) out[Math.floor(bit / 8) % out.length] ^= 1 << bit % 8;
  return out;
};
const P256_N = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
const ED_L = (1n << 252n) + 27742317777372353535851937790883648493n;
const toBig = (bytes) => BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`);
const fromBig = (n, len) => Uint8Array.from(Buffer.from(n.toString(16).padStart(len * 2, "0"), "hex"));
const derEcdsa = (sig) => {
  const int = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = b.slice(i);
    if (v[0] & 0x80) v = Uint8Array.of(0, ...v);
    return [0x02, v.length, ...v];
  };
  const body = [...int(sig.slice(0, 32)), ...int(sig.slice(32))];
  return Uint8Array.of(0x30, body.length, ...body);
};
const unusedBits = (seg) => {
  // Sets the unused low bits of the last base64 character (a non-canonical encoding).
  const rem = seg.length % 4;
  if (rem < 2) return seg;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const v = alphabet.indexOf(seg.at(-1)) | (rem === 2 ? 0x0f : 0x03);
  return seg.slice(0, -1) + alphabet[v];
};
const pad = (seg) => seg + "=".repeat((4 - (seg.length % 4)) % 4);
const stdAlphabet = (seg) => seg.replaceAll("-", "+").replaceAll("_", "/");
const INVALID_UTF8_MEMBER = [0x2c, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]; // ,"\xff":1}
const insertAt = (seg, what) => seg.slice(0, seg.length >> 1) + what + seg.slice(seg.length >> 1);

// Numeric-date edges around both leeways (the policy's and mKit's capped one).
function timeEdges(ctx, sign) {
  const out = [];
  for (const l of new Set([ctx.leeway, ctx.capped, 0])) {
    for (const d of [-1, -0.5, 0, 0.5, 1]) out.push(NOW + sign * l + d);
  }
  return out;
}

const MUTATIONS = [
  { name: "valid", variants: [0, 1, 2, 3, 4, 5], apply: () => {} },

  // -- header: alg
  {
    name: "alg-swap-unsigned",
    variants: [0],
    apply: (s) => {
      const family = s.signAlg.startsWith("RS") || s.signAlg.startsWith("PS") ? RSA_ALGS : ALLOWED;
      s.header.alg = pick(family.filter((a) => a !== s.signAlg));
    },
  },
  {
    name: "alg-swap-resigned",
    variants: [0],
    combos: (c) => c.key.startsWith("rsa") && c.kid !== "rsa-b-ps512",
    apply: (s) => {
      s.signAlg = pick(RSA_ALGS);
      s.header.alg = s.signAlg;
    },
  },
  {
    name: "alg-cross-family",
    variants: ["ES256", "EdDSA", "RS256"],
    apply: (s, v) => {
      s.header.alg = v;
    },
  },
  {
    name: "alg-none",
    variants: ["none", "None", "NONE"],
    apply: (s, v) => {
      s.header.alg = v;
      if (rand() < 0.5) s.signAlg = "none";
    },
  },
  {
    name: "alg-hmac-confusion",
    variants: ["HS256", "HS384", "HS512"],
    apply: (s, v) => {
      s.header.alg = v;
      s.signAlg = v;
    },
  },
  {
    name: "alg-odd",
    variants: ["rs256", "ES384", "ES512", "Ed25519", "Ed448", "RS1", "", "RS256 ", null, 256, ["RS256"], "missing"],
    apply: (s, v) => {
      if (v === "missing") delete s.header.alg;
      else s.header.alg = v;
    },
  },

  // -- header: typ
  {
    name: "typ",
    variants: [
      "JWT", "jwt", null, "at+jwt", "AT+JWT", "application/at+jwt", "APPLICATION/AT+JWT", "application/jwt",
      "application/JWT", "dpop+jwt", "JOSE", "JOSE+JSON", "at+jwt ", " at+jwt",
      "application/at+jwt; charset=utf-8", "x/at+jwt", "", "at-jwt", "secevent+jwt", 123, false, ["at+jwt"],
      "jsonnull",
    ],
    apply: (s, v) => {
      if (v === null) delete s.header.typ;
      else if (v === "jsonnull") s.header.typ = null;
      else s.header.typ = v;
    },
  },

  // -- header: kid and key choice
  {
    name: "kid",
    variants: [
      "unknown", "", "ec-a", "ed-a", "rsa-a", "rsa-b-ps512", "ec-enc", "rsa-a-sign-only", "rsa-weak", "rot", 42, null,
      ["rsa-a"], "missing",
    ],
    apply: (s, v) => {
      if (v === "missing") delete s.header.kid;
      else s.header.kid = v;
    },
  },
  {
    name: "key-choice",
    variants: ["attacker", "other-published", "weak", "weak-no-kid", "ec-attacker", "ed-attacker", "enc-key"],
    apply: (s, v) => {
      const rsa = s.signAlg.startsWith("RS") || s.signAlg.startsWith("PS");
      if (v === "attacker") s.signKey = rsa ? "rsa-x" : s.signAlg === "ES256" ? "ec-x" : "ed-x";
      if (v === "other-published") {
        const otherRsa = s.signKey === "rsa-c" ? "rsa-b" : "rsa-c";
        s.signKey = rsa ? otherRsa : s.signAlg === "ES256" ? "ec-e" : "ed-x";
      }
      if (v === "weak" || v === "weak-no-kid") {
        s.signKey = "rsa-weak";
        // PS512's 64-byte salt does not fit a 1024-bit modulus.
        s.signAlg = rsa && s.signAlg !== "PS512" ? s.signAlg : "RS256";
        s.header.alg = s.signAlg;
        if (v === "weak") s.header.kid = "rsa-weak";
        else delete s.header.kid;
      }
      if (v === "ec-attacker" || v === "ed-attacker") {
        s.signKey = v === "ec-attacker" ? "ec-x" : "ed-x";
        s.signAlg = v === "ec-attacker" ? "ES256" : "EdDSA";
        s.header.alg = s.signAlg;
        delete s.header.kid;
      }
      if (v === "enc-key") {
        s.signKey = "ec-e";
        s.signAlg = "ES256";
        s.header.alg = "ES256";
        s.header.kid = "ec-enc";
      }
    },
  },
  {
    name: "embedded-key",
    variants: ["jwk", "jku", "x5u", "x5c"],
    apply: (s, v, ctx) => {
      // Signed by an attacker key that the header offers: must never be used.
      const rsa = s.signAlg.startsWith("RS") || s.signAlg.startsWith("PS");
      s.signKey = rsa ? "rsa-x" : s.signAlg === "ES256" ? "ec-x" : "ed-x";
      if (v === "jwk") s.header.jwk = publicJwk(ctx.keys[s.signKey]);
      if (v === "jku" || v === "x5u") s.header[v] = "https://attacker.example/keys";
      if (v === "x5c") s.header.x5c = ["MIIBmzCCAUCgAwIBAgIBATAKBggqhkjOPQQDAjA="];
    },
  },

  // -- header: crit and friends
  {
    name: "crit",
    variants: ["b64-true", "b64-false", "exp", "empty", "string", "unknown", "dup", "unprotected-param"],
    apply: (s, v) => {
      if (v === "b64-true") Object.assign(s.header, { crit: ["b64"], b64: true });
      if (v === "b64-false") Object.assign(s.header, { crit: ["b64"], b64: false });
      if (v === "exp") Object.assign(s.header, { crit: ["exp"], exp: NOW + 60 });
      if (v === "empty") s.header.crit = [];
      if (v === "string") Object.assign(s.header, { crit: "b64", b64: true });
      if (v === "unknown") Object.assign(s.header, { crit: ["urn:x"], "urn:x": 1 });
      if (v === "dup") Object.assign(s.header, { crit: ["b64", "b64"], b64: true });
      if (v === "unprotected-param") s.header.crit = ["b64"];
    },
  },
  {
    name: "header-extra",
    variants: ["b64-false-uncritical", "cty", "x5t", "zip", "enc", "nested"],
    apply: (s, v) => {
      if (v === "b64-false-uncritical") s.header.b64 = false;
      if (v === "cty") s.header.cty = "JWT";
      if (v === "x5t") s.header.x5t = "abc";
      if (v === "zip") s.header.zip = "DEF";
      if (v === "enc") s.header.enc = "A256GCM";
      if (v === "nested") s.header.ext = { a: [1, { b: null }] };
    },
  },
  {
    name: "header-json",
    variants: [
      "dup-alg-none-first", "dup-alg-same", "dup-typ", "dup-kid", "dup-escaped-alg", "bom", "array", "string", "empty",
      "trailing", "invalid-utf8", "not-json", "whitespace",
    ],
    apply: (s, v) => {
      const h = s.header;
      const rest = { ...h };
      delete rest.alg;
      const restText = JSON.stringify(rest).slice(1, -1);
      const text = {
        "dup-alg-none-first": `{"alg":"none"${restText ? "," + restText : ""},"alg":${JSON.stringify(h.alg)}}`,
        "dup-alg-same": headerTextWith(h, `"alg":${JSON.stringify(h.alg)}`),
        "dup-typ": headerTextWith(h, '"typ":"at+jwt"'),
        "dup-kid": headerTextWith(h, `"kid":${JSON.stringify(h.kid ?? "rsa-a")}`),
        "dup-escaped-alg": headerTextWith(h, `"\\u0061lg":${JSON.stringify(h.alg)}`),
        array: `[${JSON.stringify(h)}]`,
        string: JSON.stringify(JSON.stringify(h)),
        empty: "",
        trailing: `${JSON.stringify(h)} {}`,
        "not-json": `{alg:${h.alg}}`,
        whitespace: ` \n\t${JSON.stringify(h, null, 2)}\r\n `,
      }[v];
      if (v === "bom") s.headerBytes = Uint8Array.of(0xef, 0xbb, 0xbf, ...te.encode(JSON.stringify(h)));
      else if (v === "invalid-utf8") {
        s.headerBytes = Uint8Array.of(...te.encode(JSON.stringify(h)).slice(0, -1), ...INVALID_UTF8_MEMBER);
      } else s.headerBytes = rawJson(text);
    },
  },

  // -- claims: iss, aud, sub, markers
  {
    name: "iss",
    variants: ["wrong", "no-slash", "upper", "missing", "array", "null", "number", "space"],
    apply: (s, v) => {
      const c = s.claims;
      if (v === "wrong") c.iss = "https://evil.example.com/";
      if (v === "no-slash") c.iss = ISS.slice(0, -1);
      if (v === "upper") c.iss = ISS.toUpperCase();
      if (v === "missing") delete c.iss;
      if (v === "array") c.iss = [ISS];
      if (v === "null") c.iss = null;
      if (v === "number") c.iss = 1;
      if (v === "space") c.iss = `${ISS} `;
    },
  },
  {
    name: "aud",
    variants: [
      "wrong", "missing", "empty-array", "array-without", "array-mixed", "aud2", "both", "number", "null", "nested",
      "object", "prefix", "case",
    ],
    apply: (s, v) => {
      const c = s.claims;
      if (v === "wrong") c.aud = "https://elsewhere.example/";
      if (v === "missing") delete c.aud;
      if (v === "empty-array") c.aud = [];
      if (v === "array-without") c.aud = ["a", "b"];
      if (v === "array-mixed") c.aud = [1, null, AUD, AUD2];
      if (v === "aud2") c.aud = AUD2;
      if (v === "both") c.aud = [AUD2, AUD];
      if (v === "number") c.aud = 7;
      if (v === "null") c.aud = null;
      if (v === "nested") c.aud = [[AUD]];
      if (v === "object") c.aud = { aud: AUD };
      if (v === "prefix") c.aud = `${AUD}/x`;
      if (v === "case") c.aud = AUD.toUpperCase();
    },
  },
  {
    name: "sub",
    variants: ["missing", "empty", "null", "number", "object", "array", "long", "unicode", "space"],
    apply: (s, v) => {
      const c = s.claims;
      if (v === "missing") delete c.sub;
      if (v === "empty") c.sub = "";
      if (v === "null") c.sub = null;
      if (v === "number") c.sub = 12345;
      if (v === "object") c.sub = { id: "x" };
      if (v === "array") c.sub = ["user-1"];
      if (v === "long") c.sub = "u".repeat(2000);
      if (v === "unicode") c.sub = "ü-用户-\u{1f600}";
      if (v === "space") c.sub = " ";
    },
  },
  {
    name: "id-token-marker",
    variants: ["nonce", "at_hash", "c_hash", "all", "nonce-empty"],
    apply: (s, v) => {
      const c = s.claims;
      if (v === "nonce" || v === "all") c.nonce = "n-0S6_WzA2Mj";
      if (v === "at_hash" || v === "all") c.at_hash = "MTIzNDU2Nzg5MDEyMzQ1Ng";
      if (v === "c_hash" || v === "all") c.c_hash = "LDktKdoQak3Pk0cnXxCltA";
      if (v === "nonce-empty") c.nonce = "";
    },
  },

  // -- claims: numeric dates
  {
    name: "exp",
    variants: [...Array(15).keys(), "missing", "null", "string", "bool", "negative", "huge", "far-past", "array"],
    apply: (s, v, ctx) => {
      const c = s.claims;
      if (typeof v === "number") c.exp = timeEdges(ctx, -1)[v % timeEdges(ctx, -1).length];
      if (v === "missing") delete c.exp;
      if (v === "null") c.exp = null;
      if (v === "string") c.exp = String(NOW + 600);
      if (v === "bool") c.exp = true;
      if (v === "negative") c.exp = -1;
      if (v === "huge") c.exp = 1e300;
      if (v === "far-past") c.exp = 0;
      if (v === "array") c.exp = [NOW + 600];
    },
  },
  {
    name: "nbf",
    variants: [...Array(15).keys(), "null", "string", "far-future", "far-past"],
    apply: (s, v, ctx) => {
      const c = s.claims;
      if (typeof v === "number") c.nbf = timeEdges(ctx, 1)[v % timeEdges(ctx, 1).length];
      if (v === "null") c.nbf = null;
      if (v === "string") c.nbf = String(NOW);
      if (v === "far-future") c.nbf = NOW + 86400;
      if (v === "far-past") c.nbf = 0;
      c.exp = Math.max(c.exp, NOW + 100_000);
    },
  },
  {
    name: "iat",
    variants: [...Array(15).keys(), "null", "string", "far-future", "missing", "zero"],
    apply: (s, v, ctx) => {
      const c = s.claims;
      if (typeof v === "number") c.iat = timeEdges(ctx, 1)[v % timeEdges(ctx, 1).length];
      if (v === "null") c.iat = null;
      if (v === "string") c.iat = String(NOW);
      if (v === "far-future") c.iat = NOW + 86400;
      if (v === "missing") delete c.iat;
      if (v === "zero") c.iat = 0;
      c.exp = Math.max(c.exp, NOW + 100_000);
    },
  },

  // -- claims: JSON text
  {
    name: "claims-json",
    variants: [
      "dup-sub", "dup-sub-escaped", "dup-exp-expired-last", "dup-exp-valid-last", "dup-iss-wrong-first",
      "dup-aud", "dup-nested", "bom", "deep-nesting", "shallow-nesting", "number-overflow",
      "number-big-finite", "lone-surrogate", "surrogate-pair", "invalid-utf8", "array", "string", "null",
      "empty", "trailing-garbage", "trailing-comma", "single-quotes", "whitespace", "proto-key",
      "exp-exponent", "exp-float-string", "nan",
    ],
    apply: (s, v) => {
      const c = s.claims;
      const json = JSON.stringify(c);
      const text = {
        "dup-sub": claimsTextWith(c, '"sub":"someone-else"'),
        "dup-sub-escaped": claimsTextWith(c, '"s\\u0075b":"someone-else"'),
        "dup-exp-expired-last": claimsTextWith(c, `"exp":${NOW - 3600}`),
        "dup-exp-valid-last": `{"exp":${NOW - 3600},${json.slice(1)}`,
        "dup-iss-wrong-first": `{"iss":"https://evil.example/",${json.slice(1)}`,
        "dup-aud": claimsTextWith(c, `"aud":"https://elsewhere.example/"`),
        "dup-nested": claimsTextWith(c, '"cnf":{"jkt":"a","jkt":"b"}'),
        "deep-nesting": claimsTextWith(c, `"deep":${"[".repeat(200)}${"]".repeat(200)}`),
        "shallow-nesting": claimsTextWith(c, `"deep":${"[".repeat(100)}${"]".repeat(100)}`),
        "number-overflow": claimsTextWith({ ...c, exp: undefined }, `"exp":1e400`),
        "number-big-finite": claimsTextWith(c, `"big":123456789012345678901234567890`),
        "lone-surrogate": claimsTextWith(c, '"note":"\\ud800"'),
        "surrogate-pair": claimsTextWith(c, '"note":"\\ud83d\\ude00"'),
        array: `[${json}]`,
        string: JSON.stringify(json),
        null: "null",
        empty: "",
        "trailing-garbage": `${json}x`,
        "trailing-comma": `${json.slice(0, -1)},}`,
        "single-quotes": json.replaceAll('"', "'"),
        whitespace: `\n ${JSON.stringify(c, null, 1)} \t`,
        "proto-key": claimsTextWith(c, '"__proto__":{"admin":true}'),
        "exp-exponent": claimsTextWith({ ...c, exp: undefined }, `"exp":${(NOW + 600) / 1000}e3`),
        "exp-float-string": claimsTextWith({ ...c, exp: undefined }, `"exp":"${NOW + 600}.0"`),
        nan: claimsTextWith({ ...c, exp: undefined }, '"exp":NaN'),
      }[v];
      if (v === "bom") s.claimsBytes = Uint8Array.of(0xef, 0xbb, 0xbf, ...te.encode(json));
      else if (v === "invalid-utf8") s.claimsBytes = Uint8Array.of(...te.encode(json).slice(0, -1), ...INVALID_UTF8_MEMBER);
      else withClaimsText(s, text);
    },
  },

  // -- signature
  {
    name: "signature",
    variants: [
      "flip", "flip-last-bit", "drop-last", "drop-first", "append", "prepend-zero", "empty-segment", "zeros",
      "other-token", "double", "half", "raw-text",
    ],
    apply: (s, v) => {
      const where = rand(); // drawn now: the signature hook runs in whatever order signing ends
      s.signature = async (sig, input) => {
        let out = sig;
        if (v === "flip") out = bitFlip(sig, Math.floor(where * sig.length * 8));
        if (v === "flip-last-bit") out = bitFlip(sig, (sig.length - 1) * 8);
        if (v === "drop-last") out = sig.slice(0, -1);
        if (v === "drop-first") out = sig.slice(1);
        if (v === "append") out = Uint8Array.of(...sig, 0);
        if (v === "prepend-zero") out = Uint8Array.of(0, ...sig);
        if (v === "empty-segment") return "";
        if (v === "zeros") out = new Uint8Array(sig.length);
        if (v === "other-token") return b64u(await signWith(s.keys, s.signKey, s.signAlg, `${input}x`));
        if (v === "double") out = Uint8Array.of(...sig, ...sig);
        if (v === "half") out = sig.slice(0, sig.length >> 1);
        if (v === "raw-text") return "signature";
        return b64u(out);
      };
    },
  },
  {
    name: "ecdsa-signature",
    variants: ["high-s", "der", "r-zero", "s-zero", "s-plus-n"],
    combos: (c) => c.alg === "ES256",
    apply: (s, v) => {
      s.signature = async (sig) => {
        const r = sig.slice(0, 32);
        const sv = toBig(sig.slice(32));
        if (v === "high-s") return b64u(Uint8Array.of(...r, ...fromBig(P256_N - sv, 32)));
        if (v === "der") return b64u(derEcdsa(sig));
        if (v === "r-zero") return b64u(Uint8Array.of(...new Uint8Array(32), ...sig.slice(32)));
        if (v === "s-zero") return b64u(Uint8Array.of(...r, ...new Uint8Array(32)));
        const big = sv + P256_N;
        return b64u(big < 1n << 256n ? Uint8Array.of(...r, ...fromBig(big, 32)) : sig.slice(1));
      };
    },
  },
  {
    name: "ed25519-signature",
    variants: ["s-plus-l", "r-flip", "swap-halves"],
    combos: (c) => c.alg === "EdDSA",
    apply: (s, v) => {
      s.signature = async (sig) => {
        if (v === "s-plus-l") {
          const sLe = toBig(Uint8Array.from(sig.slice(32)).reverse()) + ED_L;
          return b64u(Uint8Array.of(...sig.slice(0, 32), ...fromBig(sLe, 32).reverse()));
        }
        if (v === "r-flip") return b64u(bitFlip(sig, 3));
        return b64u(Uint8Array.of(...sig.slice(32), ...sig.slice(0, 32)));
      };
    },
  },

  // -- encoding
  {
    name: "encoding",
    variants: [
      "pad-header", "pad-claims", "pad-signature", "std-alphabet-header", "std-alphabet-claims",
      "std-alphabet-signature", "stray-bits-header", "stray-bits-claims", "stray-bits-signature",
      "space-header", "newline-claims", "tab-signature", "leading-space", "trailing-newline", "four-parts",
      "five-parts", "trailing-dot", "leading-dot", "two-parts", "empty-token", "dots-only",
      "std-base64-padded-all", "non-ascii-claims", "percent-encoded",
    ],
    apply: (s, v) => {
      const hdr = (f) => {
        s.encodeHeader = (b) => f(b64u(b));
      };
      const clm = (f) => {
        s.encodeClaims = (b) => f(b64u(b));
      };
      const sig = (f) => {
        s.signature = async (b) => f(b64u(b));
      };
      switch (v) {
        case "pad-header":
          // pad a header that needs it: pick a typ length that leaves a remainder
          s.header.pad = "x".repeat(int(0, 2));
          hdr(pad);
          break;
        case "pad-claims":
          s.claims.pad = "x".repeat(int(0, 2));
          clm(pad);
          break;
        case "pad-signature":
          sig(pad);
          break;
        case "std-alphabet-header":
          s.header.blob = "\u00ff\u00fe\u00fb\u00ef?>?~~~"; // encodes with "-" and "_"
          hdr(stdAlphabet);
          break;
        case "std-alphabet-claims":
          s.claims.blob = "\u00ff\u00fe\u00fb\u00ef?>?~~~"; // encodes with "-" and "_"
          clm(stdAlphabet);
          break;
        case "std-alphabet-signature":
          sig(stdAlphabet);
          break;
        case "stray-bits-header":
          s.header.pad = "x".repeat(int(0, 2));
          hdr(unusedBits);
          break;
        case "stray-bits-claims":
          s.claims.pad = "x".repeat(int(0, 2));
          clm(unusedBits);
          break;
        case "stray-bits-signature":
          sig(unusedBits);
          break;
        case "space-header":
          hdr((x) => insertAt(x, " "));
          break;
        case "newline-claims":
          clm((x) => insertAt(x, "\n"));
          break;
        case "tab-signature":
          sig((x) => insertAt(x, "\t"));
          break;
        case "leading-space":
          s.finish = (t) => ` ${t}`;
          break;
        case "trailing-newline":
          s.finish = (t) => `${t}\n`;
          break;
        case "four-parts":
          s.finish = (t) => `${t}.${b64uText("{}")}`;
          break;
        case "five-parts":
          s.finish = (t) => `${t}.${b64uText("{}")}.AAAA`;
          break;
        case "trailing-dot":
          s.finish = (t) => `${t}.`;
          break;
        case "leading-dot":
          s.finish = (t) => `.${t}`;
          break;
        case "two-parts":
          s.finish = (t) => t.split(".").slice(0, 2).join(".");
          break;
        case "empty-token":
          s.finish = () => "";
          break;
        case "dots-only":
          s.finish = () => "..";
          break;
        case "std-base64-padded-all":
          s.encodeHeader = (b) => Buffer.from(b).toString("base64");
          s.encodeClaims = (b) => Buffer.from(b).toString("base64");
          s.signature = async (b) => Buffer.from(b).toString("base64");
          break;
        case "non-ascii-claims":
          clm((x) => insertAt(x, "é"));
          break;
        case "percent-encoded":
          clm((x) => insertAt(x, "%3D"));
          break;
      }
    },
  },

  // -- size
  {
    name: "size",
    variants: [MAX_TOKEN_BYTES - 1, MAX_TOKEN_BYTES, MAX_TOKEN_BYTES + 1, MAX_TOKEN_BYTES + 2, 20000, 4000],
    size: true,
    apply: () => {},
  },

  // -- policy-shaped claims
  {
    name: "scopes-and-extras",
    variants: ["scope-number", "scp-string", "scp-mixed", "client_id-number", "azp", "unicode-claims", "many-claims"],
    apply: (s, v) => {
      const c = s.claims;
      if (v === "scope-number") c.scope = 5;
      if (v === "scp-string") c.scp = "a b";
      if (v === "scp-mixed") c.scp = ["a", 1, null];
      if (v === "client_id-number") c.client_id = 9;
      if (v === "azp") c.azp = "app";
      if (v === "unicode-claims") c.name = "Zoë \u2028 \u{1f600}";
      if (v === "many-claims") for (let i = 0; i < 100; i++) c[`x${i}`] = i;
    },
  },
];

// Grows a claim until the token is exactly `target` characters long (or as close as base64url
// lengths allow; the exact length is what the classifier looks at).
async function buildSized(keys, spec, target) {
  let padLen = 0;
  let token = "";
  for (let i = 0; i < 12; i++) {
    spec.claims.pad = "p".repeat(padLen);
    token = await build(keys, spec);
    const missing = target - token.length;
    if (missing === 0) break;
    padLen = Math.max(0, padLen + (Math.round((missing * 3) / 4) || Math.sign(missing)));
  }
  return token;
}

// Tokens whose RSA signature begins with a zero byte, sent without it (shorter than the modulus).
async function shortRsaSignatureCases(keys) {
  const out = [];
  const targets = [
    { key: "rsa-a", alg: "RS256", kid: "rsa-a" },
    { key: "rsa-a", alg: "PS256", kid: "rsa-a" },
    { key: "rsa-a", alg: "PS512", kid: "rsa-a" },
    { key: "rsa-b", alg: "PS384", kid: "rsa-b" },
    { key: "rsa-b", alg: "RS512", kid: "rsa-b" },
  ];
  for (const combo of targets) {
    const policy = 0;
    for (let attempt = 0; attempt < 4000; attempt += 64) {
      const specs = Array.from({ length: 64 }, () => {
        const s = baseSpec(combo, POLICIES[policy]);
        s.keys = keys;
        let hit = null;
        s.signature = async (sig) => {
          if (sig[0] === 0) hit = sig;
          return b64u(sig[0] === 0 ? sig.slice(1) : sig);
        };
        return { s, hit: () => hit };
      });
      const tokens = await Promise.all(specs.map(({ s }) => build(keys, s)));
      const found = tokens.findIndex((_, i) => specs[i].hit());
      if (found >= 0) {
        out.push({ token: tokens[found], policy, jwks: "main", label: `rsa-short-signature:${combo.alg}` });
        break;
      }
    }
  }
  return out;
}

async function generate(keys) {
  const cases = [];
  const total = Number(process.env.DIFF_TOKENS ?? 12000);
  const flat = MUTATIONS.flatMap((m) => m.variants.map((v) => ({ m, v })));
  const jobs = [];
  for (let i = 0; i < total; i++) {
    const { m, v } = flat[i % flat.length];
    // One token in eight uses the kid-less key set; the rest the main one.
    const jwksName = i % 8 === 7 ? "nokid" : "main";
    const policyIdx = int(0, POLICIES.length - 1);
    const policy = POLICIES[policyIdx];
    const combos = COMBOS[jwksName].filter(m.combos ?? (() => true));
    const combo = pick(combos.length ? combos : COMBOS[jwksName]);
    const spec = baseSpec(combo, policy);
    spec.keys = keys;
    const ctx = { keys, leeway: policy.leeway, capped: Math.min(policy.leeway, MAX_LEEWAY) };
    m.apply(spec, v, ctx);
    const label = `${m.name}:${typeof v === "object" ? JSON.stringify(v) : v}`;
    jobs.push(async () => ({
      token: m.size ? await buildSized(keys, spec, v) : await build(keys, spec),
      policy: policyIdx,
      jwks: jwksName,
      label,
      valid: m.name === "valid",
    }));
  }
  // Sign in parallel batches (WebCrypto runs on libuv's thread pool).
  for (let i = 0; i < jobs.length; i += 256) {
    cases.push(...(await Promise.all(jobs.slice(i, i + 256).map((job) => job()))));
  }
  cases.push(...(await shortRsaSignatureCases(keys)));
  return cases;
}

// ---- verdicts ----------------------------------------------------------------------------------

function joseOptions(policy) {
  return {
    issuer: policy.issuer,
    audience: policy.audiences,
    algorithms: ALLOWED,
    clockTolerance: policy.leeway,
    currentDate: new Date(NOW * 1000),
    typ: policy.accept_jwt_typ ? undefined : "at+jwt",
    requiredClaims: ["exp", "sub"],
  };
}

// jose's verdict. When several JWKS keys match (no kid, or a shared kid), `localJWKSet` throws
// JWKSMultipleMatchingKeys and leaves trying them to the caller, as its documentation shows; this
// does so, since mKit tries each fitting key too.
async function joseVerdict(token, keySet, policy) {
  const options = joseOptions(policy);
  try {
    await jose.jwtVerify(token, keySet, options);
    return { ok: true, code: null, multi: false };
  } catch (error) {
    if (error?.code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS") {
      for await (const key of error) {
        try {
          await jose.jwtVerify(token, key, options);
          return { ok: true, code: null, multi: true };
        } catch {
          // next candidate
        }
      }
      return { ok: false, code: error.code, multi: true };
    }
    return { ok: false, code: error?.code ?? error?.name ?? String(error), multi: false };
  }
}

function mkitBinary() {
  if (process.env.MKIT_VERIFY_TOKENS) return process.env.MKIT_VERIFY_TOKENS;
  const run = spawnSync("cargo", ["build", "--quiet", "-p", "mkit", "--example", "verify_tokens", "--message-format=json"], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) {
    for (const line of run.stdout.split("\n")) {
      try {
        const msg = JSON.parse(line);
        if (msg.reason === "compiler-message" && msg.message?.rendered) process.stderr.write(msg.message.rendered);
      } catch {
        // not JSON
      }
    }
    throw new Error(`cargo build --example verify_tokens failed (${run.status})`);
  }
  for (const line of run.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const msg = JSON.parse(line);
    if (msg.reason === "compiler-artifact" && msg.target?.name === "verify_tokens" && msg.executable) return msg.executable;
  }
  throw new Error("cargo did not report the verify_tokens executable");
}

async function mkitVerdicts(bin, cases, sets) {
  const child = spawn(bin, [], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`verify_tokens exited with ${code}`))));
  });
  const out = [];
  const rl = createInterface({ input: child.stdout });
  rl.on("line", (line) => out.push(JSON.parse(line)));
  let lastSet = null;
  const lines = cases.map((c) => {
    const p = POLICIES[c.policy];
    const line = { token: c.token, issuer: p.issuer, audiences: p.audiences, now: NOW, leeway: p.leeway };
    line.accept_jwt_typ = p.accept_jwt_typ;
    if (c.jwks !== lastSet) {
      line.jwks = sets[c.jwks];
      lastSet = c.jwks;
    }
    return JSON.stringify(line);
  });
  const input = `${lines.join("\n")}\n`;
  if (process.env.DIFF_DUMP) writeFileSync(process.env.DIFF_DUMP, input);
  child.stdin.end(input);
  await exited;
  if (out.length !== cases.length) throw new Error(`verify_tokens answered ${out.length} of ${cases.length} lines`);
  return out;
}

// ---- where mKit is stricter than jose ----------------------------------------------------------

// A JSON reader that notices what JSON.parse glosses over: duplicate names, nesting depth,
// numbers beyond f64, lone surrogates. Returns null for text that is not JSON.
function inspectJson(text) {
  let i = 0;
  const seen = { dup: false, depth: 0, overflow: false, lone: false };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = () => {
    throw new SyntaxError("not JSON");
  };
  const str = () => {
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail();
      const ch = text[i++];
      if (ch === '"') break;
      if (ch < " ") fail();
      if (ch !== "\\") {
        out += ch;
        continue;
      }
      const e = text[i++];
      if (e === "u") {
        const hex = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail();
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
      } else {
        const m = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }[e];
        if (m === undefined) fail();
        out += m;
      }
    }
    if (!out.isWellFormed()) seen.lone = true;
    return out;
  };
  const value = (depth) => {
    ws();
    const ch = text[i];
    if (ch === "{" || ch === "[") {
      const obj = ch === "{";
      seen.depth = Math.max(seen.depth, depth + 1);
      i++;
      ws();
      if (text[i] === (obj ? "}" : "]")) {
        i++;
        return;
      }
      const names = new Set();
      for (;;) {
        ws();
        if (obj) {
          if (text[i] !== '"') fail();
          const name = str();
          if (names.has(name)) seen.dup = true;
          names.add(name);
          ws();
          if (text[i++] !== ":") fail();
        }
        value(depth + 1);
        ws();
        const sep = text[i++];
        if (sep === (obj ? "}" : "]")) return;
        if (sep !== ",") fail();
      }
    }
    if (ch === '"') return void str();
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
    m.lastIndex = i;
    const found = m.exec(text);
    if (!found) fail();
    i += found[0].length;
    if (/^-?\d/.test(found[0]) && !Number.isFinite(Number(found[0]))) seen.overflow = true;
  };
  try {
    value(0);
    ws();
    return i === text.length ? seen : null;
  } catch {
    return null;
  }
}

// What a token looks like through jose's eyes (only asked of tokens jose accepted).
function view(token) {
  const segs = token.split(".");
  const bytes = segs.slice(0, 3).map((s) => {
    try {
      return jose.base64url.decode(s);
    } catch {
      return null;
    }
  });
  const BOM = (b) => b && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
  const text = (b) => new TextDecoder("utf-8", { ignoreBOM: false }).decode(b);
  const parse = (b) => {
    try {
      return JSON.parse(text(b));
    } catch {
      return {};
    }
  };
  return {
    token,
    segs,
    sig: bytes[2],
    bom: BOM(bytes[0]) || BOM(bytes[1]),
    json: [bytes[0], bytes[1]].map((b) => (b ? inspectJson(text(b)) : null)),
    header: parse(bytes[0]),
    claims: parse(bytes[1]),
  };
}

const json = (t, f) => t.json.some((j) => j && f(j));

const CATEGORIES = [
  {
    id: "oversize",
    what: "token over 8 KiB: mKit caps the size, jose has no limit",
    codes: ["token_too_large"],
    test: (t) => t.token.length > MAX_TOKEN_BYTES,
  },
  {
    id: "base64-lenient",
    what: "padded, whitespace-bearing or non-canonical base64url (jose decodes with the forgiving atob)",
    codes: ["token_malformed"],
    test: (t) => t.segs.some((s) => !strictB64u(s)),
  },
  {
    id: "json-bom",
    what: "header or claims preceded by a UTF-8 BOM (jose's TextDecoder strips it)",
    codes: ["token_malformed"],
    test: (t) => t.bom,
  },
  {
    id: "json-duplicate-keys",
    what: "duplicate JSON member names (jose keeps the last one)",
    codes: ["token_malformed"],
    test: (t) => json(t, (j) => j.dup),
  },
  {
    id: "json-depth",
    what: "JSON nested deeper than serde_json's 128 levels",
    codes: ["token_malformed"],
    test: (t) => json(t, (j) => j.depth > 128),
  },
  {
    id: "json-number-overflow",
    what: "a number beyond f64 (JSON.parse makes it Infinity, e.g. exp 1e400 never expires)",
    codes: ["token_malformed"],
    test: (t) => json(t, (j) => j.overflow),
  },
  {
    id: "json-lone-surrogate",
    what: "a \\uD800-style lone surrogate escape (not a Unicode string; JSON.parse keeps it)",
    codes: ["token_malformed"],
    test: (t) => json(t, (j) => j.lone),
  },
  {
    id: "crit",
    what: 'any crit header, even crit ["b64"] with b64 true, which jose understands',
    codes: ["token_crit"],
    test: (t) => Object.hasOwn(t.header, "crit"),
  },
  {
    id: "typ-not-string",
    what: "a typ that is not a string (123, null, an array) is malformed, not absent (jose ignores it when no typ is required)",
    codes: ["token_malformed"],
    test: (t) => Object.hasOwn(t.header, "typ") && typeof t.header.typ !== "string",
  },
  {
    id: "typ-other",
    what: "accept_jwt_typ=true still refuses a typ other than at+jwt or JWT, with or without application/ (jose checks no typ then)",
    codes: ["token_typ"],
    test: (t, p) =>
      p.accept_jwt_typ &&
      typeof t.header.typ === "string" &&
      !["at+jwt", "application/at+jwt", "jwt", "application/jwt"].includes(t.header.typ.toLowerCase()),
  },
  {
    id: "iat-future",
    what: "iat in the future beyond the leeway (jose checks iat only with maxTokenAge)",
    codes: ["token_iat"],
    test: (t, p) => typeof t.claims.iat === "number" && t.claims.iat > NOW + Math.min(p.leeway, MAX_LEEWAY),
  },
  {
    id: "leeway-cap",
    what: "leeway over 60 s is capped at 60 s by mKit (jose applies the full clockTolerance)",
    codes: ["token_expired", "token_nbf", "token_iat"],
    test: (t, p) =>
      p.leeway > MAX_LEEWAY &&
      ((typeof t.claims.exp === "number" && t.claims.exp <= NOW - MAX_LEEWAY) ||
        (typeof t.claims.nbf === "number" && t.claims.nbf > NOW + MAX_LEEWAY)),
  },
  {
    id: "sub-not-string",
    what: "sub present but not a string (jose's requiredClaims checks presence only)",
    codes: ["token_claim_missing"],
    test: (t) => Object.hasOwn(t.claims, "sub") && typeof t.claims.sub !== "string",
  },
  {
    id: "sub-empty",
    what: "sub is the empty string (no one)",
    codes: ["token_claim_missing"],
    test: (t) => t.claims.sub === "",
  },
  {
    id: "id-token",
    what: "ID-token markers (nonce, at_hash, c_hash): an ID token is not an access token",
    codes: ["token_is_id_token"],
    test: (t) => ["nonce", "at_hash", "c_hash"].some((k) => Object.hasOwn(t.claims, k)),
  },
  {
    id: "rsa-short-signature",
    what: "RSA signature shorter than the modulus (RFC 8017 wants k octets; OpenSSL left-pads RSA-PSS ones)",
    codes: ["token_signature"],
    test: (t) => /^(RS|PS)/.test(t.header.alg) && t.sig && ![256, 384].includes(t.sig.length),
  },
  {
    id: "ecdsa-high-s",
    what: "ES256 signature with s > n/2 (the malleable twin of a valid signature)",
    codes: ["token_signature"],
    test: (t) => t.header.alg === "ES256" && t.sig?.length === 64 && toBig(t.sig.slice(32)) > P256_N / 2n,
  },
];

function explain(c, jose, mkit) {
  if (!jose.ok || mkit.ok || mkit.error) return null;
  const t = view(c.token);
  const p = POLICIES[c.policy];
  return (
    CATEGORIES.find((cat) => cat.test(t, p) && cat.codes.includes(mkit.code)) ?? null
  );
}

// ---- main --------------------------------------------------------------------------------------

const keys = await makeKeys();
const sets = jwks(keys);
const cases = await generate(keys);
const generatedAt = performance.now();

const bin = mkitBinary();
const builtAt = performance.now();
const mkit = await mkitVerdicts(bin, cases, sets);
const mkitAt = performance.now();

const localSets = { main: jose.createLocalJWKSet(sets.main), nokid: jose.createLocalJWKSet(sets.nokid) };
const joseResults = [];
for (let i = 0; i < cases.length; i += 512) {
  const batch = cases.slice(i, i + 512);
  joseResults.push(...(await Promise.all(batch.map((c) => joseVerdict(c.token, localSets[c.jwks], POLICIES[c.policy])))));
}
const joseAt = performance.now();

const tally = { bothOk: 0, bothRejected: 0, multi: 0 };
const byCategory = new Map(CATEGORIES.map((c) => [c.id, { count: 0, example: null }]));
const unexplained = [];
const perLabel = new Map();
for (const [i, c] of cases.entries()) {
  const j = joseResults[i];
  const m = mkit[i];
  if (j.multi) tally.multi++;
  const row = perLabel.get(c.label) ?? { n: 0, joseOk: 0, mkitOk: 0 };
  row.n++;
  row.joseOk += j.ok ? 1 : 0;
  row.mkitOk += m.ok ? 1 : 0;
  perLabel.set(c.label, row);
  if (m.error) {
    unexplained.push({ c, j, m, why: `verify_tokens could not read the line: ${m.error}` });
    continue;
  }
  if (c.valid && !(j.ok && m.ok)) {
    unexplained.push({ c, j, m, why: "a valid token was refused" });
    continue;
  }
  if (j.ok === m.ok) {
    tally[j.ok ? "bothOk" : "bothRejected"]++;
    continue;
  }
  const cat = explain(c, j, m);
  if (!cat) {
    unexplained.push({ c, j, m, why: j.ok ? "jose accepts, mKit refuses" : "mKit accepts, jose refuses" });
    continue;
  }
  const entry = byCategory.get(cat.id);
  entry.count++;
  entry.example ??= c;
}

if (process.env.DIFF_VERBOSE) {
  console.log("mutation                                   n  jose-ok  mkit-ok");
  for (const [label, r] of [...perLabel].sort()) {
    const n = (x, w) => String(x).padStart(w);
    console.log(`${label.padEnd(40).slice(0, 40)} ${n(r.n, 4)} ${n(r.joseOk, 8)} ${n(r.mkitOk, 8)}`);
  }
}

const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const agreements = tally.bothOk + tally.bothRejected;
const stricter = [...byCategory.values()].reduce((n, e) => n + e.count, 0);
console.log(`differential test: mKit vs jose ${jose.cryptoRuntime ?? ""} (seed ${SEED})`.replace("  ", " "));
console.log(`  tokens                         ${cases.length}`);
console.log(`  agreements                     ${agreements}`);
console.log(`    both accept ${tally.bothOk}, both refuse ${tally.bothRejected}`);
console.log(`  tokens for which jose's key set matched several keys (tried in turn)  ${tally.multi}`);
console.log(`  mKit stricter, documented      ${stricter}`);
for (const cat of CATEGORIES) {
  const { count } = byCategory.get(cat.id);
  console.log(`    ${cat.id.padEnd(22)} ${String(count).padStart(5)}  ${cat.what}`);
}
console.log(`  unexplained                    ${unexplained.length}`);
console.log(
  `  time: generate ${secs(generatedAt - started)}, build ${secs(builtAt - generatedAt)}, ` +
    `mKit ${secs(mkitAt - builtAt)}, jose ${secs(joseAt - mkitAt)}, total ${secs(performance.now() - started)}`,
);

let failed = false;
if (cases.length < 10_000) {
  console.error(`FAIL: only ${cases.length} tokens`);
  failed = true;
}
if (tally.bothOk < 500) {
  console.error(`FAIL: only ${tally.bothOk} tokens accepted by both: the generator or the policy is broken`);
  failed = true;
}
if (unexplained.length) {
  failed = true;
  console.error(`FAIL: ${unexplained.length} unexplained disagreements; examples:`);
  const shown = new Set();
  for (const { c, j, m, why } of unexplained) {
    if (shown.has(c.label) || shown.size >= 20) continue;
    shown.add(c.label);
    const t = view(c.token);
    console.error(`- ${c.label} [policy ${c.policy}: ${JSON.stringify(POLICIES[c.policy])}, jwks ${c.jwks}]: ${why}`);
    console.error(`  jose: ${j.ok ? "ok" : j.code}; mKit: ${m.ok ? "ok" : m.code}${m.error ? ` (${m.error})` : ""}`);
    console.error(`  header ${JSON.stringify(t.header)}`);
    console.error(`  token  ${c.token.length > 4000 ? `${c.token.slice(0, 4000)}… (${c.token.length} chars)` : c.token}`);
  }
}
if (process.env.DIFF_EXAMPLES) {
  for (const cat of CATEGORIES) {
    const { example } = byCategory.get(cat.id);
    if (example) console.log(`example ${cat.id} [${example.label}]: ${example.token}`);
  }
}
process.exit(failed ? 1 : 0);
