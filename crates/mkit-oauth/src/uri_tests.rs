//! Issue #28 items 4 and 6: URLs are judged as the WHATWG URL Standard (a browser, workerd's
//! fetch) reads them, and only in the form it serializes them to.

use super::uri::{is_private, Host, Uri, UriError};
use crate::client::check_document_url;
use crate::redirect::{check, display_host, matches};

/// The `url` crate's class of a host, as the kernel names it.
fn kernel_host<'a>(h: &url::Host<&'a str>) -> Host<'a> {
    match *h {
        url::Host::Domain(d) => Host::Domain(d),
        url::Host::Ipv4(a) => Host::Ipv4(a),
        url::Host::Ipv6(a) => Host::Ipv6(a),
    }
}

/// Each spelling fetch reads as a loopback, private or otherwise special address or name.
const PRIVATE_SPELLINGS: [&str; 42] = [
    // 127.0.0.1 in hexadecimal, octal, short and single-number forms.
    "https://0x7f.1/c.json",
    "https://0x7f000001/c.json",
    "https://0177.0.0.1/c.json",
    "https://0177.1/c.json",
    "https://127.1/c.json",
    "https://127.0.1/c.json",
    "https://2130706433/c.json",
    "https://017700000001/c.json",
    // Private and other special ranges, written so a string check misses them.
    "https://0xa.1.2.3/c.json",
    "https://167772161/c.json",
    "https://0xc0.0xa8.1/c.json",
    "https://0xa9fea9fe/c.json",
    "https://0/c.json",
    "https://0.0.0.0/c.json",
    "https://100.64.0.1/c.json",
    "https://100.127.255.255/c.json",
    "https://192.0.0.8/c.json",
    "https://192.0.2.1/c.json",
    "https://192.88.99.1/c.json",
    "https://198.18.0.1/c.json",
    "https://198.19.255.1/c.json",
    "https://198.51.100.7/c.json",
    "https://203.0.113.9/c.json",
    "https://224.0.0.1/c.json",
    "https://239.255.255.250/c.json",
    "https://240.0.0.1/c.json",
    "https://255.255.255.255/c.json",
    // Trailing dots.
    "https://127.0.0.1./c.json",
    "https://localhost./c.json",
    "https://a.localhost./c.json",
    "https://printer.local./c.json",
    "https://metadata.google.internal./c.json",
    "https://intranet./c.json",
    "https://router.home.arpa/c.json",
    "https://home.arpa./c.json",
    // IPv6, in every form that carries an IPv4 and the ranges of its own.
    "https://[::ffff:127.0.0.1]/c.json",
    "https://[::ffff:7f00:1]/c.json",
    "https://[::127.0.0.1]/c.json",
    "https://[64:ff9b::a00:1]/c.json",
    "https://[2002:7f00:1::]/c.json",
    "https://[fe80::1]/c.json",
    "https://[2001:db8::1]/c.json",
];

#[test]
fn a_metadata_document_is_never_fetched_from_a_private_host_however_spelled() {
    for url in PRIVATE_SPELLINGS {
        assert!(check_document_url(url, false).is_err(), "{url}");
        // Whatever the spelling, the host the URL Standard reads is private.
        let parsed = url::Url::parse(url).expect("a WHATWG URL");
        let host = Host::of_serialized(parsed.scheme(), parsed.host_str().expect("a host")).expect("a host");
        assert_eq!(Some(host), parsed.host().map(|h| kernel_host(&h)), "{url}: read as the url crate reads it");
        assert!(is_private(&host), "{url} reads as {host:?}");
    }
    for public in ["https://8.8.8.8/c.json", "https://198.20.0.1/c.json", "https://100.128.0.1/c.json", "https://a.b/c"]
    {
        assert!(check_document_url(public, false).is_ok(), "{public}");
    }
}

#[test]
fn a_metadata_document_is_on_the_default_port_unless_private_hosts_are_allowed() {
    assert!(check_document_url("https://app.example.com:8443/c.json", false).is_err());
    assert!(check_document_url("https://app.example.com:8443/c.json", true).is_ok(), "local development");
    assert!(check_document_url("https://app.example.com:443/c.json", true).is_err(), "443 written out");
}

