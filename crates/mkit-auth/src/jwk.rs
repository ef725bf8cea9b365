//! JWS algorithms and JWK sets (RFC 7515/7517/7518): which keys may verify which tokens.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::Value;

/// base64url without padding, strictly: no `=`, no stray bits, no other alphabet.
pub const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// The signature algorithms mKit accepts: asymmetric only. `none` and `HS*` never parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 and MGF1 (RFC 7518 §3.5).
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    Es256,
    /// EdDSA (RFC 8037), with Ed25519 keys only.
    EdDsa,
}

impl Alg {
    /// The algorithm a JWS `alg` value names (case-sensitive); `None` for any other.
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

    /// The JWS `alg` value.
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
}

/// A public key usable for verification: the JWK's members, checked as far as a key can be
/// without a crypto library (RSA size and exponent; an EC point is also checked on the curve).
/// The signature check itself is `signature::verify_signature` natively and workerd's WebCrypto
/// on Workers (`edge::webcrypto`), so the WASM bundle carries no RSA or Ed25519 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Modulus and public exponent, big-endian, no leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// An uncompressed point on P-256.
    P256 {
        /// The x coordinate, big-endian.
        x: [u8; 32],
        /// The y coordinate, big-endian.
        y: [u8; 32],
    },
    /// An Ed25519 public key (RFC 8037 `OKP`).
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// Whether this key type can verify `alg` (RFC 7518 §3.1 key types).
    pub fn fits(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (PublicKey::Rsa { .. }, Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512)
                | (PublicKey::P256 { .. }, Alg::Es256)
                | (PublicKey::Ed25519(_), Alg::EdDsa)
        )
    }

    /// The key as a minimal public JWK, the form WebCrypto imports.
    pub fn jwk(&self) -> String {
        match self {
            PublicKey::Rsa { n, e } => {
                format!(r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#, B64URL.encode(n), B64URL.encode(e))
            }
            PublicKey::P256 { x, y } => {
                format!(r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#, B64URL.encode(x), B64URL.encode(y))
            }
            PublicKey::Ed25519(x) => format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, B64URL.encode(x)),
        }
    }
}

/// One usable key of a JWK set, with the constraints its JWK declared.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// The JWK's `kid`, which a token's header may name.
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it pins one.
    pub alg: Option<String>,
    /// The key itself.
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
    /// The JWK carries private-key members (`d`, `p`, `k`…).
    PrivateMembers,
    /// `use` is not `sig`, or `key_ops` lacks `verify`.
    NotForSignatures,
    /// A key type or curve mKit does not verify with, or an `alg` that does not fit the key.
    UnsupportedKeyType,
    /// An RSA modulus shorter than `MIN_RSA_BITS`.
    WeakRsaKey {
        /// The modulus's size.
        bits: usize,
    },
    /// A member missing or malformed (named), or RSA parameters out of bounds (`n/e`).
    Malformed(&'static str),
}

/// A JWK Set (RFC 7517 §5), reduced to the keys mKit can verify with.
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    /// The usable keys, in document order.
    pub keys: Vec<KeyEntry>,
    /// What was left out (kid or index, reason), logged as `jwks_keys_rejected` on each fetch.
    pub rejected: Vec<(String, JwkRejection)>,
}

/// The smallest RSA modulus taken (RFC 7518 §3.3 requires 2048 bits or more).
pub const MIN_RSA_BITS: usize = 2048;
/// The largest modulus taken, as the `rsa` crate and most issuers draw the line.
pub const MAX_RSA_BITS: usize = 4096;
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

