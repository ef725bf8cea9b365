//! Coinbase Developer Platform's x402 facilitator takes each request only with a JWT that a CDP
//! API key signed for that one request. This builds it as `@coinbase/cdp-sdk/auth`'s
//! `generateJwt` does (which `@coinbase/x402`'s facilitator config sends as `Authorization:
//! Bearer`): header `{alg, kid, typ: JWT, nonce}`, claims `{sub: key id, iss: "cdp", uris:
//! ["METHOD host/path"], iat, nbf, exp: +120 s}`. Pure: the key's form and the signing input; the
//! signature is WebCrypto's, at the edge.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::json;

/// How long a request's JWT is good for, as `generateJwt`'s default.
pub const LIFETIME_SECS: i64 = 120;

/// A CDP API key secret, in one of the two forms the CDP portal gives and `generateJwt` takes.
#[derive(Clone, PartialEq, Eq)]
pub enum CdpKey {
    /// An ECDSA P-256 key as PKCS#8 (`-----BEGIN PRIVATE KEY-----`), here its DER: ES256.
    Es256 {
        /// The PKCS#8 DER.
        pkcs8: Vec<u8>,
    },
    /// An Ed25519 key as base64 of 64 bytes, the 32-byte seed then the public key: EdDSA.
    Ed25519 {
        /// The private seed.
        seed: [u8; 32],
        /// The public key.
        public: [u8; 32],
    },
}

impl std::fmt::Debug for CdpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.alg())
    }
}

/// `id-ecPublicKey` and `prime256v1`, as DER object identifiers: a P-256 PKCS#8 key has both.
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

impl CdpKey {
    /// The key in `secret`, or why it is none (the reason names the forms, never the value).
    pub fn parse(secret: &str) -> Result<CdpKey, &'static str> {
        let secret = secret.trim().replace("\\n", "\n");
        if let Some(pem) = pem_body(&secret, "PRIVATE KEY") {
            let der = STANDARD.decode(pem).map_err(|_| NOT_A_KEY)?;
            let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
            return if der.first() == Some(&0x30) && has(EC_PUBLIC_KEY_OID) && has(P256_OID) {
                Ok(CdpKey::Es256 { pkcs8: der })
            } else {
                Err("must be a P-256 (ES256) key: this PKCS#8 key is of another kind")
            };
        }
        if pem_body(&secret, "EC PRIVATE KEY").is_some() {
            return Err("is an SEC1 key (BEGIN EC PRIVATE KEY): convert it to PKCS#8 with \
                 openssl pkcs8 -topk8 -nocrypt, as the CDP SDK also requires");
        }
        let raw = STANDARD.decode(secret.as_bytes()).map_err(|_| NOT_A_KEY)?;
        let (Ok(seed), Ok(public)) =
            (raw.get(..32).unwrap_or_default().try_into(), raw.get(32..).unwrap_or_default().try_into())
        else {
            return Err(NOT_A_KEY);
        };
        Ok(CdpKey::Ed25519 { seed, public })
    }

    /// The JWS algorithm this key signs with (RFC 7518, RFC 8037).
    pub fn alg(&self) -> &'static str {
        match self {
            CdpKey::Es256 { .. } => "ES256",
            CdpKey::Ed25519 { .. } => "EdDSA",
        }
    }

    /// An Ed25519 key as the private JWK WebCrypto imports (RFC 8037 §2).
    pub fn ed25519_jwk(&self) -> Option<String> {
        match self {
            CdpKey::Ed25519 { seed, public } => Some(
                json!({ "kty": "OKP", "crv": "Ed25519", "d": URL_SAFE_NO_PAD.encode(seed),
                    "x": URL_SAFE_NO_PAD.encode(public) })
                .to_string(),
            ),
            CdpKey::Es256 { .. } => None,
        }
    }
}

const NOT_A_KEY: &str = "must be a CDP API key secret: a PEM EC key (BEGIN PRIVATE KEY) or a base64 Ed25519 key";

/// The base64 between a PEM block's armour lines of `label`, whitespace removed.
fn pem_body(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text.strip_prefix(&begin)?.trim_end().strip_suffix(&end)?;
    Some(body.chars().filter(|c| !c.is_whitespace()).collect())
}

/// A CDP API key: its id (`MKIT_X402_CDP_API_KEY_ID`, the JWT's `kid` and `sub`) and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdpCredentials {
    /// The key's id (`organizations/…/apiKeys/…`, or a UUID).
    pub key_id: String,
    /// The key.
    pub key: CdpKey,
}

impl CdpCredentials {
    /// The JWS signing input (`header.claims`, base64url) for one request: `method` to
    /// `host` (with its port, if the URL names one) and `path`, at `now`; `nonce` is 16 random
    /// bytes as hex, as `generateJwt` makes it.
    pub fn signing_input(&self, method: &str, host: &str, path: &str, now: i64, nonce: &str) -> String {
        let header = json!({ "alg": self.key.alg(), "kid": self.key_id, "typ": "JWT", "nonce": nonce });
        let claims = json!({ "sub": self.key_id, "iss": "cdp", "uris": [format!("{method} {host}{path}")],
            "iat": now, "nbf": now, "exp": now + LIFETIME_SECS });
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}", part(header), part(claims))
    }
}

/// Authentication at a CDP facilitator: the key, and the host and base path of the facilitator
/// URL (`api.cdp.coinbase.com`, `/platform/v2/x402`) its JWTs name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilitatorAuth {
    /// The API key.
    pub credentials: CdpCredentials,
    /// The URL's host, with its port when the URL names one.
    pub host: String,
    /// The URL's path, without a trailing `/`.
    pub base_path: String,
}

impl FacilitatorAuth {
    /// The signing input of a POST to the facilitator's `/{endpoint}` (`verify`, `settle`).
    pub fn post(&self, endpoint: &str, now: i64, nonce: &str) -> String {
        let path = format!("{}/{endpoint}", self.base_path);
        self.credentials.signing_input("POST", &self.host, &path, now, nonce)
    }
}

/// The compact JWS: the signing input and the signature (for ES256, `r || s`, as WebCrypto
/// gives it and RFC 7518 §3.4 wants it).
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
#[path = "cdp_tests.rs"]
mod tests;
