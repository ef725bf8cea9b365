//! Pay links: `https://<worker>/billing/checkout?t=<token>` (or `/billing/portal`), handed to a
//! caller without an entitlement. The token carries no personal data — only the entitlement,
//! the kind of page, a nonce and an expiry — yet it is bound to the caller: its MAC covers the
//! issuer and the subject it was minted for (`mkit_kernel::seal`). So the pay page can only verify it
//! once the browser has signed in, and it verifies only for that same user: a link forwarded to
//! someone else (the URL-elicitation phishing case) does not open for them.

use serde_json::{json, Value};

use mkit_kernel::keyring::Purpose;
use mkit_kernel::mac::{hex, hmac_sha256};
use mkit_kernel::seal::{self, SealError};

/// How long a link stays valid.
pub const LINK_TTL_SECS: u64 = 30 * 60;

/// Which page a link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Stripe Checkout for an entitlement.
    Checkout,
    /// The Stripe billing portal of the caller's customer.
    Portal,
}

impl Kind {
    pub fn path(self) -> &'static str {
        match self {
            Kind::Checkout => "/billing/checkout",
            Kind::Portal => "/billing/portal",
        }
    }
    fn code(self) -> &'static str {
        match self {
            Kind::Checkout => "c",
            Kind::Portal => "p",
        }
    }
}

/// What an opened link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub kind: Kind,
    /// The entitlement to buy (empty for the portal).
    pub entitlement: String,
    /// Unique per link: the Stripe idempotency key and the 2025-11-25 `elicitationId` derive from it.
    pub nonce: String,
}

fn binding<'a>(issuer: &'a str, sub: &'a str) -> [&'a str; 3] {
    [Purpose::PayLink.label(), issuer, sub]
}

/// A link for `sub` at `issuer`: the URL under `base_url` (the worker's origin) and its nonce.
pub fn mint(
    key: &[u8; 32],
    base_url: &str,
    issuer: &str,
    sub: &str,
    kind: Kind,
    entitlement: &str,
    now_secs: u64,
) -> (String, String) {
    let seed = format!("{issuer}\n{sub}\n{}\n{entitlement}\n{now_secs}", kind.code());
    let nonce = hex(&hmac_sha256(key, seed.as_bytes())[..12]);
    let payload = json!({ "k": kind.code(), "e": entitlement, "n": nonce });
    let token = seal::seal(key, &binding(issuer, sub), &payload, now_secs.saturating_add(LINK_TTL_SECS));
    (format!("{}{}?t={token}", base_url.trim_end_matches('/'), kind.path()), nonce)
}

/// The link, if one of `keys` minted it for this signed-in `sub`, for this `kind` of page, and
/// it has not expired.
pub fn open(
    keys: &[[u8; 32]],
    issuer: &str,
    sub: &str,
    kind: Kind,
    token: &str,
    now_secs: u64,
) -> Result<Link, SealError> {
    let v = seal::open(keys, &binding(issuer, sub), token, now_secs)?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if field("k").as_deref() != Some(kind.code()) {
        return Err(SealError::Integrity);
    }
    let (entitlement, nonce) = field("e").zip(field("n")).ok_or(SealError::Integrity)?;
    Ok(Link { kind, entitlement, nonce })
}

/// A token's expiry, read before anyone has signed in (the expiry is not secret; trusting it
/// costs nothing, since `open` checks it again under the MAC); `None` for what is not a link.
pub fn expiry(token: &str) -> Option<u64> {
    use base64::Engine as _;
    let (body, tag) = token.split_once('.')?;
    if tag.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).ok()?;
    bytes.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [5; 32];
    const ISS: &str = "https://issuer/";
    const NOW: u64 = 1_800_000_000;

    fn token(url: &str) -> &str {
        url.split_once("?t=").map(|(_, t)| t).unwrap_or_default()
    }

    #[test]
    fn a_link_opens_only_for_the_user_it_was_minted_for() {
        let (url, nonce) = mint(&KEY, "https://mkit.example/", ISS, "alice@example.com", Kind::Checkout, "pro", NOW);
        assert!(url.starts_with("https://mkit.example/billing/checkout?t="));
        assert!(!url.contains("alice"), "no personal data in the URL");
        let link = open(&[KEY], ISS, "alice@example.com", Kind::Checkout, token(&url), NOW + 60).expect("alice");
        assert_eq!(link, Link { kind: Kind::Checkout, entitlement: "pro".into(), nonce });
        assert_eq!(open(&[KEY], ISS, "bob", Kind::Checkout, token(&url), NOW), Err(SealError::Integrity), "phishing");
        assert_eq!(
            open(&[KEY], "https://other/", "alice@example.com", Kind::Checkout, token(&url), NOW).err(),
            Some(SealError::Integrity)
        );
        assert_eq!(
            open(&[KEY], ISS, "alice@example.com", Kind::Portal, token(&url), NOW).err(),
            Some(SealError::Integrity),
            "another page"
        );
        assert_eq!(
            open(&[KEY], ISS, "alice@example.com", Kind::Checkout, token(&url), NOW + LINK_TTL_SECS).err(),
            Some(SealError::Expired)
        );
        assert_eq!(expiry(token(&url)), Some(NOW + LINK_TTL_SECS));
        assert_eq!(expiry("junk"), None, "not a link, rather than an expired one");
        assert_eq!(expiry(""), None);
    }

    #[test]
    fn nonces_differ_per_user_entitlement_and_time() {
        let n = |sub: &str, ent: &str, t: u64| mint(&KEY, "https://m", ISS, sub, Kind::Checkout, ent, t).1;
        assert_ne!(n("a", "pro", NOW), n("b", "pro", NOW));
        assert_ne!(n("a", "pro", NOW), n("a", "team", NOW));
        assert_ne!(n("a", "pro", NOW), n("a", "pro", NOW + 1));
        assert_eq!(n("a", "pro", NOW), n("a", "pro", NOW), "the same link twice is the same Checkout Session");
    }
}
