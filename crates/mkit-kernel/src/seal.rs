//! Sealed tokens: a value mKit hands out (through a client, a URL or a cookie) and must get back
//! unmodified. `base64url(version ‖ expires_at ‖ json) "." base64url(HMAC-SHA256)`, where the MAC
//! also covers a binding (who and what the token is for) that is not carried in the token. So a
//! token altered, expired, or presented for another binding is refused, and it carries no
//! personal data beyond its payload. Keys come from `mac::derive_key`, one purpose each.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::mac::{ct_eq, hmac_sha256};

/// The format's version: the first byte of every token.
pub const VERSION: u8 = 1;

/// Why a sealed token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    /// Not made by one of our keys for this binding, or altered.
    Integrity,
    /// A format version this build does not read.
    Version,
    /// Past its expiry.
    Expired,
}

impl SealError {
    /// A fixed phrase for logs and error pages (never the token).
    pub fn reason(self) -> &'static str {
        match self {
            SealError::Integrity => "integrity check failed",
            SealError::Version => "unsupported version",
            SealError::Expired => "expired",
        }
    }
}

fn tag(key: &[u8; 32], body: &[u8], binding: &[&str]) -> [u8; 32] {
    let mut m = body.to_vec();
    for part in binding {
        // Length-prefixed: no two bindings produce the same bytes.
        m.extend_from_slice(&(part.len() as u64).to_be_bytes());
        m.extend_from_slice(part.as_bytes());
    }
    hmac_sha256(key, &m)
}

/// Seals `payload` for `binding`, valid until `expires_at` (seconds).
pub fn seal(key: &[u8; 32], binding: &[&str], payload: &Value, expires_at: u64) -> String {
    let mut body = vec![VERSION];
    body.extend_from_slice(&expires_at.to_be_bytes());
    body.extend_from_slice(payload.to_string().as_bytes());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(tag(key, &body, binding)))
}

/// The payload of a token one of `keys` sealed for `binding`, unexpired at `now`.
pub fn open(keys: &[[u8; 32]], binding: &[&str], token: &str, now_secs: u64) -> Result<Value, SealError> {
    let (body, sig) = token.split_once('.').ok_or(SealError::Integrity)?;
    let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Integrity)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| SealError::Integrity)?;
    if !keys.iter().any(|k| ct_eq(&tag(k, &body, binding), &sig)) {
        return Err(SealError::Integrity);
    }
    let (head, json) = body.split_at_checked(9).ok_or(SealError::Integrity)?;
    if head[0] != VERSION {
        return Err(SealError::Version);
    }
    let mut expires = [0u8; 8];
    expires.copy_from_slice(&head[1..9]);
    if now_secs >= u64::from_be_bytes(expires) {
        return Err(SealError::Expired);
    }
    serde_json::from_slice(json).map_err(|_| SealError::Integrity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_binding_expiry_and_rotation() {
        let key = [1u8; 32];
        let t = seal(&key, &["a", "b"], &json!({"x": 1}), 100);
        assert_eq!(open(&[key], &["a", "b"], &t, 99), Ok(json!({"x": 1})));
        assert_eq!(open(&[key], &["a", "b"], &t, 100), Err(SealError::Expired));
        assert_eq!(open(&[key], &["a", "c"], &t, 1), Err(SealError::Integrity));
        assert_eq!(open(&[key], &["ab", ""], &t, 1), Err(SealError::Integrity), "length-prefixed binding");
        assert_eq!(open(&[[2; 32]], &["a", "b"], &t, 1), Err(SealError::Integrity));
        assert_eq!(open(&[[2; 32], key], &["a", "b"], &t, 1), Ok(json!({"x": 1})), "an older key still opens");
        assert_eq!(open(&[key], &["a", "b"], "garbage", 1), Err(SealError::Integrity));
    }

    #[test]
    fn a_new_version_is_refused_even_with_a_good_tag() {
        let key = [1u8; 32];
        let mut body = vec![VERSION + 1];
        body.extend_from_slice(&u64::MAX.to_be_bytes());
        body.extend_from_slice(b"{}");
        let t = format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(tag(&key, &body, &[])));
        assert_eq!(open(&[key], &[], &t, 1), Err(SealError::Version));
    }
}
