//! What a browser sends the pay pages: the query string (`form::query_param`, the pay link's
//! `t` read by `paylink::expiry` and `paylink::open`) and the `Cookie` header (`web::cookies`,
//! the sealed sign-in and session cookies of `web::signin`). Input: the query string, a
//! newline, then the `Cookie` header.
//!
//! A fuzzer cannot forge a seal: the seeds hold links and cookies sealed with `KEY` for `SUB`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::paylink::{self, Kind};
use mkit::web::cookies::{self, SESSION, SIGNIN};
use mkit::web::form::{encode_component, query_param};
use mkit::web::signin::{open_session, Pending};

/// The seeds' clock, key, issuer and signed-in subject.
const NOW: u64 = 1_800_000_000;
const KEY: [u8; 32] = [0x5e; 32];
const ISSUER: &str = "https://issuer.example.com/";
const SUB: &str = "user-1";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (query, cookie) = text.split_once('\n').unwrap_or((text, ""));

    for name in ["t", "code", "state", "error"] {
        let _ = query_param(query, name);
    }
    // Whatever a value holds, it survives encoding into a query and reading back.
    for v in [query, cookie] {
        assert_eq!(query_param(&format!("a=1&x={}", encode_component(v)), "x").as_deref(), Some(v));
    }

    if let Some(t) = query_param(query, "t") {
        let expiry = paylink::expiry(&t);
        for kind in [Kind::Checkout, Kind::Portal] {
            if let Ok(link) = paylink::open(&[KEY], ISSUER, SUB, kind, &t, NOW) {
                assert!(expiry.is_some_and(|e| NOW < e), "a link that opens was read as expired");
                assert_eq!(link.kind, kind);
                assert!(
                    paylink::open(&[KEY], ISSUER, "user-2", kind, &t, NOW).is_err(),
                    "a link opened for another user"
                );
            }
        }
    }

    let header = Some(cookie);
    if let Some(c) = cookies::get(header, SIGNIN) {
        if let Ok(p) = Pending::open(&[KEY], ISSUER, c, NOW) {
            assert!(p.return_to.starts_with("/billing/"), "a sign-in returns outside the pay pages");
        }
    }
    if let Some(c) = cookies::get(header, SESSION) {
        if let Some(sub) = open_session(&[KEY], ISSUER, c, NOW) {
            assert!(!sub.is_empty());
            assert!(open_session(&[KEY], "https://other.example/", c, NOW).is_none(), "a session of another issuer");
        }
    }
});
