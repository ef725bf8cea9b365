use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

use super::{compact, CdpCredentials, CdpKey, LIFETIME_SECS};

/// A throwaway P-256 key made for this test (openssl genpkey -algorithm EC), as the CDP portal
/// gives an ECDSA key's secret.
const EC_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgduD7PJ2JhMvC0uyl
nREP5tpBefPwpeIZ+zutf0omP/OhRANCAAQHl5j8nJnQpU4IbSbDVxDgVZsA8Ww/
fjgeMlR7Lbjk+iycRtXoWBK/LwG6Mm25b+kimYErCxuPf5gF9L1km/yL
-----END PRIVATE KEY-----";

fn part(token: &str, i: usize) -> Value {
    let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap_or_default()).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_default()
}

#[test]
fn the_two_forms_of_a_cdp_key_secret_are_read_and_others_refused() {
    let Ok(CdpKey::Es256 { pkcs8 }) = CdpKey::parse(EC_PEM) else { panic!("the PEM EC key") };
    assert_eq!(pkcs8.first(), Some(&0x30));
    let one_line = EC_PEM.replace('\n', "\\n");
    assert!(CdpKey::parse(&one_line).is_ok(), "a secret pasted with \\n for its line breaks, as .dev.vars holds it");
    let ed: Vec<u8> = (0u8..64).collect();
    let Ok(key @ CdpKey::Ed25519 { .. }) = CdpKey::parse(&STANDARD.encode(&ed)) else { panic!("base64 of 64 bytes") };
    assert_eq!(key.alg(), "EdDSA");
    let jwk: Value = serde_json::from_str(&key.ed25519_jwk().unwrap_or_default()).unwrap_or_default();
    assert_eq!(jwk["d"], URL_SAFE_NO_PAD.encode(&ed[..32]), "the seed is the private part");
    assert_eq!(jwk["x"], URL_SAFE_NO_PAD.encode(&ed[32..]));
    assert_eq!(format!("{key:?}"), "EdDSA", "Debug never shows the key");

    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----";
    assert!(CdpKey::parse(sec1).unwrap_err().contains("openssl pkcs8 -topk8"), "SEC1 is told how to convert");
    // RSA PKCS#8 (openssl genpkey -algorithm RSA), cut short: not P-256.
    let rsa = "-----BEGIN PRIVATE KEY-----\nMIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBALnClPos43O8K2hu\n-----END PRIVATE KEY-----";
    assert!(CdpKey::parse(rsa).unwrap_err().contains("P-256"));
    for bad in [
        "",
        "secret",
        &STANDARD.encode([0u8; 32]),
        &STANDARD.encode([0u8; 65]),
        "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----",
    ] {
        assert!(CdpKey::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_jwt_names_one_request_as_generate_jwt_does() {
    let creds = CdpCredentials { key_id: "organizations/o/apiKeys/k".into(), key: CdpKey::parse(EC_PEM).expect("key") };
    let input = creds.signing_input("POST", "api.cdp.coinbase.com", "/platform/v2/x402/verify", 1_700_000_000, "ab12");
    let token = compact(&input, &[7; 64]);
    assert_eq!(
        part(&token, 0),
        json!({ "alg": "ES256", "kid": "organizations/o/apiKeys/k", "typ": "JWT", "nonce": "ab12" })
    );
    assert_eq!(
        part(&token, 1),
        json!({ "sub": "organizations/o/apiKeys/k", "iss": "cdp", "uris": ["POST api.cdp.coinbase.com/platform/v2/x402/verify"],
            "iat": 1_700_000_000, "nbf": 1_700_000_000, "exp": 1_700_000_000 + LIFETIME_SECS })
    );
    assert_eq!(token.split('.').nth(2), Some(URL_SAFE_NO_PAD.encode([7; 64]).as_str()));
    assert_eq!(LIFETIME_SECS, 120, "generateJwt's default expiresIn");
}
