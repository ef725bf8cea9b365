//! Real identity providers' access tokens (tests/fixtures/providers: header and claims as each
//! documents them, signed here by a test key) are accepted with the settings the fixture names,
//! and their near misses — another audience, an expired token, the provider's ID token — are
//! refused. docs/configuration.md's compatibility table is generated from the same files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use jwt_compact::alg::{Es256, Rsa};
use jwt_compact::{Algorithm, AlgorithmSignature};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

use super::Config;
use crate::auth::jwk::{JwkSet, B64URL};
use crate::auth::validator::ValidatedToken;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> Vec<(String, Value)> {
    let dir = root().join("tests/fixtures/providers");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/providers")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            (name, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

struct Keys {
    rsa: RsaPrivateKey,
    ec: p256::ecdsa::SigningKey,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        Keys { rsa: RsaPrivateKey::new(&mut rng, 2048).expect("rsa"), ec: p256::ecdsa::SigningKey::random(&mut rng) }
    })
}

fn sign(header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(claims.to_string()));
    let k = keys();
    let sig: Vec<u8> = match header["alg"].as_str() {
        Some("ES256") => Es256.sign(&k.ec, input.as_bytes()).as_bytes().into_owned(),
        Some(other) => Rsa::with_name(other).sign(&k.rsa, input.as_bytes()).as_bytes().into_owned(),
        None => panic!("a fixture header names its alg"),
    };
    format!("{input}.{}", B64URL.encode(sig))
}

/// The issuer's key set: the test keys under the fixture's `kid`.
fn key_set(kid: &str) -> JwkSet {
    let k = keys();
    let p = k.rsa.to_public_key();
    let point = k.ec.verifying_key().to_encoded_point(false);
    let b64 = |b: &[u8]| B64URL.encode(b);
    let set = json!({ "keys": [
        { "kty": "RSA", "kid": kid, "n": b64(&p.n().to_bytes_be()), "e": b64(&p.e().to_bytes_be()) },
        { "kty": "EC", "crv": "P-256", "kid": kid, "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")) },
    ]});
    JwkSet::parse(set.to_string().as_bytes()).expect("jwks")
}

fn config(settings: &Value) -> Config {
    let mut vars: HashMap<String, String> =
        [("MKIT_SECRET", SECRET), ("MCP_RESOURCE", RESOURCE)].iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    for (k, v) in settings.as_object().expect("settings") {
        vars.insert(k.clone(), v.as_str().expect("string settings").to_owned());
    }
    Config::load(&vars).unwrap_or_else(|e| panic!("settings refused: {e:?}"))
}

/// Validates `claims` under `header` as `/mcp` would, at one minute after `iat`.
fn validate(f: &Value, header: &Value, claims: &Value) -> Result<ValidatedToken, &'static str> {
    let c = config(&f["settings"]);
    let now = f["claims"]["iat"].as_u64().expect("iat") + 60;
    let keys = key_set(header["kid"].as_str().expect("kid"));
    c.token_validator(c.audiences(RESOURCE)).validate(&sign(header, claims), &keys, now).map_err(|e| e.code())
}

#[test]
fn every_provider_token_is_accepted_with_its_settings() {
    let all = fixtures();
    assert!(all.len() >= 12, "the fixtures are there");
    for (name, f) in &all {
        let v = validate(f, &f["header"], &f["claims"]).unwrap_or_else(|e| panic!("{name}: refused ({e})"));
        let want = &f["expect"];
        let p = &v.principal;
        assert_eq!(p.sub, want["sub"].as_str().expect("sub"), "{name}");
        assert_eq!(p.client_id.as_deref(), want["client_id"].as_str(), "{name}");
        assert_eq!(json!(p.scopes), want["scopes"], "{name}: scopes");
        assert_eq!(json!(p.claims), want["claims"], "{name}: claims for tools");
        let profile = config(&f["settings"]).token_profile;
        for (scope, advertised) in want["advertised"].as_object().into_iter().flatten() {
            assert_eq!(json!(profile.advertised(scope)), *advertised, "{name}: {scope} as clients ask for it");
        }
    }
}

