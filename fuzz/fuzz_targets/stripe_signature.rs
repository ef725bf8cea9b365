//! The `Stripe-Signature` header and the body it signs: `SignatureHeader::parse` and
//! `signature::verify`. Input: the header, a newline, then the raw body.
//!
//! A fuzzer cannot forge an HMAC, so each parsed header is also verified with one correct `v1`
//! appended: that must pass exactly when the timestamp is within the tolerance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::billing::signature::{sign, verify, SignatureError, SignatureHeader, TOLERANCE_SECS};

/// The seeds' clock.
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(nl) => (&data[..nl], &data[nl + 1..]),
        None => (data, &[][..]),
    };
    let Ok(header) = std::str::from_utf8(header) else { return };
    let secrets = vec!["whsec_fuzz_current".to_owned(), "whsec_fuzz_previous".to_owned()];

    let parsed = SignatureHeader::parse(header);
    let verified = verify(Some(header), body, &secrets, NOW);
    match (&parsed, verified) {
        (Err(e), v) => assert_eq!(v, Err(*e), "verify refuses what parse refuses"),
        (Ok(h), Ok(t)) => assert_eq!(t, h.timestamp),
        (Ok(_), Err(e)) => {
            assert!(matches!(e, SignatureError::TimestampOutsideTolerance | SignatureError::NoMatch), "{e:?}")
        }
    }
    if let Ok(h) = parsed {
        let good = format!("{header},v1={}", sign(&secrets[1], h.timestamp, body));
        let in_tolerance = NOW.abs_diff(h.timestamp) <= TOLERANCE_SECS.unsigned_abs();
        let expected = if in_tolerance { Ok(h.timestamp) } else { Err(SignatureError::TimestampOutsideTolerance) };
        assert_eq!(verify(Some(&good), body, &secrets, NOW), expected, "header {good:?}");
    }
    assert_eq!(verify(None, body, &secrets, NOW), Err(SignatureError::Missing));
});
