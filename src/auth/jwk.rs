//! JWS algorithms and JWK sets (RFC 7515/7517/7518): which keys may verify which tokens, and
//! the one signature check every token goes through (jwt-compact's algorithms).

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaSignature};
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::Value;

/// base64url without padding, strictly: no `=`, no stray bits, no other alphabet.
pub const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// The signature algorithms mKit accepts: asymmetric only. `none` and `HS*` never parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    EdDsa,
}

impl Alg {
    pub fn parse(s: &str) -> Option<Alg> {
        Some(match s {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "ES256" => Alg::Es256,
            "EdDSA" => Alg::EdDsa,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    fn rsa(self) -> Option<Rsa> {
        Some(match self {
            Alg::Rs256 => Rsa::rs256(),
            Alg::Rs384 => Rsa::rs384(),
            Alg::Rs512 => Rsa::rs512(),
            Alg::Ps256 => Rsa::ps256(),
            Alg::Ps384 => Rsa::ps384(),
            Alg::Ps512 => Rsa::ps512(),
            Alg::Es256 | Alg::EdDsa => return None,
        })
    }
}

/// A public key usable for verification.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_compact::PublicKey),
}

impl PublicKey {
    /// Whether this key type can verify `alg` (RFC 7518 §3.1 key types).
    pub fn fits(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (PublicKey::Rsa(_), Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512)
                | (PublicKey::P256(_), Alg::Es256)
                | (PublicKey::Ed25519(_), Alg::EdDsa)
        )
    }
}

/// The signature check: `alg` over `message` with `key`. JWS signatures for ES256 are the
/// 64-byte `r || s` form (RFC 7518 §3.4), never DER.
pub fn verify_signature(alg: Alg, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match (key, alg) {
        (PublicKey::Rsa(k), _) => {
            let (Some(rsa), Ok(sig)) = (alg.rsa(), RsaSignature::try_from_slice(signature)) else {
                return false;
            };
            rsa.verify_signature(&sig, k, message)
        }
        (PublicKey::P256(k), Alg::Es256) => {
            if signature.len() != 64 {
                return false;
            }
            match <Es256 as Algorithm>::Signature::try_from_slice(signature) {
                Ok(sig) => Es256.verify_signature(&sig, k, message),
                Err(_) => false,
            }
        }
        (PublicKey::Ed25519(k), Alg::EdDsa) => {
            // jwt-compact's Ed25519 `try_from_slice` panics on a wrong length (it relies on the
            // caller checking `LENGTH` first, as its own token path does): check it here. The
            // Wycheproof suite found this.
            if signature.len() != 64 {
                return false;
            }
            match <Ed25519 as Algorithm>::Signature::try_from_slice(signature) {
                Ok(sig) => Ed25519.verify_signature(&sig, k, message),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// One usable key of a JWK set, with the constraints its JWK declared.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub key: PublicKey,
}

impl KeyEntry {
    /// The key may verify a token signed with `alg` (key type, and the JWK's own `alg`).
    pub fn allows(&self, alg: Alg) -> bool {
        self.key.fits(alg) && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }
}

/// Why a JWK was not taken into the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkRejection {
    PrivateMembers,
    NotForSignatures,
    UnsupportedKeyType,
    WeakRsaKey { bits: usize },
    Malformed(&'static str),
}

#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    pub keys: Vec<KeyEntry>,
    /// What was left out (kid or index, reason), logged as `jwks_keys_rejected` on each fetch.
    pub rejected: Vec<(String, JwkRejection)>,
}

pub const MIN_RSA_BITS: usize = 2048;
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl JwkSet {
    /// Reads a JWK Set document (`{"keys":[…]}`), keeping only keys fit for verifying
    /// signatures. The document itself must be well-formed.
    pub fn parse(doc: &[u8]) -> Result<JwkSet, String> {
        let v = super::json::parse_strict(doc)?;
        let keys = v.get("keys").and_then(Value::as_array).ok_or("a JWK Set needs a \"keys\" array")?;
        let mut set = JwkSet::default();
        for (i, jwk) in keys.iter().enumerate() {
            let label = jwk.get("kid").and_then(Value::as_str).map_or_else(|| format!("#{i}"), str::to_owned);
            match parse_jwk(jwk) {
                Ok(entry) => set.keys.push(entry),
                Err(why) => set.rejected.push((label, why)),
            }
        }
        Ok(set)
    }
}

fn b64_member(jwk: &Value, name: &'static str) -> Result<Vec<u8>, JwkRejection> {
    let s = jwk.get(name).and_then(Value::as_str).ok_or(JwkRejection::Malformed(name))?;
    B64URL.decode(s).map_err(|_| JwkRejection::Malformed(name))
}

pub fn parse_jwk(jwk: &Value) -> Result<KeyEntry, JwkRejection> {
    let obj = jwk.as_object().ok_or(JwkRejection::Malformed("jwk"))?;
    if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
        return Err(JwkRejection::PrivateMembers);
    }
    if obj.get("use").is_some_and(|u| u != "sig") {
        return Err(JwkRejection::NotForSignatures);
    }
    if let Some(ops) = obj.get("key_ops") {
        let verifies = ops.as_array().is_some_and(|a| a.iter().any(|o| o == "verify"));
        if !verifies {
            return Err(JwkRejection::NotForSignatures);
        }
    }
    let str_member = |name| obj.get(name).and_then(Value::as_str);
    let key = match str_member("kty") {
        Some("RSA") => {
            let n = rsa::BigUint::from_bytes_be(&b64_member(jwk, "n")?);
            let e = rsa::BigUint::from_bytes_be(&b64_member(jwk, "e")?);
            let bits = n.bits();
            if bits < MIN_RSA_BITS {
                return Err(JwkRejection::WeakRsaKey { bits });
            }
            PublicKey::Rsa(rsa::RsaPublicKey::new(n, e).map_err(|_| JwkRejection::Malformed("n/e"))?)
        }
        Some("EC") => {
            if str_member("crv") != Some("P-256") {
                return Err(JwkRejection::UnsupportedKeyType);
            }
            let (x, y) = (b64_member(jwk, "x")?, b64_member(jwk, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(JwkRejection::Malformed("x/y"));
            }
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(0x04);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            PublicKey::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| JwkRejection::Malformed("x/y"))?,
            )
        }
        Some("OKP") => {
            if str_member("crv") != Some("Ed25519") {
                return Err(JwkRejection::UnsupportedKeyType);
            }
            let x = b64_member(jwk, "x")?;
            PublicKey::Ed25519(ed25519_compact::PublicKey::from_slice(&x).map_err(|_| JwkRejection::Malformed("x"))?)
        }
        _ => return Err(JwkRejection::UnsupportedKeyType),
    };
    let alg = str_member("alg").map(str::to_owned);
    if let Some(a) = &alg {
        if !Alg::parse(a).is_some_and(|a| key.fits(a)) {
            return Err(JwkRejection::UnsupportedKeyType);
        }
    }
    Ok(KeyEntry { kid: str_member("kid").map(str::to_owned), alg, key })
}
