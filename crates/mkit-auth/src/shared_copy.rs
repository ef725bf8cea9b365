//! The integrity rule for the issuer's keys shared through the Cache API. Any Worker on the
//! zone can write a Cache API key, so a copy counts only if its HMAC — under a key derived from
//! the deployment secret, over the JWKS URL, the fetch time and the body — verifies, and its
//! fetch time is never taken to be later than now (a planted future time cannot pin it).

use mkit_kernel::keyring::{key, Purpose};
use mkit_kernel::mac::{ct_eq, hex, hmac_sha256};

/// The `x-mkit-mac` of a copy of `body`, fetched from `uri` at `fetched_at` (ms).
pub fn tag(secret: &str, uri: &str, fetched_at: u64, body: &[u8]) -> String {
    let mut m = format!("{uri}\n{fetched_at}\n").into_bytes();
    m.extend_from_slice(body);
    hex(&hmac_sha256(&key(secret, Purpose::JwksCache), &m))
}

/// The fetch time to trust for a copy, if one of `secrets` made its `mac` and it is not older
/// than `max_age_ms`: `None` for anything planted, altered or stale.
pub fn verify(
    secrets: &[String],
    uri: &str,
    fetched_at: u64,
    mac: &str,
    body: &[u8],
    now: u64,
    max_age_ms: u64,
) -> Option<u64> {
    let genuine = secrets.iter().any(|s| ct_eq(tag(s, uri, fetched_at, body).as_bytes(), mac.as_bytes()));
    let trusted = fetched_at.min(now);
    (genuine && now.saturating_sub(trusted) < max_age_ms).then_some(trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "https://issuer.example/jwks";
    const BODY: &[u8] = br#"{"keys":[]}"#;
    const NOW: u64 = 1_800_000_000_000;
    const TTL: u64 = 600_000;

    fn secrets() -> Vec<String> {
        vec!["s".repeat(32)]
    }

    #[test]
    fn a_copy_this_deployment_wrote_is_used() {
        let mac = tag(&secrets()[0], URI, NOW - 1000, BODY);
        assert_eq!(verify(&secrets(), URI, NOW - 1000, &mac, BODY, NOW, TTL), Some(NOW - 1000));
        // During a rotation the old secret's copies still verify.
        let both = vec!["n".repeat(32), secrets()[0].clone()];
        assert!(verify(&both, URI, NOW - 1000, &mac, BODY, NOW, TTL).is_some());
    }

    #[test]
    fn a_planted_or_altered_copy_is_ignored() {
        let attacker = tag(&"a".repeat(32), URI, NOW, BODY);
        assert_eq!(verify(&secrets(), URI, NOW, &attacker, BODY, NOW, TTL), None, "another worker's key");
        let mac = tag(&secrets()[0], URI, NOW, BODY);
        assert_eq!(verify(&secrets(), URI, NOW, &mac, br#"{"keys":[1]}"#, NOW, TTL), None, "another body");
        assert_eq!(verify(&secrets(), "https://other/jwks", NOW, &mac, BODY, NOW, TTL), None, "another URL");
        assert_eq!(verify(&secrets(), URI, NOW + 1, &mac, BODY, NOW, TTL), None, "another time");
        assert_eq!(verify(&secrets(), URI, NOW, "", BODY, NOW, TTL), None);
    }

    #[test]
    fn time_is_clamped_to_now_and_stale_copies_are_ignored() {
        let future = NOW + 365 * 24 * 3600 * 1000;
        let mac = tag(&secrets()[0], URI, future, BODY);
        assert_eq!(verify(&secrets(), URI, future, &mac, BODY, NOW, TTL), Some(NOW), "a future time counts as now");
        let old = NOW - TTL;
        let mac = tag(&secrets()[0], URI, old, BODY);
        assert_eq!(verify(&secrets(), URI, old, &mac, BODY, NOW, TTL), None);
    }
}
