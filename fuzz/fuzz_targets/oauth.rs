//! What a client sends the authorization server: a URL (a `client_id` that names a metadata
//! document, a redirect URI, a `resource`) and a JSON body (the metadata document it serves, or
//! a registration request; also the sealed consent and stored grant shapes). Input: the URL, a
//! newline, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::oauth::authorize::{check, Approved, AuthorizationRequest};
use mkit::oauth::client::{check_document_url, from_document, from_registration};
use mkit::oauth::redirect;
use mkit::oauth::store::grant_from_json;
use mkit::oauth::uri::Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (url, body) = text.split_once('\n').unwrap_or((text, ""));

    if let Some(u) = Uri::parse(url) {
        let _ = (u.is_loopback(), u.is_private_host(), u.path());
    }
    if redirect::check(url).is_ok() {
        assert!(redirect::matches(&[url.to_owned()], url), "a valid redirect URI matches itself");
        let _ = redirect::display_host(url);
    }
    if check_document_url(url, false).is_ok() {
        assert!(check_document_url(url, true).is_ok(), "allowing private hosts only widens");
    }
    if let Ok(client) = from_document(url, body.as_bytes()) {
        assert_eq!(client.client_id, url);
        assert!(!client.redirect_uris.is_empty());
        for r in &client.redirect_uris {
            assert!(redirect::check(r).is_ok(), "{r}");
            let req = AuthorizationRequest { redirect_uri: Some(r.clone()), ..AuthorizationRequest::default() };
            assert!(check(&req, &client, "https://mcp.example.com/mcp", &[]).is_err(), "no response_type, no PKCE");
        }
    }
    if let Ok((client, response)) = from_registration(body.as_bytes(), "mkit_fuzz", 1) {
        assert_eq!(response["client_id"], "mkit_fuzz");
        assert_eq!(response["token_endpoint_auth_method"], "none");
        assert!(client.redirect_uris.iter().all(|r| redirect::check(r).is_ok()));
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(a) = Approved::from_json(&v) {
            assert_eq!(Approved::from_json(&a.to_json()), Some(a));
        }
    }
    let _ = grant_from_json(body);
});