#[test]
fn every_providers_near_misses_are_refused() {
    for (name, f) in fixtures() {
        let (header, claims) = (&f["header"], &f["claims"]);
        let mut elsewhere = claims.clone();
        match claims.get("aud") {
            Some(_) => elsewhere["aud"] = json!("https://other.example.com/mcp"),
            // No aud: another client of the same issuer.
            None => elsewhere["client_id"] = json!("another-client"),
        }
        assert_eq!(validate(&f, header, &elsewhere).err(), Some("token_aud"), "{name}: for another resource");
        let mut expired = claims.clone();
        expired["exp"] = json!(claims["iat"].as_u64().expect("iat") - 120);
        assert_eq!(validate(&f, header, &expired).err(), Some("token_expired"), "{name}: expired");
        let id = &f["id_token"];
        let error = id["error"].as_str().expect("id_token.error");
        assert_eq!(validate(&f, &id["header"], &id["claims"]).err(), Some(error), "{name}: its ID token");
        let mut unsigned = sign(header, claims);
        unsigned.truncate(unsigned.rfind('.').expect("dot") + 2);
        let c = config(&f["settings"]);
        let keys = key_set(header["kid"].as_str().expect("kid"));
        assert!(
            c.token_validator(c.audiences(RESOURCE)).validate(&unsigned, &keys, 0).is_err(),
            "{name}: bad signature"
        );
    }
}

/// The compatibility table of docs/configuration.md, from the fixtures.
fn table() -> String {
    let mut out = String::from(
        "| Provider | `typ` | `aud` | Scopes from | Client id from | Settings beyond `OAUTH_ISSUER` |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for (name, f) in fixtures() {
        let (h, c, s) = (&f["header"], &f["claims"], &f["settings"]);
        let typ = h["typ"].as_str().map_or("(none)".to_owned(), |t| format!("`{t}`"));
        let aud = match &c["aud"] {
            Value::Null => "(none)".to_owned(),
            Value::Array(a) => format!("array of {}", a.len()),
            _ => "string".to_owned(),
        };
        let scopes = s["OAUTH_SCOPE_CLAIMS"].as_str().unwrap_or("scope,scp").replace(',', ", ");
        let client =
            ["client_id", "azp", "appid", "cid"].iter().find(|k| c.get(**k).is_some()).map_or("(none)", |k| *k);
        let mut settings: Vec<String> = s
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "OAUTH_ISSUER")
            .map(|(k, v)| format!("`{k}={}`", v.as_str().unwrap_or_default()))
            .collect();
        settings.sort();
        let settings = if settings.is_empty() { "none".to_owned() } else { settings.join(", ") };
        let provider = format!(
            "[{}]({}) ([fixture](../tests/fixtures/providers/{name}.json))",
            f["provider"].as_str().unwrap_or(&name),
            f["source"].as_str().unwrap_or("#")
        );
        out.push_str(&format!("| {provider} | {typ} | {aud} | {scopes} | `{client}` | {settings} |\n"));
    }
    out
}

#[test]
fn the_compatibility_table_matches_the_fixtures() {
    let path = root().join("docs/configuration.md");
    let doc = std::fs::read_to_string(&path).expect("docs/configuration.md");
    let (begin, end) = ("<!-- providers:begin -->\n", "<!-- providers:end -->");
    let (Some(a), Some(b)) = (doc.find(begin), doc.find(end)) else {
        panic!("docs/configuration.md has no {begin} … {end}")
    };
    let current = &doc[a + begin.len()..b];
    let want = table();
    if current != want && std::env::var_os("MKIT_WRITE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{want}{}", &doc[..a + begin.len()], &doc[b..])).expect("write");
        return;
    }
    assert_eq!(current, want, "regenerate with MKIT_WRITE_DOCS=1 cargo test the_compatibility_table");
}
