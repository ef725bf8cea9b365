//! The claims and header attack suite: one case per rule, each failing without its rule.

use base64::Engine as _;
use jwt_compact::alg::{Ed25519, Es256, Rsa};
use jwt_compact::Algorithm;
use jwt_compact::AlgorithmSignature;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use std::sync::OnceLock;

use super::jwk::{JwkRejection, JwkSet, B64URL};
use super::validator::{AccessTokenValidator, TokenError, MAX_TOKEN_BYTES};

const NOW: u64 = 1_800_000_000;
const ISS: &str = "https://issuer.example.com/";
const AUD: &str = "https://mkit.example.com/mcp";

struct Keys {
    rsa: RsaPrivateKey,
    rsa_other: RsaPrivateKey,
    rsa_weak: RsaPrivateKey,
    ec: p256::ecdsa::SigningKey,
    ed: ed25519_compact::KeyPair,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        Keys {
            rsa: RsaPrivateKey::new(&mut rng, 2048).expect("rsa"),
            rsa_other: RsaPrivateKey::new(&mut rng, 2048).expect("rsa"),
            rsa_weak: RsaPrivateKey::new(&mut rng, 1024).expect("rsa"),
            ec: p256::ecdsa::SigningKey::random(&mut rng),
            ed: ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32])),
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

fn rsa_jwk(k: &RsaPrivateKey, kid: &str) -> Value {
    let p = k.to_public_key();
    json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&p.n().to_bytes_be()), "e": b64(&p.e().to_bytes_be())})
}

fn ec_jwk(k: &p256::ecdsa::SigningKey, kid: &str) -> Value {
    let point = k.verifying_key().to_encoded_point(false);
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))})
}

fn ed_jwk(k: &ed25519_compact::KeyPair, kid: &str) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(k.pk.as_ref())})
}

fn jwks(list: Vec<Value>) -> JwkSet {
    JwkSet::parse(json!({ "keys": list }).to_string().as_bytes()).expect("jwks")
}

fn default_set() -> JwkSet {
    let k = keys();
    jwks(vec![rsa_jwk(&k.rsa, "rsa1"), ec_jwk(&k.ec, "ec1"), ed_jwk(&k.ed, "ed1")])
}

fn validator() -> AccessTokenValidator {
    AccessTokenValidator {
        issuer: ISS.into(),
        audiences: vec![AUD.into()],
        leeway_secs: 60,
        accept_jwt_typ: false,
        profile: Default::default(),
    }
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "user-1", "client_id": "app", "exp": NOW + 300, "iat": NOW - 10, "scope": "tools:read notes"})
}

/// Signs raw header and claims text with `alg` ("RS256", "PS384", "ES256", "EdDSA", …).
fn sign_raw(header: &str, claims: &str, alg: &str, rsa_key: &RsaPrivateKey) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let k = keys();
    let sig: Vec<u8> = match alg {
        "ES256" => Es256.sign(&k.ec, input.as_bytes()).as_bytes().into_owned(),
        "EdDSA" => Ed25519.sign(&k.ed.sk, input.as_bytes()).as_bytes().into_owned(),
        other => {
            let rsa = Rsa::with_name(other);
            rsa.sign(rsa_key, input.as_bytes()).as_bytes().into_owned()
        }
    };
    format!("{input}.{}", b64(&sig))
}

fn token(header: Value, claims: Value) -> String {
    let alg = header["alg"].as_str().unwrap_or("RS256").to_owned();
    sign_raw(&header.to_string(), &claims.to_string(), &alg, &keys().rsa)
}

fn rs256(claims: Value) -> String {
    token(json!({"alg": "RS256", "typ": "at+jwt", "kid": "rsa1"}), claims)
}

fn check(t: &str) -> Result<super::validator::ValidatedToken, TokenError> {
    validator().validate(t, &default_set(), NOW)
}