/// Written otherwise than the URL Standard serializes it, each of which a browser or fetch reads
/// as another URL than the text suggests.
const NOT_NORMALIZED: [&str; 16] = [
    "https://evil.example\\@good.example/cb",
    "https://good.example\\evil/cb",
    "https://good.example/a\\..\\..\\cb",
    "https://good.example/a/%2e%2e/cb",
    "https://good.example/a/%2E./cb",
    "https://good.example/a/.%2e/cb",
    "https://good.example/a/./cb",
    "https://good.example/a/../cb",
    "https://GOOD.example/cb",
    "https://good.example:443/cb",
    "http://127.0.0.1:80/cb",
    "http://127.1/cb",
    "http://0x7f.0.0.1/cb",
    "http://[0:0:0:0:0:0:0:1]/cb",
    "https://good.example",
    "HTTPS://good.example/cb",
];

#[test]
fn a_redirect_uri_is_taken_only_as_the_browser_serializes_it() {
    for uri in NOT_NORMALIZED {
        assert_eq!(check(uri).map_err(|e| e.code), Err("invalid_redirect_uri"), "{uri}");
        assert!(matches!(Uri::parse_strict(uri), Err(UriError::NotNormalized(_))), "{uri}");
        assert!(!matches(&[uri.to_owned()], uri), "a stored {uri} is never followed");
    }
    for uri in ["https://good.example/cb\t", "https://good.example/c\nb", "https://good.\rexample/cb", "https://a b/cb"]
    {
        assert_eq!(Uri::parse_strict(uri), Err(UriError::Invalid), "{uri:?}");
        assert!(check(uri).is_err(), "{uri:?}");
    }
    // What does round-trip keeps working, private-use schemes included.
    for uri in [
        "https://good.example/cb",
        "https://good.example/cb?x=1",
        "http://localhost:3000/cb",
        "http://[::1]:8080/cb",
        "com.example.app:/oauth2redirect",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
        "https://good.example/a%2Fb",
    ] {
        assert!(check(uri).is_ok(), "{uri}");
    }
}

#[test]
fn the_loopback_port_still_matches_any_port_but_nothing_else() {
    let reg = ["http://127.0.0.1:3000/callback".to_owned(), "http://[::1]/cb".to_owned()];
    assert!(matches(&reg, "http://127.0.0.1:51234/callback"));
    assert!(matches(&reg, "http://127.0.0.1/callback"));
    assert!(matches(&reg, "http://[::1]:49152/cb"));
    for bad in [
        "http://127.0.0.1:80/callback",
        "http://127.1:3000/callback",
        "http://127.0.0.1:3000/x/../callback",
        "http://127.0.0.1:3000/%2e/callback",
        "http://127.0.0.1:3000\\callback",
        "http://127.0.0.1:3000/callback?",
    ] {
        assert!(!matches(&reg, bad), "{bad}");
    }
}

#[test]
fn metadata_document_urls_refuse_what_does_not_round_trip() {
    for url in [
        "https://app.example.com/a/%2e%2e/c.json",
        "https://app.example.com/a/%2E./c.json",
        "https://app.example.com\\c.json",
        "https://evil.example\\@app.example.com/c.json",
        "https://APP.example.com/c.json",
        "https://app.example.com:443/c.json",
        "https://app.example.com/c\t.json",
        "https://app.example.com/c\n.json",
    ] {
        assert_eq!(check_document_url(url, true).map_err(|e| e.code), Err("invalid_client"), "{url:?}");
    }
    let checked = check_document_url("https://app.example.com/c.json", false).expect("a public metadata document URL");
    assert_eq!(checked.as_str(), "https://app.example.com/c.json", "what is fetched is what was checked");
}

#[test]
fn the_consent_page_shows_the_host_the_browser_goes_to() {
    assert_eq!(display_host("https://evil.example\\@good.example/cb"), "evil.example");
    assert_eq!(display_host("https://good.example\\evil/cb"), "good.example");
    assert_eq!(display_host("http://0x7f.1/cb"), "127.0.0.1");
    assert_eq!(display_host("https://GOOD.example./cb"), "good.example.");
}
