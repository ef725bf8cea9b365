//! The signature check off Workers (tests, fuzzing, Wycheproof): jwt-compact's algorithms over
//! the `rsa`, `p256` and `ed25519-compact` crates. On Workers the same check goes through
//! workerd's WebCrypto (`edge::webcrypto`), measured 7 to 14 times cheaper in CPU and without
//! RSA or Ed25519 code in the bundle; both take and refuse the same keys (`jwk::parse_jwk`).

use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaSignature};
use jwt_compact::{Algorithm, AlgorithmSignature};

use super::jwk::{Alg, PublicKey};

fn rsa(alg: Alg) -> Option<Rsa> {
    Some(match alg {
        Alg::Rs256 => Rsa::rs256(),
        Alg::Rs384 => Rsa::rs384(),
        Alg::Rs512 => Rsa::rs512(),
        Alg::Ps256 => Rsa::ps256(),
        Alg::Ps384 => Rsa::ps384(),
        Alg::Ps512 => Rsa::ps512(),
        Alg::Es256 | Alg::EdDsa => return None,
    })
}

/// `alg` over `message` with `key`. JWS signatures for ES256 are the 64-byte `r || s` form
/// (RFC 7518 §3.4), never DER.
pub fn verify_signature(alg: Alg, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match (key, alg) {
        (PublicKey::Rsa { n, e }, _) => {
            let k = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e));
            let (Some(rsa), Ok(k), Ok(sig)) = (rsa(alg), k, RsaSignature::try_from_slice(signature)) else {
                return false;
            };
            rsa.verify_signature(&sig, &k, message)
        }
        (PublicKey::P256 { x, y }, Alg::Es256) => {
            let point = p256::EncodedPoint::from_affine_coordinates(&(*x).into(), &(*y).into(), false);
            let Ok(k) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else {
                return false;
            };
            if signature.len() != 64 {
                return false;
            }
            match <Es256 as Algorithm>::Signature::try_from_slice(signature) {
                Ok(sig) => Es256.verify_signature(&sig, &k, message),
                Err(_) => false,
            }
        }
        (PublicKey::Ed25519(x), Alg::EdDsa) => {
            // jwt-compact's Ed25519 `try_from_slice` panics on a wrong length (it relies on the
            // caller checking `LENGTH` first, as its own token path does): check it here. The
            // Wycheproof suite found this.
            let Ok(k) = ed25519_compact::PublicKey::from_slice(x) else {
                return false;
            };
            if signature.len() != 64 {
                return false;
            }
            match <Ed25519 as Algorithm>::Signature::try_from_slice(signature) {
                Ok(sig) => Ed25519.verify_signature(&sig, &k, message),
                Err(_) => false,
            }
        }
        _ => false,
    }
}