#[test]
fn valid_tokens_of_every_algorithm() {
    for (alg, kid) in [
        ("RS256", "rsa1"),
        ("RS384", "rsa1"),
        ("RS512", "rsa1"),
        ("PS256", "rsa1"),
        ("PS384", "rsa1"),
        ("PS512", "rsa1"),
        ("ES256", "ec1"),
        ("EdDSA", "ed1"),
    ] {
        let t = token(json!({"alg": alg, "typ": "at+jwt", "kid": kid}), claims());
        let v = check(&t).unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(v.principal.sub, "user-1");
        assert_eq!(v.principal.client_id.as_deref(), Some("app"));
        assert_eq!(v.principal.scopes, ["tools:read", "notes"]);
        assert_eq!(v.expires_at, NOW + 300);
    }
}

#[test]
fn time_claims_with_bounded_leeway() {
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        check(&rs256(c))
    };
    assert_eq!(with("exp", json!(NOW - 61)).err(), Some(TokenError::Expired));
    assert!(with("exp", json!(NOW - 30)).is_ok(), "inside the leeway");
    assert_eq!(with("nbf", json!(NOW + 120)).err(), Some(TokenError::NotYetValid));
    assert!(with("nbf", json!(NOW + 30)).is_ok());
    assert_eq!(with("iat", json!(NOW + 3600)).err(), Some(TokenError::IssuedInFuture));
    assert_eq!(with("exp", json!("soon")).err(), Some(TokenError::Malformed("exp")));
    let mut c = claims();
    c.as_object_mut().expect("obj").remove("exp");
    assert_eq!(check(&rs256(c)).err(), Some(TokenError::MissingClaim("exp")));
    // A configured leeway above 60 s is capped.
    let mut v = validator();
    v.leeway_secs = 3600;
    let mut c = claims();
    c["exp"] = json!(NOW - 120);
    assert_eq!(v.validate(&rs256(c), &default_set(), NOW).err(), Some(TokenError::Expired));
}

#[test]
fn issuer_and_audience() {
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        check(&rs256(c))
    };
    assert_eq!(with("iss", json!("https://evil.example.com/")).err(), Some(TokenError::WrongIssuer));
    assert_eq!(with("iss", json!("https://issuer.example.com")).err(), Some(TokenError::WrongIssuer), "exact match");
    assert_eq!(with("aud", json!("https://other.example.com/mcp")).err(), Some(TokenError::WrongAudience));
    assert!(with("aud", json!(["https://other.example.com", AUD])).is_ok(), "aud array");
    assert_eq!(with("aud", json!(["https://other.example.com"])).err(), Some(TokenError::WrongAudience));
    let mut c = claims();
    c.as_object_mut().expect("obj").remove("aud");
    assert_eq!(check(&rs256(c)).err(), Some(TokenError::WrongAudience));
    let mut c = claims();
    c.as_object_mut().expect("obj").remove("sub");
    assert_eq!(check(&rs256(c)).err(), Some(TokenError::MissingClaim("sub")));
    assert_eq!(with("sub", json!("")).err(), Some(TokenError::MissingClaim("sub")), "an empty subject is no one");
}

#[test]
fn id_tokens_are_not_access_tokens() {
    // What an OIDC provider issues to a client at sign-in: `aud` is the client id, `typ` JWT.
    let v = AccessTokenValidator { accept_jwt_typ: true, audiences: vec!["client-123".into()], ..validator() };
    for marker in ["nonce", "at_hash", "c_hash"] {
        let mut c = claims();
        c["aud"] = json!("client-123");
        c[marker] = json!("abc");
        let t = token(json!({"alg": "RS256", "typ": "JWT", "kid": "rsa1"}), c);
        assert_eq!(v.validate(&t, &default_set(), NOW).err(), Some(TokenError::IdToken), "{marker}");
    }
    let mut c = claims();
    c["aud"] = json!("client-123");
    assert!(v.validate(&token(json!({"alg": "RS256", "typ": "JWT", "kid": "rsa1"}), c), &default_set(), NOW).is_ok());
}

