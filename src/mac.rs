//! HMAC-SHA256 and constant-time comparison: the one implementation behind Stripe webhook
//! signatures and sealed MCP request state, run against the Wycheproof vectors in `cargo test`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(message);
    m.finalize().into_bytes().into()
}

/// A key for one use of a deployment secret (`MKIT_SECRET`): HMAC-SHA256 of the purpose label
/// under the secret, so the request-state key, the cache key and any later use never coincide.
pub fn derive_key(secret: &str, purpose: &str) -> [u8; 32] {
    hmac_sha256(secret.as_bytes(), format!("mkit/v1/{purpose}").as_bytes())
}

/// Lowercase hex, as Stripe signatures and cache keys spell digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of byte strings (their length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_case_2_and_comparison() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert_ne!(derive_key("s", "request-state"), derive_key("s", "jwks-cache"));
        assert_ne!(derive_key("s", "request-state"), derive_key("t", "request-state"));
    }
}
