//! JWK members turned into keys: the hand-written RSA checks (the crates are off the bundle, so
//! both targets must refuse the same keys) and the JWK each key is imported from.

use super::jwk::{parse_jwk, JwkRejection, PublicKey, B64URL, MAX_RSA_BITS};
use base64::Engine as _;
use serde_json::json;

/// A modulus of `bits` bits (all ones: odd, top bit set).
fn modulus(bits: usize) -> Vec<u8> {
    let mut n = vec![0xff; bits.div_ceil(8)];
    if !bits.is_multiple_of(8) {
        n[0] = 0xff >> (8 - bits % 8);
    }
    n
}

fn rsa(n: &[u8], e: &[u8]) -> Result<PublicKey, JwkRejection> {
    parse_jwk(&json!({"kty": "RSA", "n": B64URL.encode(n), "e": B64URL.encode(e)})).map(|k| k.key)
}

#[test]
fn rsa_keys_are_taken_within_size_and_exponent_bounds() {
    let e = [1, 0, 1];
    assert!(matches!(rsa(&modulus(2048), &e), Ok(PublicKey::Rsa { .. })));
    assert!(rsa(&modulus(MAX_RSA_BITS), &e).is_ok());
    let mut padded = vec![0, 0];
    padded.extend(modulus(2048));
    let Ok(PublicKey::Rsa { n, e: exp }) = rsa(&padded, &[0, 1, 0, 1]) else { panic!("leading zeros are not bits") };
    assert_eq!((n.len(), exp), (256, vec![1, 0, 1]), "stored without leading zeros");
    assert_eq!(rsa(&modulus(2047), &e), Err(JwkRejection::WeakRsaKey { bits: 2047 }));
    assert_eq!(rsa(&[], &e), Err(JwkRejection::WeakRsaKey { bits: 0 }));
    let refused = Err(JwkRejection::Malformed("n/e"));
    assert_eq!(rsa(&modulus(MAX_RSA_BITS + 1), &e), refused, "too large");
    let mut even = modulus(2048);
    even[255] = 0xfe;
    assert_eq!(rsa(&even, &e), refused, "an even modulus");
    for bad in [&[1][..], &[2], &[1, 0, 0], &[2, 0, 0, 0, 1], &[1, 0, 0, 0, 0, 1], &[]] {
        assert_eq!(rsa(&modulus(2048), bad), refused, "exponent {bad:?}");
    }
    assert!(rsa(&modulus(2048), &[3]).is_ok());
    assert!(rsa(&modulus(2048), &[1, 0xff, 0xff, 0xff, 0xff]).is_ok(), "2^33 - 1 is the largest");
}

#[test]
fn each_key_becomes_the_public_jwk_it_came_from() {
    let ec = p256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into()).expect("scalar");
    let point = ec.verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().expect("x").to_vec(), point.y().expect("y").to_vec());
    for jwk in [
        json!({"kty": "RSA", "n": B64URL.encode(modulus(2048)), "e": "AQAB"}),
        json!({"kty": "EC", "crv": "P-256", "x": B64URL.encode(&x), "y": B64URL.encode(&y)}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode([7u8; 32])}),
    ] {
        let key = parse_jwk(&jwk).expect("taken").key;
        assert_eq!(serde_json::from_str::<serde_json::Value>(&key.jwk()).expect("json"), jwk);
        assert_eq!(parse_jwk(&jwk).expect("again").key, key);
    }
    let off_curve = json!({"kty": "EC", "crv": "P-256", "x": B64URL.encode(&x), "y": B64URL.encode(&x)});
    assert_eq!(parse_jwk(&off_curve).map(|k| k.key), Err(JwkRejection::Malformed("x/y")));
    let short = json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode([7u8; 31])});
    assert_eq!(parse_jwk(&short).map(|k| k.key), Err(JwkRejection::Malformed("x")));
}