#[test]
fn token_type() {
    let t = |typ: Option<&str>| {
        let mut h = json!({"alg": "RS256", "kid": "rsa1"});
        if let Some(typ) = typ {
            h["typ"] = typ.into();
        }
        token(h, claims())
    };
    assert!(check(&t(Some("application/AT+JWT"))).is_ok());
    assert_eq!(check(&t(Some("JWT"))).err(), Some(TokenError::WrongType));
    assert_eq!(check(&t(None)).err(), Some(TokenError::WrongType));
    assert_eq!(check(&t(Some("id+jwt"))).err(), Some(TokenError::WrongType));
    let mut lax = validator();
    lax.accept_jwt_typ = true;
    assert!(lax.validate(&t(Some("JWT")), &default_set(), NOW).is_ok());
    assert!(lax.validate(&t(None), &default_set(), NOW).is_ok());
    assert_eq!(lax.validate(&t(Some("id+jwt")), &default_set(), NOW).err(), Some(TokenError::WrongType));
    // RFC 7515 §4.1.9: `application/jwt` is `JWT`.
    assert!(lax.validate(&t(Some("application/JWT")), &default_set(), NOW).is_ok());
    assert_eq!(check(&t(Some("application/jwt"))).err(), Some(TokenError::WrongType));
    // A typ that is not a string is malformed, not absent.
    for odd in [json!(123), json!(null), json!(["at+jwt"])] {
        let h = json!({"alg": "RS256", "kid": "rsa1", "typ": odd});
        assert_eq!(lax.validate(&token(h, claims()), &default_set(), NOW).err(), Some(TokenError::Malformed("typ")));
    }
}

#[test]
fn algorithm_attacks() {
    let c = claims().to_string();
    // alg none, with and without a signature.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"at+jwt"}"#), b64(c.as_bytes()));
    assert!(check(&none).is_err());
    let none_sig = format!("{}.{}.AAAA", b64(br#"{"alg":"none","typ":"at+jwt"}"#), b64(c.as_bytes()));
    assert_eq!(check(&none_sig).err(), Some(TokenError::UnsupportedAlg));
    // HS256 keyed with the RSA public key (the classic confusion attack).
    let header = b64(br#"{"alg":"HS256","typ":"at+jwt","kid":"rsa1"}"#);
    let input = format!("{header}.{}", b64(c.as_bytes()));
    let secret = keys().rsa.to_public_key().n().to_bytes_be();
    let mac = {
        use hmac::Mac;
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).expect("hmac");
        m.update(input.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    assert_eq!(check(&format!("{input}.{}", b64(&mac))).err(), Some(TokenError::UnsupportedAlg));
    // alg and key type disagree: ES256 header naming an RSA key.
    let es_on_rsa = token(json!({"alg": "ES256", "typ": "at+jwt", "kid": "rsa1"}), claims());
    assert_eq!(check(&es_on_rsa).err(), Some(TokenError::KeyMismatch));
    // The JWK pins RS256; an RS384 token with that kid is refused.
    let mut pinned = rsa_jwk(&keys().rsa, "pinned");
    pinned["alg"] = "RS256".into();
    let set = jwks(vec![pinned]);
    let rs384 = token(json!({"alg": "RS384", "typ": "at+jwt", "kid": "pinned"}), claims());
    assert_eq!(validator().validate(&rs384, &set, NOW).err(), Some(TokenError::KeyMismatch));
    let rs256 = token(json!({"alg": "RS256", "typ": "at+jwt", "kid": "pinned"}), claims());
    assert!(validator().validate(&rs256, &set, NOW).is_ok());
}

#[test]
fn key_ids() {
    for kid in ["nope", "../../jwks/rsa1", "rsa1 ", "RSA1", "rsa1\u{0}", ""] {
        let t = token(json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}), claims());
        assert_eq!(check(&t).err(), Some(TokenError::UnknownKey), "{kid:?}");
    }
    let t = token(json!({"alg": "RS256", "typ": "at+jwt", "kid": 7}), claims());
    assert_eq!(check(&t).err(), Some(TokenError::Malformed("kid")));
    // No kid: any key that fits the algorithm may verify it.
    let t = token(json!({"alg": "ES256", "typ": "at+jwt"}), claims());
    assert!(check(&t).is_ok());
}

#[test]
fn embedded_key_headers_are_ignored() {
    let k = keys();
    let attacker = rsa_jwk(&k.rsa_other, "rsa1");
    for h in ["jwk", "jku", "x5u", "x5c"] {
        let mut header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "rsa1"});
        header[h] = match h {
            "jwk" => attacker.clone(),
            "x5c" => json!(["MIIB"]),
            _ => json!("https://evil.example.com/jwks.json"),
        };
        // Signed by the attacker's key: the header does not make it trusted.
        let forged = sign_raw(&header.to_string(), &claims().to_string(), "RS256", &k.rsa_other);
        assert_eq!(check(&forged).err(), Some(TokenError::BadSignature), "{h}");
        // Signed by the real key: the header is simply ignored.
        assert!(check(&token(header, claims())).is_ok(), "{h}");
    }
}

