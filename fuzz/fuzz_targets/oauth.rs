//! What a client sends the authorization server: a URL (a `client_id` that names a metadata
//! document, a redirect URI, a `resource`) and a JSON body (the metadata document it serves, or
//! a registration request; also the sealed consent and stored grant shapes). Input: the URL, a
//! newline, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::oauth::authorize::{check, Approved, AuthorizationRequest};
use mkit::oauth::client::{check_document_url, from_document, from_registration, ApplicationTypeRule};
use mkit::oauth::redirect;
use mkit::oauth::store::grant_from_json;
use mkit::oauth::uri::{is_private, Host, Uri};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (url, body) = text.split_once('\n').unwrap_or((text, ""));

    // Issue #28 items 4 and 6: what mKit accepts is read the same by the URL Standard (a browser,
    // workerd's fetch), and written in exactly the form it serializes to.
    let whatwg = url::Url::parse(url).ok();
    if let Some(u) = Uri::parse(url) {
        let _ = (u.is_loopback(), u.is_private_host(), u.path());
        let parsed = whatwg.as_ref().expect("a Uri is a WHATWG URL");
        assert_eq!(parsed.as_str(), url, "a Uri round-trips under url::Url");
        // In the Worker the parse is workerd's and the rest is read from the serialization: that
        // reading is the url crate's own.
        assert_eq!(u.parsed_host(), parsed.host().map(|h| kernel_host(&h)), "the host's class");
        assert_eq!(
            (u.path(), u.query(), u.has_fragment()),
            (parsed.path(), parsed.query(), parsed.fragment().is_some())
        );
        assert_eq!(u.has_userinfo(), !parsed.username().is_empty() || parsed.password().is_some());
    }
    if redirect::check(url).is_ok() {
        assert!(redirect::matches(&[url.to_owned()], url), "a valid redirect URI matches itself");
        let parsed = whatwg.as_ref().expect("a valid redirect URI is a WHATWG URL");
        assert_eq!(parsed.as_str(), url, "a valid redirect URI round-trips");
        if matches!(parsed.scheme(), "http" | "https") {
            assert_eq!(
                redirect::display_host(url),
                parsed.host_str().unwrap_or_default(),
                "the host shown is the parsed one"
            );
        }
        if parsed.scheme() == "http" {
            assert!(Uri::parse(url).is_some_and(|u| u.is_loopback()), "http only to loopback");
        }
    }
    if let Ok(checked) = check_document_url(url, false) {
        assert!(check_document_url(url, true).is_ok(), "allowing private hosts only widens");
        let parsed = whatwg.as_ref().expect("a metadata document URL is a WHATWG URL");
        assert_eq!((parsed.as_str(), checked.as_str()), (url, url), "what is fetched is what was checked");
        assert_eq!((parsed.scheme(), parsed.port()), ("https", None), "https on port 443");
        let host = kernel_host(&parsed.host().expect("https has a host"));
        assert!(!is_private(&host), "{host:?} as fetch reads it is public");
        assert!(!matches!(host, Host::Ipv6(_)), "no IPv6 literal");
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
    for rule in [ApplicationTypeRule::Required, ApplicationTypeRule::Optional] {
        if let Ok((client, response)) = from_registration(body.as_bytes(), "mkit_fuzz", 1, rule) {
            assert_eq!(response["client_id"], "mkit_fuzz");
            assert_eq!(response["token_endpoint_auth_method"], "none");
            assert!(client.redirect_uris.iter().all(|r| redirect::check(r).is_ok()));
            if rule == ApplicationTypeRule::Required {
                assert!(client.application_type.is_some(), "MCP 2026-07-28: stated, or refused");
            }
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(a) = Approved::from_json(&v) {
            assert_eq!(Approved::from_json(&a.to_json()), Some(a));
        }
    }
    let _ = grant_from_json(body);
});

/// The `url` crate's class of a host, as the kernel names it.
fn kernel_host<'a>(h: &url::Host<&'a str>) -> Host<'a> {
    match *h {
        url::Host::Domain(d) => Host::Domain(d),
        url::Host::Ipv4(a) => Host::Ipv4(a),
        url::Host::Ipv6(a) => Host::Ipv6(a),
    }
}