/// One JWK (RFC 7517 §4) as a verification key, or why it cannot be one.
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
        Some("RSA") => rsa_key(b64_member(jwk, "n")?, b64_member(jwk, "e")?)?,
        Some("EC") => {
            if str_member("crv") != Some("P-256") {
                return Err(JwkRejection::UnsupportedKeyType);
            }
            let (x, y) = (b64_member(jwk, "x")?, b64_member(jwk, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(JwkRejection::Malformed("x/y"));
            }
            let (Ok(x), Ok(y)) = (x.try_into(), y.try_into()) else {
                return Err(JwkRejection::Malformed("x/y"));
            };
            if !on_p256(&x, &y) {
                return Err(JwkRejection::Malformed("x/y"));
            }
            PublicKey::P256 { x, y }
        }
        Some("OKP") => {
            if str_member("crv") != Some("Ed25519") {
                return Err(JwkRejection::UnsupportedKeyType);
            }
            let x = b64_member(jwk, "x")?;
            PublicKey::Ed25519(x.try_into().map_err(|_| JwkRejection::Malformed("x"))?)
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

/// An RSA key from its JWK members: at least `MIN_RSA_BITS`, at most `MAX_RSA_BITS`, an odd
/// modulus and an odd exponent of 3 to 2^33 - 1 (what BoringSSL's WebCrypto and the `rsa`
/// crate both accept, so a key is taken or refused the same way on every target).
fn rsa_key(n: Vec<u8>, e: Vec<u8>) -> Result<PublicKey, JwkRejection> {
    let trim = |v: Vec<u8>| v.iter().position(|b| *b != 0).map_or_else(Vec::new, |i| v[i..].to_vec());
    let (n, e) = (trim(n), trim(e));
    let bits = n.first().map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err(JwkRejection::WeakRsaKey { bits });
    }
    let exponent = e.iter().fold(0u64, |acc, b| acc.saturating_mul(256).saturating_add(u64::from(*b)));
    let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
    if bits > MAX_RSA_BITS || e.len() > 5 || !(3..(1 << 33)).contains(&exponent) || !odd(&n) || !odd(&e) {
        return Err(JwkRejection::Malformed("n/e"));
    }
    Ok(PublicKey::Rsa { n, e })
}

/// Whether (x, y) is a point of P-256: both coordinates below p, and y² = x³ − 3x + b (mod p).
/// The check p256's `PublicKey::from_sec1_bytes` makes of an uncompressed point (which cannot
/// encode the identity), in crypto-bigint's Montgomery arithmetic alone: a resource server's
/// bundle needs no more of the curve. Public values: no constant time needed. Tested against p256.
pub(crate) fn on_p256(x: &[u8; 32], y: &[u8; 32]) -> bool {
    use crypto_bigint::modular::constant_mod::ResidueParams;
    use crypto_bigint::{const_residue, impl_modulus, U256};

    impl_modulus!(P256Field, U256, "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    const B: U256 = U256::from_be_hex("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");

    let (x, y, b) = (U256::from_be_slice(x), U256::from_be_slice(y), B);
    if x >= P256Field::MODULUS || y >= P256Field::MODULUS {
        return false;
    }
    let (x, y, b) = (const_residue!(x, P256Field), const_residue!(y, P256Field), const_residue!(b, P256Field));
    let rhs = x.square() * x - x - x - x + b;
    y.square().retrieve() == rhs.retrieve()
}

#[cfg(test)]
mod on_curve_tests {
    use super::on_p256;
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    const P: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];

    fn p256_accepts(x: &[u8; 32], y: &[u8; 32]) -> bool {
        let sec1: Vec<u8> = [&[4u8][..], x, y].concat();
        p256::PublicKey::from_sec1_bytes(&sec1).is_ok()
    }

    fn coordinates(k: u64) -> ([u8; 32], [u8; 32]) {
        let mut scalar = [0u8; 32];
        scalar[..8].copy_from_slice(&k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
        scalar[24..].copy_from_slice(&k.to_be_bytes());
        let point = p256::SecretKey::from_slice(&scalar).expect("a valid scalar").public_key().to_encoded_point(false);
        let x: [u8; 32] = point.x().expect("uncompressed").as_slice().try_into().expect("32 bytes");
        let y: [u8; 32] = point.y().expect("uncompressed").as_slice().try_into().expect("32 bytes");
        (x, y)
    }

    /// p - v, for v < p (big-endian).
    fn negate(v: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(P[i]) - i16::from(v[i]) - borrow;
            borrow = i16::from(d < 0);
            out[i] = (d + 256 * borrow) as u8;
        }
        out
    }

    #[test]
    fn agrees_with_p256_on_points_and_near_misses() {
        for k in 1..=200u64 {
            let (x, y) = coordinates(k);
            assert!(on_p256(&x, &y) && p256_accepts(&x, &y), "k = {k}");
            let minus_y = negate(&y);
            assert!(on_p256(&x, &minus_y) && p256_accepts(&x, &minus_y), "-P, k = {k}");
            for bit in [0, 7, 100, 255] {
                let (mut x2, mut y2) = (x, y);
                y2[31 - bit / 8] ^= 1 << (bit % 8);
                assert_eq!(on_p256(&x, &y2), p256_accepts(&x, &y2), "y bit {bit}, k = {k}");
                x2[31 - bit / 8] ^= 1 << (bit % 8);
                assert_eq!(on_p256(&x2, &y), p256_accepts(&x2, &y), "x bit {bit}, k = {k}");
            }
        }
    }

    #[test]
    fn coordinates_at_or_above_p_and_zero_are_refused() {
        let (x, y) = coordinates(7);
        for bad in [P, [0xff; 32]] {
            assert!(!on_p256(&bad, &y) && !p256_accepts(&bad, &y));
            assert!(!on_p256(&x, &bad) && !p256_accepts(&x, &bad));
        }
        let zero = [0u8; 32];
        assert_eq!(on_p256(&zero, &zero), p256_accepts(&zero, &zero));
        assert!(!on_p256(&zero, &zero));
    }
}
