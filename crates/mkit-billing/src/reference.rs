//! Checkout `client_reference_id`s that mKit mints and can verify. Pure.
//!
//! Anyone can put a `client_reference_id` on a Checkout URL or Payment Link, so the ledger binds a
//! customer from one only when mKit minted it: `mkit1_<base64url(sub)>_<base64url(tag)>`, where
//! `tag` is the first 16 bytes of HMAC-SHA256(key, `"client-reference\0"` + sub) under a key
//! derived from `MKIT_SECRET` (`keys::Purpose::ClientReference`). Stripe allows up to 200 characters of
//! alphanumerics, dashes and underscores; base64url is all three. The sub may itself encode to
//! underscores, so the value is split from the right: the tag has a fixed length.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use mkit_kernel::mac::{ct_eq, hmac_sha256};

/// Stripe's limit on `client_reference_id`.
pub const MAX_REFERENCE_CHARS: usize = 200;

const PREFIX: &str = "mkit1_";
const TAG_BYTES: usize = 16;
/// base64url of [`TAG_BYTES`] bytes, unpadded.
const TAG_CHARS: usize = 22;

fn tag(key: &[u8; 32], sub: &str) -> [u8; TAG_BYTES] {
    let mut message = b"client-reference\0".to_vec();
    message.extend_from_slice(sub.as_bytes());
    let mac = hmac_sha256(key, &message);
    let mut tag = [0u8; TAG_BYTES];
    tag.copy_from_slice(&mac[..TAG_BYTES]);
    tag
}

/// The reference that binds a Checkout's customer to `sub`, or `None` when `sub` is empty or its
/// encoding would exceed Stripe's 200 characters (a sub over 128 bytes).
pub fn client_reference(key: &[u8; 32], sub: &str) -> Option<String> {
    if sub.is_empty() {
        return None;
    }
    let value = format!("{PREFIX}{}_{}", URL_SAFE_NO_PAD.encode(sub), URL_SAFE_NO_PAD.encode(tag(key, sub)));
    (value.len() <= MAX_REFERENCE_CHARS).then_some(value)
}

/// The sub a reference was minted for under any of `keys` (rotation), or `None` for anything
/// else: a bare sub, another format, an altered sub or tag, an unknown key.
pub fn verify_client_reference(keys: &[[u8; 32]], value: &str) -> Option<String> {
    if value.len() > MAX_REFERENCE_CHARS || !value.is_ascii() {
        return None;
    }
    let rest = value.strip_prefix(PREFIX)?;
    let (encoded, tail) = rest.split_at(rest.len().checked_sub(TAG_CHARS + 1)?);
    let given = URL_SAFE_NO_PAD.decode(tail.strip_prefix('_')?).ok()?;
    let sub = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()?;
    if sub.is_empty() {
        return None;
    }
    keys.iter().any(|k| ct_eq(&tag(k, &sub), &given)).then_some(sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const OTHER: [u8; 32] = [8; 32];

    #[test]
    fn a_minted_reference_verifies_under_its_key_only() {
        for sub in ["alice", "auth0|65f1c0de", "a_b-c", "ünïcode", "??>>", &"x".repeat(128)] {
            let r = client_reference(&KEY, sub).expect("mint");
            assert!(r.len() <= 200 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{r}");
            assert_eq!(verify_client_reference(&[KEY], &r).as_deref(), Some(sub));
            assert_eq!(verify_client_reference(&[OTHER, KEY], &r).as_deref(), Some(sub), "rotation");
            assert_eq!(verify_client_reference(&[OTHER], &r), None);
            assert_eq!(verify_client_reference(&[], &r), None);
        }
    }

    #[test]
    fn subs_too_long_or_empty_are_refused() {
        assert_eq!(client_reference(&KEY, &"x".repeat(129)), None);
        assert_eq!(client_reference(&KEY, ""), None);
    }

    #[test]
    fn anything_else_verifies_to_nothing() {
        let r = client_reference(&KEY, "alice").expect("mint");
        let (head, tag) = r.split_at(r.len() - TAG_CHARS);
        let bob = format!("{PREFIX}{}_{tag}", URL_SAFE_NO_PAD.encode("bob"));
        let mut flipped = r.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        // The tag's last character carries 4 unused bits: a non-canonical spelling is refused too.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let end = ALPHABET.iter().position(|c| tag.ends_with(*c as char)).expect("base64url");
        let loose = format!("{head}{}{}", &tag[..TAG_CHARS - 1], ALPHABET[end ^ 1] as char);
        let empty = format!("{PREFIX}_{tag}");
        for forged in [
            "alice",
            "",
            "mkit1_",
            &bob,
            &flipped,
            &loose,
            &empty,
            &r[..r.len() - 1],
            &format!("{r}A"),
            &r.replacen("mkit1_", "mkit2_", 1),
            &r.replacen("mkit1_", "", 1),
            &format!("{r}{}", "A".repeat(200)),
        ] {
            assert_eq!(verify_client_reference(&[KEY], forged), None, "{forged}");
        }
        assert_eq!(verify_client_reference(&[KEY], "mkit1_é_AAAAAAAAAAAAAAAAAAAAAA"), None, "non-ASCII");
    }
}
