use serde_json::{json, Map, Value};

use super::client::{check_document_url, from_document, from_registration, ApplicationTypeRule, MAX_DOCUMENT_BYTES};
use super::grant::{
    redeem_code, secret_hash, use_refresh, Code, CodeExchange, CodeRefusal, Grant, Refresh, RefreshOutcome,
    RefreshRequest,
};
use super::redirect::{check, display_host, matches};
use super::token::{jwks, mint, Issue, Key, ACCESS_TOKEN_TTL_SECS};
use super::{metadata, pkce};
use mkit_auth::jwk::JwkSet;
use mkit_auth::validator::AccessTokenValidator;

const NOW: u64 = 1_800_000_000;
// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const CIMD: &str = "https://app.example.com/oauth/client.json";

#[test]
fn pkce_is_s256_with_the_rfc_vector() {
    assert_eq!(pkce::s256_challenge(VERIFIER), CHALLENGE);
    assert_eq!(pkce::check_challenge(Some(CHALLENGE), Some("S256")), Ok(CHALLENGE.to_owned()));
    for (c, m) in
        [(None, Some("S256")), (Some(CHALLENGE), None), (Some(CHALLENGE), Some("plain")), (Some("short"), Some("S256"))]
    {
        assert_eq!(pkce::check_challenge(c, m).map_err(|e| e.code), Err("invalid_request"), "{c:?} {m:?}");
    }
    assert_eq!(pkce::verify(Some(VERIFIER), CHALLENGE), Ok(()));
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
    for v in [None, Some(wrong), Some("too-short"), Some(&*"a".repeat(129)), Some(&*format!("{VERIFIER} "))] {
        assert_eq!(pkce::verify(v, CHALLENGE).map_err(|e| e.code), Err("invalid_grant"), "{v:?}");
    }
}

#[test]
fn redirect_uris_that_may_be_registered() {
    for ok in [
        "https://app.example.com/cb",
        "http://127.0.0.1:33418/callback",
        "http://localhost/cb",
        "http://[::1]:8080/cb",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
        "com.example.app:/oauth2redirect",
    ] {
        assert!(check(ok).is_ok(), "{ok}");
    }
    for bad in [
        "https://app.example.com/cb#frag",
        "http://app.example.com/cb",
        "https://user:pw@app.example.com/cb",
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "/relative/cb",
        "https:///cb",
        "https://a b/cb",
        "",
    ] {
        assert_eq!(check(bad).map_err(|e| e.code), Err("invalid_redirect_uri"), "{bad}");
    }
}

#[test]
fn redirect_matching_is_exact_but_for_the_loopback_port() {
    let reg = vec!["https://app.example.com/cb".to_owned(), "http://127.0.0.1:3000/callback".to_owned()];
    assert!(matches(&reg, "https://app.example.com/cb"));
    assert!(matches(&reg, "http://127.0.0.1:51234/callback"), "RFC 8252 §7.3: any loopback port");
    assert!(matches(&reg, "http://127.0.0.1/callback"));
    for bad in [
        "https://app.example.com/cb/",
        "https://app.example.com/cb?x=1",
        "https://APP.example.com/cb",
        "https://app.example.com.evil.com/cb",
        "https://evil.com/?https://app.example.com/cb",
        "https://app.example.com:8443/cb",
        "http://localhost:3000/callback",
        "http://127.0.0.1:3000/callback/../x",
        "http://127.0.0.2:3000/callback",
        "http://127.0.0.1:3000/callback#x",
        "http://evil@127.0.0.1:3000/callback",
        "https://app.example.com/cb#",
    ] {
        assert!(!matches(&reg, bad), "{bad}");
    }
    assert!(
        !matches(&["https://app.example.com:3000/cb".to_owned()], "https://app.example.com:4000/cb"),
        "https ports are exact"
    );
    assert_eq!(display_host("https://App.Example.com/cb"), "app.example.com");
    assert_eq!(display_host("cursor://app.example.com/cb"), "cursor: (an app on this device)");
}

