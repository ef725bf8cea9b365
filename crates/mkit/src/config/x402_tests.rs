//! Machine payments' settings: the CDP key comes whole and names its facilitator's host and path;
//! recording in Stripe needs what Stripe needs.

use std::collections::HashMap;

use super::Config;
use crate::billing::cdp::CdpKey;

const SECRET: &str = "0123456789abcdef0123456789abcdef-x402";
/// base64 of 64 bytes: the Ed25519 form of a CDP key secret.
const ED25519: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";

fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let base = [
        ("OAUTH_ISSUER", "https://auth.example.com/"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ("MKIT_SECRET", SECRET),
        ("MKIT_X402_PAY_TO", "0x5ff8d73e8bccd3701c9aef78389f3b9771172b5c"),
    ];
    base.iter().chain(extra).map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn errors(v: &HashMap<String, String>) -> Vec<(&'static str, &'static str)> {
    Config::load(v).err().unwrap_or_default().iter().map(|e| (e.variable, e.reason)).collect()
}

#[test]
fn a_cdp_key_comes_whole_and_its_jwts_name_the_facilitator_url() {
    let half = vars(&[("MKIT_X402_CDP_API_KEY_ID", "organizations/o/apiKeys/k")]);
    assert_eq!(errors(&half), [("MKIT_X402_CDP_API_KEY_SECRET", "is required with the other half of the CDP API key")]);
    let whole = vars(&[
        ("MKIT_X402_CDP_API_KEY_ID", "organizations/o/apiKeys/k"),
        ("MKIT_X402_CDP_API_KEY_SECRET", ED25519),
        ("MKIT_X402_FACILITATOR_URL", "https://api.cdp.coinbase.com/platform/v2/x402/"),
    ]);
    let c = Config::load(&whole).expect("valid");
    let auth = c.x402.and_then(|o| o.facilitator_auth).expect("authenticated");
    assert_eq!((auth.host.as_str(), auth.base_path.as_str()), ("api.cdp.coinbase.com", "/platform/v2/x402"));
    assert!(matches!(auth.credentials.key, CdpKey::Ed25519 { .. }));
    let local = vars(&[
        ("MKIT_X402_CDP_API_KEY_ID", "k"),
        ("MKIT_X402_CDP_API_KEY_SECRET", ED25519),
        ("MKIT_X402_FACILITATOR_URL", "http://127.0.0.1:4021"),
    ]);
    let auth = Config::load(&local).ok().and_then(|c| c.x402?.facilitator_auth).expect("authenticated");
    assert_eq!((auth.host.as_str(), auth.base_path.as_str()), ("127.0.0.1:4021", ""), "the port is part of the host");
    let bad = vars(&[("MKIT_X402_CDP_API_KEY_ID", "k"), ("MKIT_X402_CDP_API_KEY_SECRET", "hunter2")]);
    let [(name, why)] = errors(&bad)[..] else { panic!("one error") };
    assert_eq!(name, "MKIT_X402_CDP_API_KEY_SECRET");
    assert!(why.starts_with("must be a CDP API key secret") && !why.contains("hunter2"));
}

#[test]
fn recording_in_stripe_needs_a_stripe_key_base_and_whole_cents() {
    let on = [("MKIT_X402_STRIPE", "on"), ("STRIPE_SECRET_KEY", "sk_test_x")];
    let c = Config::load(&vars(&on)).expect("valid");
    assert!(c.x402.is_some_and(|o| o.record_in_stripe));
    for (extra, why) in [
        (("STRIPE_SECRET_KEY", ""), "is on without STRIPE_SECRET_KEY"),
        (("MKIT_X402_NETWORK", "eip155:137"), "needs MKIT_X402_NETWORK eip155:8453"),
        (("MKIT_X402_CREDIT_PRICE", "5000"), "needs MKIT_X402_CREDIT_PRICE in whole cents"),
    ] {
        let mut v = vars(&on);
        v.insert(extra.0.into(), extra.1.into());
        let errs = errors(&v);
        assert!(errs.iter().any(|(n, r)| *n == "MKIT_X402_STRIPE" && r.contains(why)), "{extra:?}: {errs:?}");
    }
    let off = Config::load(&vars(&[])).expect("valid");
    assert!(off.x402.is_some_and(|o| !o.record_in_stripe), "off by default");
}
