//! The access tokens mKit issues in authorization-server mode: RFC 9068 JWTs (`typ: at+jwt`),
//! ES256, short-lived, `aud` = the resource. The signing keys are derived from the deployment
//! secret (`MKIT_SECRET`): its first value signs, every listed value's key is published, so the
//! secret's documented two-value rotation rotates the signing key with no gap and no new secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::grant::Grant;

/// Access tokens live 15 minutes: a leaked one is short-lived, and refresh is cheap.
pub const ACCESS_TOKEN_TTL_SECS: u64 = 900;

/// One ES256 key: the private half signs, the public half is published in the JWKS.
pub struct Key {
    signing: SigningKey,
    /// The key's `kid`: the RFC 7638 thumbprint of its public half.
    pub kid: String,
}

impl Key {
    /// The key a deployment secret stands for. A derived scalar outside the curve's range is
    /// vanishingly rare; the next counter value is used then.
    pub fn derive(secret: &str) -> Key {
        let signing = (0u32..)
            .find_map(|n| {
                let label = mkit_kernel::keyring::Purpose::OAuthSigningKey.label();
                let seed = mkit_kernel::mac::derive_key(secret, &format!("{label}/{n}"));
                SigningKey::from_bytes(&seed.into()).ok()
            })
            .unwrap_or_else(|| unreachable!("a valid P-256 scalar is found within a few tries"));
        let kid = thumbprint(&public_members(&signing));
        Key { signing, kid }
    }

    /// The public JWK (RFC 7517), with `kid` = its RFC 7638 thumbprint.
    pub fn public_jwk(&self) -> Value {
        let (x, y) = public_members(&self.signing);
        json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": self.kid, "alg": "ES256", "use": "sig" })
    }
}

/// The JWK Set to publish: every key, the signing one first.
pub fn jwks(keys: &[Key]) -> Value {
    json!({ "keys": keys.iter().map(Key::public_jwk).collect::<Vec<_>>() })
}

/// What an access token says besides the grant.
pub struct Issue<'a> {
    /// `iss`: this server's issuer.
    pub issuer: &'a str,
    /// `iat`, in seconds since the epoch; `exp` is `ACCESS_TOKEN_TTL_SECS` later.
    pub now: u64,
    /// A unique id for the token (`jti`), from the caller's randomness.
    pub jti: &'a str,
}

/// Mints an access token for `grant`, signed with `key`.
pub fn mint(key: &Key, grant: &Grant, issue: &Issue<'_>) -> String {
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": key.kid });
    let mut claims = Map::new();
    // Carried upstream claims first, so none can override the token's own.
    claims.extend(grant.claims.clone());
    for (k, v) in [
        ("iss", json!(issue.issuer)),
        ("sub", json!(grant.sub)),
        ("aud", json!(grant.resource)),
        ("client_id", json!(grant.client_id)),
        ("scope", json!(grant.scope)),
        ("iat", json!(issue.now)),
        ("exp", json!(issue.now + ACCESS_TOKEN_TTL_SECS)),
        ("jti", json!(issue.jti)),
    ] {
        claims.insert(k.to_owned(), v);
    }
    let input = format!("{}.{}", b64(&header), b64(&Value::Object(claims)));
    // RFC 6979 deterministic ECDSA over SHA-256, as the 64-byte r || s of RFC 7518 §3.4.
    let signature: Signature = key.signing.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn public_members(k: &SigningKey) -> (String, String) {
    let point = k.verifying_key().to_encoded_point(false);
    let coord = |c: Option<&p256::FieldBytes>| c.map(|b| URL_SAFE_NO_PAD.encode(b)).unwrap_or_default();
    (coord(point.x()), coord(point.y()))
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
fn thumbprint((x, y): &(String, String)) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}
