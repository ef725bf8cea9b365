//! Stripe webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `"{t}.{raw body}"`,
//! HMAC-SHA256 keyed with the whole `whsec_…` string. Parsed the way Stripe's libraries do:
//! split on `,`, then on the first `=`; every `v1` kept; `v0` and unknown schemes ignored.

use mkit_kernel::mac::{ct_eq, hex, hmac_sha256};

/// Timestamps further than this from now, past or future, are refused.
pub const TOLERANCE_SECS: i64 = 300;

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// `t`: when Stripe signed, in seconds since the epoch.
    pub timestamp: i64,
    /// Every `v1` value, as sent (lowercase hex expected).
    pub v1: Vec<String>,
}

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    Missing,
    /// No `t`, or a `t` that is not an integer.
    NoTimestamp,
    /// No `v1` signature (a header with only `v0` ends here).
    NoV1Signature,
    /// `t` is more than `TOLERANCE_SECS` from now, past or future (a replay, or a skewed clock).
    TimestampOutsideTolerance,
    /// No `v1` matches any configured secret.
    NoMatch,
}

impl SignatureError {
    /// The reason named in the 400 body: says what failed, never the expected signature.
    pub fn reason(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing Stripe-Signature header",
            SignatureError::NoTimestamp => "no timestamp in Stripe-Signature",
            SignatureError::NoV1Signature => "no v1 signature in Stripe-Signature",
            SignatureError::TimestampOutsideTolerance => "timestamp outside the tolerance",
            SignatureError::NoMatch => "no signature matches",
        }
    }
}

impl SignatureHeader {
    /// Parses the header as Stripe's libraries do: items split on `,`, then on the first `=`.
    pub fn parse(header: &str) -> Result<SignatureHeader, SignatureError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            let Some((k, v)) = item.split_once('=') else { continue };
            match k.trim() {
                "t" => timestamp = v.trim().parse::<i64>().ok(),
                "v1" => v1.push(v.trim().to_owned()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
        if v1.is_empty() {
            return Err(SignatureError::NoV1Signature);
        }
        Ok(SignatureHeader { timestamp, v1 })
    }
}

/// The signed content: `"{t}.{raw body}"`. The one rule, shared by the verifier and `sign`.
fn signed_payload(timestamp: i64, payload: &[u8]) -> Vec<u8> {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    signed
}

/// The `v1` signature of `payload` at `timestamp` under `secret` (lowercase hex).
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    hex(&hmac_sha256(secret.as_bytes(), &signed_payload(timestamp, payload)))
}

/// Verifies a webhook: any `v1` may match any secret. Returns the signed timestamp.
pub fn verify(header: Option<&str>, payload: &[u8], secrets: &[String], now_secs: i64) -> Result<i64, SignatureError> {
    let header = SignatureHeader::parse(header.ok_or(SignatureError::Missing)?)?;
    if now_secs.abs_diff(header.timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::TimestampOutsideTolerance);
    }
    let mut matched = false;
    for secret in secrets {
        let expected = sign(secret, header.timestamp, payload);
        for sig in &header.v1 {
            // Evaluate every pair: no early exit that would time which secret matched.
            matched |= ct_eq(expected.as_bytes(), sig.as_bytes());
        }
    }
    if matched {
        Ok(header.timestamp)
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.created"}"#;

    fn secrets(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn parses_like_stripe() {
        let h = SignatureHeader::parse("t=12,v1=aa, v0=bb,v1=cc,x=1,garbage,v1=dd=ee").expect("parse");
        assert_eq!(h.timestamp, 12);
        assert_eq!(h.v1, ["aa", "cc", "dd=ee"]);
        assert_eq!(SignatureHeader::parse("t=12,v0=bb"), Err(SignatureError::NoV1Signature));
        assert_eq!(SignatureHeader::parse("v1=aa"), Err(SignatureError::NoTimestamp));
        assert_eq!(SignatureHeader::parse("t=abc,v1=aa"), Err(SignatureError::NoTimestamp));
        assert_eq!(SignatureHeader::parse(""), Err(SignatureError::NoTimestamp));
    }

    #[test]
    fn verifies_the_raw_body_with_the_whole_secret() {
        let sig = sign("whsec_a", NOW, BODY);
        assert_eq!(verify(Some(&format!("t={NOW},v1={sig}")), BODY, &secrets(&["whsec_a"]), NOW), Ok(NOW));
        // Keyed with the whole string, prefix included.
        let wrong_key = sign("a", NOW, BODY);
        assert_eq!(
            verify(Some(&format!("t={NOW},v1={wrong_key}")), BODY, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoMatch)
        );
        // A tampered body, a tampered timestamp, an uppercase hex.
        assert_eq!(
            verify(Some(&format!("t={NOW},v1={sig}")), b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(Some(&format!("t={},v1={sig}", NOW + 1)), BODY, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(Some(&format!("t={NOW},v1={}", sig.to_uppercase())), BODY, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(verify(None, BODY, &secrets(&["whsec_a"]), NOW), Err(SignatureError::Missing));
        // A v0 signature is never accepted, even if correct.
        assert_eq!(
            verify(Some(&format!("t={NOW},v0={sig}")), BODY, &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoV1Signature)
        );
    }

    #[test]
    fn any_v1_may_match_any_secret() {
        let sig = sign("whsec_new", NOW, BODY);
        let header = format!("t={NOW},v1=deadbeef,v1={sig}");
        assert_eq!(verify(Some(&header), BODY, &secrets(&["whsec_old", "whsec_new"]), NOW), Ok(NOW));
        assert_eq!(verify(Some(&header), BODY, &secrets(&["whsec_old"]), NOW), Err(SignatureError::NoMatch));
    }

    #[test]
    fn tolerance_both_ways() {
        for (t, ok) in [(NOW - 300, true), (NOW - 301, false), (NOW + 300, true), (NOW + 301, false)] {
            let header = format!("t={t},v1={}", sign("whsec_a", t, BODY));
            let r = verify(Some(&header), BODY, &secrets(&["whsec_a"]), NOW);
            assert_eq!(r.is_ok(), ok, "t offset {}", t - NOW);
            if !ok {
                assert_eq!(r, Err(SignatureError::TimestampOutsideTolerance));
            }
        }
    }
}