#[test]
fn metadata_document_urls_are_https_public_and_plain() {
    assert!(check_document_url(CIMD, false).is_ok());
    for bad in [
        "http://app.example.com/client.json",
        "https://app.example.com",
        "https://app.example.com/",
        "https://app.example.com/a/../b",
        "https://app.example.com/./c.json",
        "https://app.example.com/c.json#x",
        "https://u:p@app.example.com/c.json",
        "https://app.example.com/c.json?v=1",
        "not a url",
    ] {
        assert_eq!(check_document_url(bad, false).map_err(|e| e.code), Err("invalid_client"), "{bad}");
    }
    for private in [
        "https://127.0.0.1/c.json",
        "https://localhost/c.json",
        "https://10.1.2.3/c.json",
        "https://192.168.0.1/c.json",
        "https://172.16.0.1/c.json",
        "https://169.254.169.254/latest",
        "https://100.64.0.1/c.json",
        "https://[::1]/c.json",
        "https://[fd00::1]/c.json",
        "https://0.0.0.0/c.json",
        "https://intranet/c.json",
        "https://2130706433/c.json",
        "https://0x7f000001/c.json",
        "https://metadata.google.internal/c.json",
        "https://printer.local/c.json",
        "https://a.localhost/c.json",
    ] {
        assert!(check_document_url(private, false).is_err(), "{private}");
    }
    assert!(check_document_url("https://127.0.0.1:8443/c.json", true).is_ok(), "local development may allow loopback");
    assert!(check_document_url("https://8.8.8.8/c.json", false).is_ok(), "a public address is a public host");
}

fn document(extra: Value) -> Vec<u8> {
    let mut d = json!({ "client_id": CIMD, "client_name": "Example MCP Client", "redirect_uris": ["http://127.0.0.1:3000/callback"],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "token_endpoint_auth_method": "none" });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            d.as_object_mut().map(|m| m.remove(&k));
        } else {
            d[k] = v;
        }
    }
    d.to_string().into_bytes()
}

#[test]
fn metadata_documents_must_describe_themselves() {
    let c = from_document(CIMD, &document(json!({}))).expect("valid");
    assert_eq!((c.client_name.as_deref(), c.refresh), (Some("Example MCP Client"), true));
    assert_eq!(c.redirect_uris, ["http://127.0.0.1:3000/callback"]);
    let minimal = from_document(
        CIMD,
        &document(json!({ "grant_types": null, "response_types": null, "token_endpoint_auth_method": null })),
    );
    assert_eq!(minimal.map(|c| c.refresh), Ok(false));
    for (why, extra) in [
        ("another client_id", json!({ "client_id": "https://evil.example.com/oauth/client.json" })),
        ("client_id with a trailing slash", json!({ "client_id": format!("{CIMD}/") })),
        ("a secret", json!({ "client_secret": "s" })),
        ("private_key_jwt", json!({ "token_endpoint_auth_method": "private_key_jwt" })),
        ("no name", json!({ "client_name": null })),
        ("an empty name", json!({ "client_name": " " })),
        ("no redirect_uris", json!({ "redirect_uris": null })),
        ("empty redirect_uris", json!({ "redirect_uris": [] })),
        ("a bad redirect", json!({ "redirect_uris": ["http://evil.example.com/cb"] })),
        ("implicit grant", json!({ "grant_types": ["implicit"] })),
        ("token response type", json!({ "response_types": ["token"] })),
    ] {
        assert_eq!(from_document(CIMD, &document(extra)).map_err(|e| e.code), Err("invalid_client"), "{why}");
    }
    assert!(from_document(CIMD, b"[1]").is_err());
    assert!(from_document(CIMD, b"{").is_err());
    let huge = document(json!({ "client_uri": "x".repeat(MAX_DOCUMENT_BYTES) }));
    assert!(from_document(CIMD, &huge).is_err(), "larger than the cap");
}

/// The clients written before MCP 2026-07-28, which state no `application_type`.
const LEGACY: ApplicationTypeRule = ApplicationTypeRule::Optional;

