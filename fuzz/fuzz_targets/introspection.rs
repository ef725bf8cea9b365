//! An introspection endpoint's answer (RFC 7662 §2.2): the JSON body mKit judges like a JWT's
//! claims. Two profiles: RFC 9068's, and every setting on (scope claims, a prefix, a listed client
//! standing in for `aud`, claims for tools).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::auth::claims::ClaimRule;
use mkit::auth::introspection::judge;
use mkit::auth::profile::TokenProfile;
use mkit::auth::validator::AccessTokenValidator;
use std::sync::OnceLock;

/// The seeds' clock: their `exp` is after it.
const NOW: u64 = 1_800_000_000;

fn validators() -> &'static [AccessTokenValidator; 2] {
    static V: OnceLock<[AccessTokenValidator; 2]> = OnceLock::new();
    V.get_or_init(|| {
        let plain = AccessTokenValidator {
            issuer: "https://issuer.example.com/".into(),
            audiences: vec!["https://mkit.example.com/mcp".into()],
            leeway_secs: 60,
            accept_jwt_typ: false,
            profile: TokenProfile::default(),
        };
        let profile = TokenProfile {
            scope_claims: vec!["scope".into(), "scp".into(), "permissions".into()],
            scope_prefix: Some("api://mkit/".into()),
            client_ids: vec!["app".into()],
            claims: ClaimRule::parse_list("email,tenant=tid,roles=realm_access.roles").expect("rules"),
        };
        [plain.clone(), AccessTokenValidator { profile, ..plain }]
    })
}

fuzz_target!(|data: &[u8]| {
    for v in validators() {
        if let Ok(t) = judge(v, data, NOW) {
            // Accepted: active, this issuer, a subject, unexpired, and (with aud) for this resource.
            let answer: serde_json::Value = serde_json::from_slice(data).expect("an accepted answer is JSON");
            assert_eq!(answer["active"], serde_json::Value::Bool(true));
            assert_eq!(answer["iss"].as_str(), Some(v.issuer.as_str()), "iss is required and exact");
            assert!(!t.principal.sub.is_empty());
            assert!(t.expires_at.saturating_add(60) > NOW);
            assert!(answer.get("cnf").is_none());
            if let Some(prefix) = v.profile.scope_prefix.as_deref() {
                assert!(t.principal.scopes.iter().all(|s| !s.starts_with(prefix) && !s.is_empty()));
            }
            assert!(t.principal.claims.len() <= v.profile.claims.len());
        }
    }
});