#[test]
fn crit_is_refused() {
    let t = token(json!({"alg": "RS256", "typ": "at+jwt", "kid": "rsa1", "crit": ["exp"], "exp": 1}), claims());
    assert_eq!(check(&t).err(), Some(TokenError::CriticalHeader));
}

#[test]
fn encoding_attacks() {
    let good = rs256(claims());
    let (input, sig) = good.rsplit_once('.').expect("dots");
    // Oversize.
    let mut big = claims();
    big["pad"] = "x".repeat(MAX_TOKEN_BYTES).into();
    assert_eq!(check(&rs256(big)).err(), Some(TokenError::TooLarge));
    // Stripped or missing signature, wrong part counts.
    assert!(matches!(check(&format!("{input}.")), Err(TokenError::Malformed(_))));
    assert!(matches!(check(input), Err(TokenError::Malformed(_))));
    assert!(matches!(check(&format!("{good}.x")), Err(TokenError::Malformed(_))));
    // Padding and foreign alphabets.
    assert!(matches!(check(&format!("{input}.{sig}==")), Err(TokenError::Malformed(_))));
    let plus = format!("{input}.{}", sig.replace('-', "+").replace('_', "/"));
    if plus != good {
        assert!(matches!(check(&plus), Err(TokenError::Malformed(_))));
    }
    let (h, c) = input.split_once('.').expect("dot");
    assert!(matches!(check(&format!("{h}=.{c}.{sig}")), Err(TokenError::Malformed(_))));
    // A tampered payload.
    let mut other = claims();
    other["sub"] = "admin".into();
    let tampered = format!("{h}.{}.{sig}", b64(other.to_string().as_bytes()));
    assert_eq!(check(&tampered).err(), Some(TokenError::BadSignature));
    // An ES256 signature in DER form instead of r||s.
    let es = token(json!({"alg": "ES256", "typ": "at+jwt", "kid": "ec1"}), claims());
    let (es_input, es_sig) = es.rsplit_once('.').expect("dot");
    let raw = B64URL.decode(es_sig).expect("sig");
    let der = p256::ecdsa::Signature::from_slice(&raw).expect("sig").to_der();
    assert_eq!(check(&format!("{es_input}.{}", b64(der.as_bytes()))).err(), Some(TokenError::BadSignature));
}

#[test]
fn duplicate_keys_are_refused() {
    let dup_claims = format!(r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"user-1","sub":"admin","exp":{}}}"#, NOW + 300);
    let t = sign_raw(r#"{"alg":"RS256","typ":"at+jwt","kid":"rsa1"}"#, &dup_claims, "RS256", &keys().rsa);
    assert_eq!(check(&t).err(), Some(TokenError::Malformed("claims")));
    let t = sign_raw(
        r#"{"alg":"RS256","alg":"none","typ":"at+jwt","kid":"rsa1"}"#,
        &claims().to_string(),
        "RS256",
        &keys().rsa,
    );
    assert_eq!(check(&t).err(), Some(TokenError::Malformed("header")));
}

