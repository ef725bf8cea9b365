//! What the issuer serves: a JWK Set (`JwkSet::parse`) and, found the same way, its discovery
//! metadata (`discovery::jwks_uri_from_metadata`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::auth::discovery::jwks_uri_from_metadata;
use mkit::auth::jwk::{Alg, JwkSet};
use mkit::auth::signature::verify_signature;

const ISSUER: &str = "https://issuer.example.com/";
const ALGS: [&str; 8] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"];

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = JwkSet::parse(data) {
        // Every key that entered the set verifies (here: refuses) a signature without panicking,
        // whatever its length.
        let sig = &data[..data.len().min(600)];
        for entry in &set.keys {
            for alg in ALGS.iter().filter_map(|a| Alg::parse(a)) {
                if entry.allows(alg) {
                    let _ = verify_signature(alg, &entry.key, b"header.claims", sig);
                }
            }
        }
    }
    if let Ok(uri) = jwks_uri_from_metadata(data, ISSUER) {
        assert!(mkit::config::validate_url(&uri).is_ok(), "an unusable jwks_uri was accepted: {uri}");
    }
});