#[test]
fn dynamic_registration_answers_rfc_7591() {
    let body = json!({ "redirect_uris": ["http://localhost:6274/oauth/callback"], "client_name": "MCP Inspector",
        "token_endpoint_auth_method": "client_secret_post", "grant_types": ["authorization_code", "refresh_token"] });
    let (client, response) =
        from_registration(body.to_string().as_bytes(), "mkit_abc", NOW, LEGACY).expect("registered");
    assert_eq!(client.client_id, "mkit_abc");
    assert_eq!(response["token_endpoint_auth_method"], "none", "registered as a public client");
    assert_eq!(response["client_id_issued_at"], NOW);
    assert_eq!(response["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(response["client_name"], "MCP Inspector");
    assert!(response.get("client_secret").is_none());
    let (minimal, r) =
        from_registration(br#"{"redirect_uris":["https://app.example.com/cb"]}"#, "c", NOW, LEGACY).expect("minimal");
    assert_eq!((minimal.refresh, r["grant_types"].clone()), (false, json!(["authorization_code"])));
    for (body, code) in [
        (json!({}), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["https://a.example.com/cb#x"] }), "invalid_redirect_uri"),
        (
            json!({ "redirect_uris": ["https://a.example.com/cb"], "grant_types": ["client_credentials"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": ["https://a.example.com/cb"], "response_types": ["token"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "tls_client_auth" }),
            "invalid_client_metadata",
        ),
        (json!({ "redirect_uris": ["https://a.example.com/cb"], "client_name": 7 }), "invalid_client_metadata"),
        (json!([]), "invalid_client_metadata"),
    ] {
        assert_eq!(
            from_registration(body.to_string().as_bytes(), "c", NOW, LEGACY).map(|_| ()).map_err(|e| e.code),
            Err(code),
            "{body}"
        );
    }
}

#[test]
fn client_names_that_would_mislead_on_the_consent_page_are_refused() {
    // "Claude" then a right-to-left override: "Claude\u{202E}edoC lautsiV" reads as another name.
    for name in [
        "Claude\u{202E}edoC lautsiV",
        "Cla\u{200B}ude",
        "\u{2066}Claude\u{2069}",
        "Claude\u{FEFF}",
        "A\u{00AD}B",
        "Claude\u{E0041}",
        "\u{3164}",
        "Line\u{2028}break",
        "Tab\tname",
    ] {
        let body = json!({ "redirect_uris": ["https://a.example.com/cb"], "client_name": name });
        let code = "invalid_client_metadata";
        assert_eq!(
            from_registration(body.to_string().as_bytes(), "c", NOW, LEGACY).map(|_| ()).map_err(|e| e.code),
            Err(code)
        );
        let mut d = json!({ "client_id": CIMD, "client_name": name, "redirect_uris": ["https://a.example.com/cb"] });
        assert!(from_document(CIMD, d.to_string().as_bytes()).is_err(), "{name:?}");
        d["client_name"] = "Visual Studio Code — Insiders ✓ 日本語 עברית".into();
        assert!(from_document(CIMD, d.to_string().as_bytes()).is_ok(), "visible text of any script is fine");
    }
    let stored = super::client::Client {
        client_id: "mkit_x".into(),
        client_name: Some("Good\u{202E}lieve".into()),
        redirect_uris: vec![],
        refresh: false,
        application_type: None,
    };
    assert_eq!(stored.display_name(), "mkit_x", "a name stored before the rule is not shown");
    let plain = super::client::Client { client_name: Some("App".into()), ..stored };
    assert_eq!(plain.display_name(), "App");
}

fn grant() -> Grant {
    let mut claims = Map::new();
    claims.insert("email".into(), json!("ada@example.com"));
    Grant { client_id: CIMD.into(), sub: "upstream|ada".into(), scope: "mcp".into(), resource: RESOURCE.into(), claims }
}

fn code() -> Code {
    Code {
        grant: grant(),
        redirect_uri: "http://127.0.0.1:3000/callback".into(),
        code_challenge: CHALLENGE.into(),
        expires_at: NOW + 300,
        used: false,
    }
}

fn exchange<'a>() -> CodeExchange<'a> {
    CodeExchange {
        client_id: CIMD,
        redirect_uri: Some("http://127.0.0.1:3000/callback"),
        code_verifier: Some(VERIFIER),
        resource: Some(RESOURCE),
    }
}

#[test]
fn a_code_is_redeemed_once_by_its_client_with_its_verifier() {
    assert_eq!(redeem_code(Some(&code()), &exchange(), NOW), Ok(grant()));
    assert_eq!(
        redeem_code(Some(&code()), &CodeExchange { resource: None, ..exchange() }, NOW),
        Ok(grant()),
        "resource is optional"
    );
    let refused = |c: Option<&Code>, x: CodeExchange<'_>, now| match redeem_code(c, &x, now) {
        Err(CodeRefusal::Invalid(e)) => e.code,
        other => panic!("{other:?}"),
    };
    assert_eq!(refused(None, exchange(), NOW), "invalid_grant");
    assert_eq!(refused(Some(&code()), exchange(), NOW + 300), "invalid_grant", "expired");
    assert_eq!(refused(Some(&code()), CodeExchange { client_id: "other", ..exchange() }, NOW), "invalid_grant");
    assert_eq!(refused(Some(&code()), CodeExchange { redirect_uri: None, ..exchange() }, NOW), "invalid_grant");
    assert_eq!(
        refused(
            Some(&code()),
            CodeExchange { redirect_uri: Some("http://127.0.0.1:4000/callback"), ..exchange() },
            NOW
        ),
        "invalid_grant"
    );
    assert_eq!(refused(Some(&code()), CodeExchange { code_verifier: None, ..exchange() }, NOW), "invalid_grant");
    assert_eq!(
        refused(Some(&code()), CodeExchange { code_verifier: Some(&"x".repeat(43)), ..exchange() }, NOW),
        "invalid_grant"
    );
    assert_eq!(
        refused(Some(&code()), CodeExchange { resource: Some("https://other.example.com/mcp"), ..exchange() }, NOW),
        "invalid_target"
    );
    let used = Code { used: true, ..code() };
    assert!(matches!(redeem_code(Some(&used), &exchange(), NOW), Err(CodeRefusal::Replayed(_))), "a replay revokes");
    assert_eq!(secret_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

fn refresh() -> Refresh {
    Refresh {
        family: "f1".into(),
        grant: grant(),
        expires_at: NOW + 100,
        family_expires_at: NOW + 1000,
        signed_in_at: NOW - 10,
        rotated: false,
        family_revoked: false,
    }
}

/// A refresh request from the CIMD client, the sign-in allowed 7 days.
fn asks<'a>(client_id: &'a str, resource: Option<&'static str>) -> RefreshRequest<'a> {
    RefreshRequest { client_id, resource, signin_max_secs: 7 * 86_400 }
}

#[test]
fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    assert_eq!(use_refresh(Some(&refresh()), &asks(CIMD, Some(RESOURCE)), NOW), RefreshOutcome::Rotate(grant()));
    assert!(matches!(
        use_refresh(Some(&Refresh { rotated: true, ..refresh() }), &asks(CIMD, None), NOW),
        RefreshOutcome::RevokeFamily(_)
    ));
    let refused = |t: Option<Refresh>, client: &str, resource: Option<&'static str>, now| match use_refresh(
        t.as_ref(),
        &asks(client, resource),
        now,
    ) {
        RefreshOutcome::Refuse(e) => e.code,
        other => panic!("{other:?}"),
    };
    assert_eq!(refused(None, CIMD, None, NOW), "invalid_grant");
    assert_eq!(refused(Some(Refresh { family_revoked: true, ..refresh() }), CIMD, None, NOW), "invalid_grant");
    assert_eq!(
        refused(Some(Refresh { family_revoked: true, rotated: true, ..refresh() }), CIMD, None, NOW),
        "invalid_grant"
    );
    assert_eq!(refused(Some(refresh()), CIMD, None, NOW + 100), "invalid_grant", "expired");
    assert_eq!(
        refused(Some(Refresh { expires_at: NOW + 5000, ..refresh() }), CIMD, None, NOW + 1000),
        "invalid_grant",
        "family over"
    );
    assert_eq!(refused(Some(refresh()), "other", None, NOW), "invalid_grant");
    assert_eq!(refused(Some(refresh()), CIMD, Some("https://other.example.com/mcp"), NOW), "invalid_target");
}

/// #28 item 12: a sign-in refreshes for `MKIT_AUTH_SIGNIN_DAYS` at most, however fresh its latest
/// refresh token, so a user removed at the provider (or a changed scope rule) takes effect then.
#[test]
fn a_sign_in_older_than_the_allowed_age_refreshes_no_more() {
    const DAY: u64 = 86_400;
    let long_lived = |signed_in_at| Refresh {
        signed_in_at,
        expires_at: NOW + 30 * DAY,
        family_expires_at: NOW + 90 * DAY,
        ..refresh()
    };
    let seven_days = asks(CIMD, None);
    let outcome = |t: Refresh, req: &RefreshRequest<'_>| use_refresh(Some(&t), req, NOW);
    assert_eq!(outcome(long_lived(NOW - 7 * DAY + 1), &seven_days), RefreshOutcome::Rotate(grant()), "a second left");
    for (signed_in_at, req) in [
        (NOW - 7 * DAY, &seven_days),
        (NOW - 60 * DAY, &seven_days),
        (NOW - 31 * DAY, &RefreshRequest { signin_max_secs: 30 * DAY, ..asks(CIMD, None) }),
        (NOW, &RefreshRequest { signin_max_secs: 0, ..asks(CIMD, None) }),
    ] {
        match outcome(long_lived(signed_in_at), req) {
            RefreshOutcome::Refuse(e) => {
                assert_eq!(e.code, "invalid_grant");
                assert!(e.description.contains("run the authorization flow again"), "{}", e.description);
            }
            other => panic!("signed in {}s ago, {}s allowed: {other:?}", NOW - signed_in_at, req.signin_max_secs),
        }
    }
    assert!(
        matches!(
            outcome(Refresh { rotated: true, ..long_lived(NOW - 60 * DAY) }, &seven_days),
            RefreshOutcome::RevokeFamily(_)
        ),
        "a reused token still revokes its family, however old the sign-in"
    );
}

#[test]
fn minted_tokens_pass_the_resource_servers_own_validator() {
    let keys =
        [Key::derive("new-deployment-secret-0123456789abcdef"), Key::derive("old-deployment-secret-0123456789abcdef")];
    assert_ne!(keys[0].kid, keys[1].kid);
    assert_eq!(
        Key::derive("new-deployment-secret-0123456789abcdef").kid,
        keys[0].kid,
        "derived, so every isolate agrees"
    );
    let set = JwkSet::parse(jwks(&keys).to_string().as_bytes()).expect("our JWKS parses");
    let issuer = "https://mcp.example.com";
    let validator = AccessTokenValidator {
        issuer: issuer.into(),
        audiences: vec![RESOURCE.into()],
        leeway_secs: 60,
        accept_jwt_typ: false,
        profile: Default::default(),
    };
    let mut g = grant();
    g.claims.insert("sub".into(), json!("forged"));
    g.claims.insert("aud".into(), json!("https://elsewhere"));
    for key in &keys {
        let token = mint(key, &g, &Issue { issuer, now: NOW, jti: "j1" });
        let v = validator.validate(&token, &set, NOW + 10).expect("valid");
        assert_eq!(v.principal.sub, "upstream|ada", "carried claims never override the token's own");
        assert_eq!(v.principal.client_id.as_deref(), Some(CIMD));
        assert_eq!(v.principal.scopes, ["mcp"]);
        assert_eq!(v.expires_at, NOW + ACCESS_TOKEN_TTL_SECS);
        assert!(validator.validate(&token, &set, NOW + ACCESS_TOKEN_TTL_SECS + 61).is_err(), "short-lived");
    }
    let removed = JwkSet::parse(jwks(&keys[..1]).to_string().as_bytes()).expect("jwks");
    let by_old = mint(&keys[1], &grant(), &Issue { issuer, now: NOW, jti: "j2" });
    assert!(validator.validate(&by_old, &removed, NOW).is_err(), "a token signed by a removed key is refused");
    let other_aud = AccessTokenValidator { audiences: vec!["https://other.example.com/mcp".into()], ..validator };
    assert!(other_aud.validate(&by_old, &set, NOW).is_err());
}

#[test]
fn server_metadata_advertises_pkce_cimd_and_optional_registration() {
    let d = metadata::document("https://mcp.example.com", &["mcp".into()], true, false);
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["client_id_metadata_document_supported"], true);
    assert_eq!(d["registration_endpoint"], "https://mcp.example.com/oauth/register");
    assert_eq!(d["token_endpoint"], "https://mcp.example.com/oauth/token");
    assert_eq!(d["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    assert!(d.get("authorization_grant_profiles_supported").is_none());
    assert!(metadata::document("https://mcp.example.com", &[], false, false).get("registration_endpoint").is_none());
    let enterprise = metadata::document("https://mcp.example.com", &[], false, true);
    assert_eq!(enterprise["grant_types_supported"][3], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert_eq!(
        enterprise["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    let e = super::OAuthError::invalid_target("no");
    assert_eq!((e.status, e.body()), (400, json!({ "error": "invalid_target", "error_description": "no" })));
}

mod authorization_requests {
    use super::super::authorize::{check, granted_scope, response_params, AuthorizationRequest};
    use super::super::client::Client;
    use super::{CHALLENGE, RESOURCE};

    fn client() -> Client {
        Client {
            client_id: "c1".into(),
            client_name: Some("App".into()),
            redirect_uris: vec!["http://127.0.0.1:3000/cb".into(), "https://app.example.com/cb".into()],
            refresh: true,
            application_type: None,
        }
    }

    fn request() -> AuthorizationRequest {
        AuthorizationRequest {
            response_type: Some("code".into()),
            client_id: Some("c1".into()),
            redirect_uri: Some("http://127.0.0.1:49152/cb".into()),
            state: Some("xyz".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            resource: Some(RESOURCE.into()),
            scope: Some("mcp tools:write unknown".into()),
        }
    }

    fn supported() -> Vec<String> {
        vec!["mcp".into(), "tools:write".into(), "tools:admin".into()]
    }

    /// The error of a request from a registered client to a registered URI: an error page's.
    fn page_error(r: AuthorizationRequest) -> &'static str {
        match check(&r, &client(), RESOURCE, &supported()) {
            Err(error) => error.code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_good_request_is_approved_with_the_known_scopes() {
        let a = check(&request(), &client(), RESOURCE, &supported()).expect("approved");
        assert_eq!(
            (a.redirect_uri.as_str(), a.scope.as_str(), a.state.as_deref()),
            ("http://127.0.0.1:49152/cb", "mcp tools:write", Some("xyz"))
        );
        let no_resource = AuthorizationRequest { resource: None, scope: None, ..request() };
        let a = check(&no_resource, &client(), RESOURCE, &supported()).expect("approved");
        assert_eq!((a.resource.as_str(), a.scope.as_str()), (RESOURCE, "mcp tools:write tools:admin"));
        assert_eq!(granted_scope(Some("nothing-known"), &supported()), "");
    }

    #[test]
    fn an_untrusted_redirect_is_never_followed() {
        for bad in [Some("https://evil.example.com/cb"), Some("https://app.example.com/cb/../evil"), None] {
            let r = AuthorizationRequest { redirect_uri: bad.map(str::to_owned), ..request() };
            assert!(check(&r, &client(), RESOURCE, &supported()).is_err(), "{bad:?}");
        }
        let one = Client { redirect_uris: vec!["https://app.example.com/cb".into()], ..client() };
        let r = AuthorizationRequest { redirect_uri: None, ..request() };
        assert_eq!(
            check(&r, &one, RESOURCE, &supported()).map(|a| a.redirect_uri),
            Ok("https://app.example.com/cb".into())
        );
    }

    #[test]
    fn later_errors_are_shown_not_redirected() {
        // Anyone can register a redirect URI: no request error may send a visitor there (RFC 9700 §4.11.2).
        assert_eq!(
            page_error(AuthorizationRequest { response_type: Some("token".into()), ..request() }),
            "unsupported_response_type"
        );
        assert_eq!(
            page_error(AuthorizationRequest { response_type: Some("x".into()), ..request() }),
            "unsupported_response_type"
        );
        assert_eq!(page_error(AuthorizationRequest { code_challenge: None, ..request() }), "invalid_request");
        assert_eq!(
            page_error(AuthorizationRequest { code_challenge_method: Some("plain".into()), ..request() }),
            "invalid_request"
        );
        let other = AuthorizationRequest { resource: Some("https://other.example.com/mcp".into()), ..request() };
        assert_eq!(page_error(other), "invalid_target");
        assert_eq!(page_error(AuthorizationRequest { state: Some("s".repeat(1025)), ..request() }), "invalid_request");
        let p = response_params(Ok("the-code"), Some("xyz"), "https://mcp.example.com");
        assert_eq!(
            p,
            [("code", "the-code"), ("state", "xyz"), ("iss", "https://mcp.example.com")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }
}

#[test]
fn application_type_must_fit_the_redirect_uris() {
    let reg = |t: Value, uris: Value| {
        let body = json!({ "redirect_uris": uris, "application_type": t });
        from_registration(body.to_string().as_bytes(), "c", NOW, LEGACY).map(|(_, r)| r).map_err(|e| e.code)
    };
    let loopback = json!(["http://127.0.0.1:33418/callback"]);
    let app = json!(["com.example.app:/oauth"]);
    let web = json!(["https://app.example.com/cb"]);
    assert_eq!(reg(json!("native"), loopback.clone()).map(|r| r["application_type"].clone()), Ok(json!("native")));
    assert!(reg(json!("native"), app.clone()).is_ok());
    assert!(reg(json!("native"), web.clone()).is_ok(), "a claimed https URI (RFC 8252 §7.2)");
    assert_eq!(reg(json!("web"), web.clone()).map(|r| r["application_type"].clone()), Ok(json!("web")));
    assert_eq!(reg(json!("web"), loopback.clone()), Err("invalid_redirect_uri"), "a web client on loopback");
    assert_eq!(reg(json!("web"), app), Err("invalid_redirect_uri"));
    assert_eq!(reg(json!("desktop"), loopback.clone()), Err("invalid_client_metadata"), "only the two types");
    assert_eq!(reg(json!(["native"]), loopback.clone()), Err("invalid_client_metadata"));
    assert_eq!(reg(Value::Null, loopback.clone()).map(|r| r.get("application_type").cloned()), Ok(None), "legacy");
    let doc = json!({ "client_id": CIMD, "client_name": "App", "redirect_uris": ["http://127.0.0.1:3000/cb"],
        "application_type": "web" });
    assert!(from_document(CIMD, doc.to_string().as_bytes()).is_err(), "a metadata document is held to it too");
    // What was stated is kept on the client (stored, and shown on the consent page).
    let stated = json!({ "redirect_uris": ["http://127.0.0.1:1/cb"], "application_type": "native" });
    let (client, _) = from_registration(stated.to_string().as_bytes(), "c", NOW, LEGACY).expect("registered");
    assert_eq!(client.application_type, Some("native"));
    let doc = json!({ "client_id": CIMD, "client_name": "App", "redirect_uris": ["https://app.example.com/cb"],
        "application_type": "web" });
    assert_eq!(from_document(CIMD, doc.to_string().as_bytes()).map(|c| c.application_type), Ok(Some("web")));
}

#[test]
fn mcp_2026_07_28_registrations_must_state_their_application_type() {
    let now = ApplicationTypeRule::Required;
    let unstated = json!({ "redirect_uris": ["http://127.0.0.1:1/cb"], "client_name": "old client" });
    let refused = from_registration(unstated.to_string().as_bytes(), "c", NOW, now).map(|_| ()).unwrap_err();
    assert_eq!(refused.code, "invalid_client_metadata", "RFC 7591 §3.2.2: the metadata, not the redirect");
    assert!(refused.description.contains("application_type is required"), "{}", refused.description);
    assert!(refused.description.contains("\"native\""), "it says what to state");
    let null = json!({ "redirect_uris": ["http://127.0.0.1:1/cb"], "application_type": null });
    assert!(from_registration(null.to_string().as_bytes(), "c", NOW, now).is_err(), "null states nothing");
    for (t, uri) in [("native", "http://127.0.0.1:1/cb"), ("web", "https://app.example.com/cb")] {
        let body = json!({ "redirect_uris": [uri], "application_type": t });
        let (client, r) = from_registration(body.to_string().as_bytes(), "c", NOW, now).expect(t);
        assert_eq!((client.application_type, r["application_type"].as_str()), (Some(t), Some(t)));
    }
    let misfit = json!({ "redirect_uris": ["http://127.0.0.1:1/cb"], "application_type": "web" });
    let e = from_registration(misfit.to_string().as_bytes(), "c", NOW, now).map(|_| ()).map_err(|e| e.code);
    assert_eq!(e, Err("invalid_redirect_uri"), "a stated type is still held to the redirect URIs");
    // A metadata document is no registration: one that states no type is still a client.
    let doc = json!({ "client_id": CIMD, "client_name": "App", "redirect_uris": ["http://127.0.0.1:3000/cb"] });
    assert_eq!(from_document(CIMD, doc.to_string().as_bytes()).map(|c| c.application_type), Ok(None));
}
