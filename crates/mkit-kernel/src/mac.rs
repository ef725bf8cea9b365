//! HMAC-SHA256 and constant-time comparison: the one implementation behind Stripe webhook
//! signatures and sealed MCP request state, run against the Wycheproof vectors in `cargo test`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
///
/// ```
/// let tag = mkit_kernel::mac::hmac_sha256(b"key", b"message");
/// assert_eq!(tag.len(), 32);
/// ```
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

/// The name of a caller's Durable Object in `namespace` (`MCP_SESSIONS`, `MCP_TASKS`): HMAC-SHA256
/// of issuer and subject keyed by the binding's name. The key is a public label, so this is a
/// hash, not a secret: anyone who knows an issuer and a subject can compute it (#28 item 11).
/// It keeps the subject out of the name; it is no credential, since only a Worker of the account
/// with the binding reaches an object, and mKit addresses only the validated caller's own. It is
/// deliberately not keyed by `MKIT_SECRET`: rotating the secret would move every caller's
/// sessions and tasks. Changing it moves them all too, so the test pins it.
pub fn object_name(namespace: &str, issuer: &str, sub: &str) -> String {
    hex(&hmac_sha256(namespace.as_bytes(), format!("{issuer}\n{sub}").as_bytes()))
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

    #[test]
    fn object_names_are_a_public_hash_that_never_moves() {
        // A hash anyone can compute from issuer and subject, as SECURITY.md says: HMAC under the
        // binding's name, no secret involved (#28 item 11).
        let name = object_name("MCP_TASKS", "https://issuer.example.com/", "alice");
        let by_hand = hmac_sha256(b"MCP_TASKS", b"https://issuer.example.com/\nalice");
        assert_eq!(name, hex(&by_hand));
        // Pinned: a change moves every caller's held sessions and tasks to new, empty objects.
        assert_eq!(name, "8e42a6353fa31437a44caab50e356e29ebd62b84b1d259e1df3a3cd9ac856802");
        assert_ne!(name, object_name("MCP_SESSIONS", "https://issuer.example.com/", "alice"));
        assert_ne!(name, object_name("MCP_TASKS", "https://issuer.example.com/", "bob"));
        assert!(!name.contains("alice"));
    }
}
