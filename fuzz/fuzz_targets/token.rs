//! The `Authorization` header and the access token in it: `prm::bearer_token`, then
//! `AccessTokenValidator::validate` against a fixed JWK Set (`fuzz/jwks.json`: RSA, P-256 and
//! the unit tests' Ed25519 key).
//!
//! A fuzzer cannot forge a signature, so the claim checks after it would stay out of reach: each
//! token is also validated re-signed with the Ed25519 key (seed `[7; 32]`, as in
//! crates/mkit-auth/src/tests.rs), which reaches them whenever the header names EdDSA.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use mkit::auth::claims::ClaimRule;
use mkit::auth::jwk::{JwkSet, B64URL};
use mkit::auth::prm::bearer_token;
use mkit::auth::profile::TokenProfile;
use mkit::auth::validator::{AccessTokenValidator, TokenError};
use std::sync::OnceLock;

/// The seed tokens' clock: they expire at NOW + 300.
const NOW: u64 = 1_800_000_000;

struct Fixture {
    keys: JwkSet,
    ed: ed25519_compact::KeyPair,
    strict: AccessTokenValidator,
    lenient: AccessTokenValidator,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let keys = JwkSet::parse(include_bytes!("../jwks.json")).expect("fuzz/jwks.json");
        assert_eq!(keys.keys.len(), 3, "every fixture key is usable: {:?}", keys.rejected);
        let strict = AccessTokenValidator {
            issuer: "https://issuer.example.com/".into(),
            audiences: vec!["https://mkit.example.com/mcp".into()],
            leeway_secs: 60,
            accept_jwt_typ: false,
            profile: TokenProfile::default(),
        };
        // Over-long leeway is capped at 60 s; JWT-typed tokens accepted; every profile setting on.
        let profile = TokenProfile {
            scope_claims: vec!["scope".into(), "scp".into(), "permissions".into()],
            scope_prefix: Some("api://mkit/".into()),
            client_ids: vec!["app".into()],
            claims: ClaimRule::parse_list("email,tenant=tid,roles=realm_access.roles,site=https://x.example/y")
                .expect("rules"),
        };
        let lenient = AccessTokenValidator { leeway_secs: u64::MAX, accept_jwt_typ: true, profile, ..strict.clone() };
        let ed = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]));
        Fixture { keys, ed, strict, lenient }
    })
}

fn check(f: &Fixture, token: &str) {
    for v in [&f.strict, &f.lenient] {
        match v.validate(token, &f.keys, NOW) {
            Ok(t) => {
                assert!(!t.principal.sub.is_empty(), "a validated token names its subject");
                assert!(token.len() <= mkit::auth::validator::MAX_TOKEN_BYTES);
            }
            Err(e) => {
                let _ = (e.code(), e.description());
                if e == TokenError::TooLarge {
                    assert!(token.len() > mkit::auth::validator::MAX_TOKEN_BYTES);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    let f = fixture();
    let token = match bearer_token(Some(header)) {
        Ok(Some(t)) => t,
        // Not a bearer token: validate the raw value anyway, the validator must hold up on its own.
        Ok(None) => header,
        Err(c) => {
            let _ = (c.status(), c.error(), c.www_authenticate("https://mkit.example.com/.well-known/x", &[]));
            header
        }
    };
    check(f, token);
    if let Some((input, _)) = token.rsplit_once('.') {
        let sig = f.ed.sk.sign(input.as_bytes(), None);
        check(f, &format!("{input}.{}", B64URL.encode(sig.as_ref())));
    }
});
