//! Enterprise-managed authorization: the ID-JAG's claims (the extension's §4.3 and §5.1), the
//! token's subject and the scope narrowing.

use serde_json::{json, Map, Value};

use crate::enterprise::*;

const NOW: u64 = 1_800_000_000;
const AS: &str = "https://mcp.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const IDP: &str = "https://acme.idp.example";
const CLIENT: &str = "mkit_m_editor";

fn good() -> Value {
    json!({ "iss": IDP, "sub": "U0194", "aud": AS, "resource": RESOURCE, "client_id": CLIENT, "jti": "g-1",
        "exp": NOW + 300, "iat": NOW, "scope": "notes" })
}

fn check(v: Value) -> Result<IdentityGrant, &'static str> {
    let claims: Map<String, Value> = v.as_object().cloned().unwrap_or_default();
    check_grant(&claims, AS, RESOURCE, CLIENT, NOW).map_err(|e| e.code)
}

#[test]
fn only_a_listed_provider_is_asked_for_keys() {
    let listed = vec![IDP.to_owned()];
    assert_eq!(grant_issuer(Some(IDP), &listed), Ok(IDP));
    assert_eq!(grant_issuer(Some("https://evil.example"), &listed).map_err(|e| e.code), Err("invalid_grant"));
    assert_eq!(grant_issuer(Some("https://acme.idp.example/"), &listed).map_err(|e| e.code), Err("invalid_grant"));
    assert_eq!(grant_issuer(None, &listed).map_err(|e| e.code), Err("invalid_grant"));
}

#[test]
fn an_id_jags_claims_follow_the_extension() {
    let g = check(good()).expect("accepted");
    assert_eq!((g.issuer.as_str(), g.subject.as_str(), g.scope.as_deref()), (IDP, "U0194", Some("notes")));
    assert_eq!((g.jti.as_str(), g.exp), ("g-1", NOW + 300));
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    assert!(check(with("aud", json!([AS]))).is_ok(), "a one-element aud list");
    let refused = [
        ("aud", json!("https://other.example")),
        ("aud", json!([AS, "https://other.example"])),
        ("resource", json!("https://mcp.example.com/other")),
        ("client_id", json!("mkit_m_someone_else")),
        ("sub", json!("")),
        ("jti", json!(5)),
        ("exp", json!(NOW - 60)),
        ("exp", json!(NOW + MAX_GRANT_LIFETIME_SECS + 3600)),
        ("iat", json!(NOW + 3600)),
        ("iat", json!("now")),
    ];
    for (k, v) in refused {
        assert_eq!(check(with(k, v.clone())), Err("invalid_grant"), "{k} = {v}");
    }
    for k in ["iss", "sub", "jti", "exp", "iat", "resource", "client_id", "aud"] {
        let mut c = good();
        c.as_object_mut().map(|o| o.remove(k));
        assert_eq!(check(c), Err("invalid_grant"), "without {k}");
    }
}

#[test]
fn the_subject_is_the_providers_own_only_for_the_sign_in_provider() {
    let g = check(good()).expect("accepted");
    assert_eq!(token_subject(&g, IDP), "U0194");
    assert_eq!(token_subject(&g, "https://signin.example"), "https://acme.idp.example#U0194");
}

#[test]
fn scopes_only_narrow() {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let eligible = s(&["mcp", "notes", "admin"]);
    let client = s(&["mcp", "notes"]);
    assert_eq!(granted_scope(&eligible, None, &client, None), "mcp notes", "admin: not the client's");
    assert_eq!(granted_scope(&eligible, Some("notes admin"), &client, None), "notes");
    assert_eq!(granted_scope(&eligible, Some("notes"), &client, Some("mcp")), "");
    assert_eq!(granted_scope(&s(&["mcp"]), Some("mcp notes"), &client, None), "mcp", "the provider cannot widen");
}