#[test]
fn weak_private_and_misused_keys_never_enter_the_set() {
    let k = keys();
    let mut private = ec_jwk(&k.ec, "priv");
    private["d"] = "AAAA".into();
    let mut enc = rsa_jwk(&k.rsa, "enc");
    enc["use"] = "enc".into();
    let mut ops = ed_jwk(&k.ed, "ops");
    ops["key_ops"] = json!(["sign"]);
    let mut wrong_crv = ec_jwk(&k.ec, "crv");
    wrong_crv["crv"] = "P-384".into();
    let set = jwks(vec![
        rsa_jwk(&k.rsa_weak, "weak"),
        private,
        enc,
        ops,
        wrong_crv,
        json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hs"}),
    ]);
    assert!(set.keys.is_empty());
    let reasons: Vec<_> = set.rejected.iter().map(|(kid, why)| (kid.as_str(), why.clone())).collect();
    assert_eq!(reasons[0], ("weak", JwkRejection::WeakRsaKey { bits: 1024 }));
    assert_eq!(reasons[1], ("priv", JwkRejection::PrivateMembers));
    assert_eq!(reasons[2], ("enc", JwkRejection::NotForSignatures));
    assert_eq!(reasons[3], ("ops", JwkRejection::NotForSignatures));
    assert_eq!(reasons[4], ("crv", JwkRejection::UnsupportedKeyType));
    assert_eq!(reasons[5], ("hs", JwkRejection::PrivateMembers));
    // A token signed by the 1024-bit key finds no key.
    let t = sign_raw(r#"{"alg":"RS256","typ":"at+jwt","kid":"weak"}"#, &claims().to_string(), "RS256", &k.rsa_weak);
    assert_eq!(validator().validate(&t, &set, NOW).err(), Some(TokenError::UnknownKey));
    assert!(JwkSet::parse(br#"{"keys":{}}"#).is_err());
    assert!(JwkSet::parse(br#"{"keys":[],"keys":[]}"#).is_err());
}

#[test]
fn scopes_from_scope_or_scp() {
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c.as_object_mut().expect("obj").remove("scope");
        c[k] = v;
        check(&rs256(c)).expect("valid").principal.scopes
    };
    assert_eq!(with("scp", json!(["a", "b"])), ["a", "b"]);
    assert_eq!(with("scp", json!("a b")), ["a", "b"]);
    assert!(with("other", json!(1)).is_empty());
}

#[test]
fn short_signatures_are_rejected_not_panicked_on() {
    for (alg, kid) in [("EdDSA", "ed1"), ("ES256", "ec1"), ("RS256", "rsa1")] {
        let t = token(json!({"alg": alg, "typ": "at+jwt", "kid": kid}), claims());
        let (input, _) = t.rsplit_once('.').expect("dot");
        for sig in ["AA", "AAAA", &"A".repeat(90)] {
            assert_eq!(check(&format!("{input}.{sig}")).err(), Some(TokenError::BadSignature), "{alg} {sig}");
        }
    }
}

#[test]
fn id_tokens_for_the_pay_pages_sign_in() {
    use super::id_token::IdTokenValidator;
    let v = IdTokenValidator { issuer: ISS, client_id: "web", leeway_secs: 60 };
    let id = |claims: Value, typ: Option<&str>| {
        let mut h = json!({"alg": "RS256", "kid": "rsa1"});
        if let Some(t) = typ {
            h["typ"] = t.into();
        }
        token(h, claims)
    };
    let good = || json!({"iss": ISS, "aud": "web", "sub": "alice", "nonce": "n1", "exp": NOW + 300, "iat": NOW});
    assert_eq!(v.validate(&id(good(), None), &default_set(), NOW, "n1"), Ok("alice".into()));
    assert_eq!(v.validate(&id(good(), Some("JWT")), &default_set(), NOW, "n1"), Ok("alice".into()));
    assert_eq!(v.validate(&id(good(), None), &default_set(), NOW, "n2").err(), Some(TokenError::MissingClaim("nonce")));
    assert_eq!(v.validate(&id(good(), Some("at+jwt")), &default_set(), NOW, "n1").err(), Some(TokenError::WrongType));
    let mut c = good();
    c["aud"] = json!("another-client");
    assert_eq!(v.validate(&id(c, None), &default_set(), NOW, "n1").err(), Some(TokenError::WrongAudience));
    let mut c = good();
    c["aud"] = json!(["web", "other"]);
    assert_eq!(
        v.validate(&id(c.clone(), None), &default_set(), NOW, "n1").err(),
        Some(TokenError::WrongAudience),
        "azp needed"
    );
    c["azp"] = json!("web");
    assert!(v.validate(&id(c, None), &default_set(), NOW, "n1").is_ok());
    let mut c = good();
    c["iss"] = json!("https://evil.example/");
    assert_eq!(v.validate(&id(c, None), &default_set(), NOW, "n1").err(), Some(TokenError::WrongIssuer));
    assert_eq!(v.validate(&id(good(), None), &default_set(), NOW + 400, "n1").err(), Some(TokenError::Expired));
}

mod profiles {
    //! Provider token shapes: scope sources, the scope prefix, the client-id audience
    //! alternative, ID token markers, sender-constrained tokens and claims for tools.

    use super::*;
    use crate::claims::{copy, ClaimRule, ClaimValue};
    use crate::profile::TokenProfile;

    fn with(profile: TokenProfile) -> AccessTokenValidator {
        AccessTokenValidator { profile, ..validator() }
    }

    fn without(keys: &[&str]) -> Value {
        let mut c = claims();
        for k in keys {
            c.as_object_mut().expect("obj").remove(*k);
        }
        c
    }

    #[test]
    fn scopes_come_from_the_configured_claims_merged() {
        let p = TokenProfile { scope_claims: vec!["scp".into(), "permissions".into()], ..Default::default() };
        let mut c = claims();
        c["scp"] = json!("a b");
        c["permissions"] = json!(["b", "c", 7]);
        let v = with(p).validate(&rs256(c), &default_set(), NOW).expect("valid");
        assert_eq!(v.principal.scopes, ["a", "b", "c"], "scope itself is not listed, duplicates dropped");
    }

    #[test]
    fn the_scope_prefix_is_stripped_from_tokens_and_added_for_clients() {
        let p = TokenProfile { scope_prefix: Some("api://app/".into()), ..Default::default() };
        assert_eq!(p.advertised("notes"), "api://app/notes");
        let mut c = claims();
        c["scope"] = json!("notes api://app/mcp api://app/");
        let v = with(p).validate(&rs256(c), &default_set(), NOW).expect("valid");
        assert_eq!(
            v.principal.scopes,
            ["notes", "mcp"],
            "bare and prefixed both name the scope; a bare prefix is none"
        );
    }

    #[test]
    fn the_client_comes_from_client_id_azp_appid_or_cid_in_that_order() {
        let client = |pairs: &[(&str, &str)]| {
            let mut c = without(&["client_id"]);
            for (k, v) in pairs {
                c[*k] = json!(v);
            }
            check(&rs256(c)).expect("valid").principal.client_id
        };
        assert_eq!(client(&[("cid", "okta"), ("appid", "entra")]).as_deref(), Some("entra"));
        assert_eq!(client(&[("cid", "okta"), ("azp", "oidc")]).as_deref(), Some("oidc"));
        assert_eq!(client(&[("cid", "okta")]).as_deref(), Some("okta"));
        assert_eq!(client(&[]), None);
    }

    #[test]
    fn a_listed_client_stands_in_only_for_a_missing_aud() {
        let p = TokenProfile { client_ids: vec!["app".into()], ..Default::default() };
        let no_aud = without(&["aud"]);
        assert!(with(p.clone()).validate(&rs256(no_aud.clone()), &default_set(), NOW).is_ok());
        assert_eq!(check(&rs256(no_aud.clone())).err(), Some(TokenError::WrongAudience), "not without the setting");
        let mut other_client = no_aud;
        other_client["client_id"] = json!("other");
        assert_eq!(
            with(p.clone()).validate(&rs256(other_client), &default_set(), NOW).err(),
            Some(TokenError::WrongAudience)
        );
        let mut wrong_aud = claims();
        wrong_aud["aud"] = json!("https://elsewhere.example.com");
        assert_eq!(
            with(p).validate(&rs256(wrong_aud), &default_set(), NOW).err(),
            Some(TokenError::WrongAudience),
            "a wrong aud is never rescued by the client"
        );
    }

    #[test]
    fn tokens_that_say_they_are_id_tokens_are_refused() {
        for (claim, value, refused) in
            [("token_use", "id", true), ("token_use", "access", false), ("typ", "ID", true), ("typ", "Bearer", false)]
        {
            let mut c = claims();
            c[claim] = json!(value);
            assert_eq!(check(&rs256(c)).err() == Some(TokenError::IdToken), refused, "{claim}: {value}");
        }
    }

    #[test]
    fn sender_constrained_tokens_are_refused() {
        let mut c = claims();
        c["cnf"] = json!({ "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" });
        assert_eq!(check(&rs256(c)).err(), Some(TokenError::SenderConstrained));
        assert_eq!(TokenError::SenderConstrained.code(), "token_cnf");
    }

    #[test]
    fn claims_for_tools_are_allowlisted_and_typed() {
        let rules = ClaimRule::parse_list(
            "email, tenant=tid, roles=realm_access.roles, site=https://x.example/site, verified=email_verified, \
             level, obj, ratio, mixed, big, absent",
        )
        .expect("rules");
        let mut c = claims();
        let extra = json!({ "email": "ada@example.com", "tid": "t-1", "realm_access": { "roles": ["a", "b"] },
            "https://x.example/site": "s", "email_verified": true, "level": 3, "obj": { "a": 1 }, "ratio": 0.5,
            "mixed": ["a", 1], "big": "x".repeat(513), "secret": "never" });
        for (k, v) in extra.as_object().expect("obj") {
            c[k] = v.clone();
        }
        let v = with(TokenProfile { claims: rules, ..Default::default() }).validate(&rs256(c), &default_set(), NOW);
        let p = v.expect("valid").principal;
        assert_eq!(
            json!(p.claims),
            json!({ "email": "ada@example.com", "tenant": "t-1", "roles": ["a", "b"], "site": "s", "verified": true, "level": 3 })
        );
        assert_eq!(
            (p.text("email"), p.list("roles"), p.list("tenant")),
            (Some("ada@example.com"), vec!["a", "b"], vec!["t-1"])
        );
        assert_eq!(p.claim("level"), Some(&ClaimValue::Integer(3)));
        let logged = serde_json::to_string(&p).expect("json");
        assert!(!logged.contains("ada@example.com"), "claims never ride along when a principal is serialized");
        let many = (0..17).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        for bad in ["", "a b", "=x", "a=", "a=b c", "a b=c", many.as_str()] {
            assert!(ClaimRule::parse_list(bad).is_err(), "{bad:?}");
        }
        assert!(copy(&[], &serde_json::Map::new()).is_empty());
        let bare = ClaimRule::parse_list("cognito:groups,https://x.example/site").expect("bare names of any shape");
        assert_eq!(
            bare.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["cognito:groups=cognito:groups", "https://x.example/site=https://x.example/site"]
        );
    }
}

mod introspection {
    //! RFC 7662 answers judged like a JWT's claims.

    use super::*;
    use crate::introspection::{is_jwt, judge};
    use crate::profile::TokenProfile;

    fn answer() -> Value {
        json!({ "active": true, "iss": ISS, "aud": AUD, "sub": "user-1", "client_id": "app", "exp": NOW + 300,
            "iat": NOW - 10, "scope": "tools:read notes", "token_type": "Bearer" })
    }

    fn verdict(v: &AccessTokenValidator, a: Value) -> Result<super::super::validator::ValidatedToken, TokenError> {
        judge(v, a.to_string().as_bytes(), NOW)
    }

    fn edited(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut a = answer();
        f(a.as_object_mut().expect("obj"));
        a
    }

    #[test]
    fn an_active_answer_for_this_resource_is_a_principal() {
        let v = verdict(&validator(), answer()).expect("accepted");
        assert_eq!(
            (v.principal.sub.as_str(), v.principal.scopes.clone(), v.expires_at),
            ("user-1", vec!["tools:read".to_owned(), "notes".to_owned()], NOW + 300)
        );
    }

    #[test]
    fn an_answer_must_name_the_issuer() {
        // RFC 7662 makes `iss` optional; mKit requires it, as SECURITY.md says (#28 item 11).
        let v = validator();
        assert_eq!(verdict(&v, edited(|a| drop(a.remove("iss")))).err(), Some(TokenError::MissingClaim("iss")));
        assert_eq!(
            verdict(&v, edited(|a| drop(a.insert("iss".into(), json!(null))))).err(),
            Some(TokenError::WrongIssuer)
        );
        assert_eq!(
            verdict(&v, edited(|a| drop(a.insert("iss".into(), json!(ISS.trim_end_matches('/')))))).err(),
            Some(TokenError::WrongIssuer),
            "compared exactly"
        );
    }

    #[test]
    fn every_claim_is_checked() {
        let v = validator();
        let cases: Vec<(Value, TokenError)> = vec![
            (edited(|a| drop(a.insert("active".into(), json!(false)))), TokenError::Inactive),
            (edited(|a| drop(a.insert("active".into(), json!("true")))), TokenError::Inactive),
            (json!({ "active": false }), TokenError::Inactive),
            (edited(|a| drop(a.insert("iss".into(), json!("https://evil.example.com/")))), TokenError::WrongIssuer),
            (
                edited(|a| drop(a.insert("aud".into(), json!("https://other.example.com/mcp")))),
                TokenError::WrongAudience,
            ),
            (edited(|a| drop(a.remove("aud"))), TokenError::WrongAudience),
            (edited(|a| drop(a.remove("exp"))), TokenError::MissingClaim("exp")),
            (edited(|a| drop(a.insert("exp".into(), json!(NOW - 61)))), TokenError::Expired),
            (edited(|a| drop(a.insert("nbf".into(), json!(NOW + 61)))), TokenError::NotYetValid),
            (edited(|a| drop(a.insert("token_type".into(), json!("refresh_token")))), TokenError::WrongType),
            (edited(|a| drop(a.insert("cnf".into(), json!({ "jkt": "x" })))), TokenError::SenderConstrained),
            (edited(|a| drop(a.remove("sub"))), TokenError::MissingClaim("sub")),
        ];
        for (a, want) in cases {
            assert_eq!(verdict(&v, a.clone()).err(), Some(want), "{a}");
        }
        for bad in [&b"not json"[..], b"[]", b"{\"active\":true,\"active\":true}"] {
            assert_eq!(judge(&v, bad, NOW).err(), Some(TokenError::Malformed("introspection answer")));
        }
    }

    #[test]
    fn without_aud_only_a_listed_clients_bearer_token_stands_in() {
        let v = AccessTokenValidator {
            profile: TokenProfile { client_ids: vec!["app".into()], ..Default::default() },
            ..validator()
        };
        assert!(verdict(&v, edited(|a| drop(a.remove("aud")))).is_ok());
        let refresh = edited(|a| {
            a.remove("aud");
            a.remove("token_type");
        });
        assert_eq!(verdict(&v, refresh).err(), Some(TokenError::WrongAudience), "a refresh token has no token_type");
    }

    #[test]
    fn only_compact_jws_is_a_jwt() {
        assert!(is_jwt("a.b.c"));
        for opaque in ["Rk9PQkFS", "a.b", "a.b.c.d.e", ""] {
            assert!(!is_jwt(opaque), "{opaque}");
        }
    }
}
