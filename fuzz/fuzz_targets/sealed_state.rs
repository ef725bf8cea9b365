//! Sealed tokens a client hands back: the 2026-07-28 `requestState` (`mcp::mrtr::open`) and the
//! `Mcp-Session-Id` (`mcp::session::open`), both `mkit::seal`. Each input is tried three
//! ways:
//! 1. as a token (it opens only if it is a seed sealed with `KEYS[0]`: a fuzzer cannot forge the
//!    HMAC);
//! 2. as the raw sealed body (version byte, expiry, JSON) under a valid tag made here, so that the
//!    checks behind the HMAC see fuzzed bytes: `seal::open` must answer exactly what the format
//!    says;
//! 3. as a JSON payload, which must survive sealing and opening, and open for no other caller,
//!    tool or key, nor once expired.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use mkit::mac::hmac_sha256;
use mkit::mcp::mrtr::{self, Binding, Sealing, STATE_TTL_SECS};
use mkit::mcp::session;
use mkit::mcp::ProtocolVersion;
use mkit::seal::{self, SealError};
use serde_json::Value;

/// The seeds' clock and keys: fuzz/seeds/sealed_state was sealed with `KEYS[0]` for `ME` at NOW.
const NOW: u64 = 1_800_000_000;
const KEYS: [[u8; 32]; 2] = [[0x5e; 32], [0xa1; 32]];
const ISSUER: &str = "https://issuer.example.com/";
const ME: Binding<'static> = Binding { issuer: ISSUER, subject: "user-1", tool: "wizard" };
/// The binding of mode 2.
const RAW: [&str; 2] = ["fuzz", "user-1"];

/// The tag `seal` puts on a body: HMAC-SHA256 over the body and the length-prefixed binding.
/// Checked against `seal::seal` in mode 3, so a change of format fails loudly here instead of
/// silently starving mode 2.
fn tag(key: &[u8; 32], body: &[u8], binding: &[&str]) -> [u8; 32] {
    let mut m = body.to_vec();
    for part in binding {
        m.extend_from_slice(&(part.len() as u64).to_be_bytes());
        m.extend_from_slice(part.as_bytes());
    }
    hmac_sha256(key, &m)
}

fn token(key: &[u8; 32], body: &[u8], binding: &[&str]) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(body), URL_SAFE_NO_PAD.encode(tag(key, body, binding)))
}

fuzz_target!(|data: &[u8]| {
    let sealing = Sealing { keys: KEYS.to_vec(), issuer: ISSUER.into(), now_secs: NOW };

    // 1. A token, as a client sends it back.
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(payload) = mrtr::open(&KEYS, &ME, s, NOW) {
            let _ = mrtr::accepted_content(Some(&payload), "answer");
            let bob = Binding { subject: "user-2", ..ME };
            assert!(mrtr::open(&KEYS, &bob, s, NOW).is_err(), "a state opened for another caller");
            assert!(session::open(&sealing, ME.subject, s).is_none(), "a request state opened as a session");
        }
        if session::open(&sealing, ME.subject, s).is_some() {
            assert!(session::open(&sealing, "user-2", s).is_none(), "a session opened for another caller");
        }
    }

    // 2. A raw body behind a valid tag.
    let opened = seal::open(&KEYS, &RAW, &token(&KEYS[1], data, &RAW), NOW);
    let expected = match data.split_at_checked(9) {
        None => Err(SealError::Integrity),
        Some((head, _)) if head[0] != seal::VERSION => Err(SealError::Version),
        Some((head, _)) if NOW >= u64::from_be_bytes(head[1..9].try_into().expect("8 bytes")) => {
            Err(SealError::Expired)
        }
        Some((_, json)) => serde_json::from_slice::<Value>(json).map_err(|_| SealError::Integrity),
    };
    assert_eq!(opened, expected, "seal::open disagrees with the sealed format");

    // 3. A payload round trip.
    if let Ok(payload) = serde_json::from_slice::<Value>(data) {
        let sealed = seal::seal(&KEYS[0], &RAW, &payload, NOW + 1);
        let (body, _) = sealed.split_once('.').expect("a dot");
        let body = URL_SAFE_NO_PAD.decode(body).expect("base64url body");
        assert_eq!(sealed, token(&KEYS[0], &body, &RAW), "the fuzz target's copy of the tag is out of date");

        let canonical: Value = serde_json::from_str(&payload.to_string()).expect("serde_json re-reads its output");
        assert_eq!(seal::open(&KEYS, &RAW, &sealed, NOW), Ok(canonical.clone()));
        assert_eq!(seal::open(&KEYS, &RAW, &sealed, NOW + 1), Err(SealError::Expired));
        let state = mrtr::seal(&KEYS[0], &ME, &payload, NOW);
        assert_eq!(mrtr::open(&KEYS, &ME, &state, NOW + STATE_TTL_SECS - 1).ok().as_ref(), Some(&canonical));
        assert!(mrtr::open(&KEYS, &ME, &state, NOW + STATE_TTL_SECS).is_err(), "an expired state opened");
        assert!(mrtr::open(&[[0; 32]], &ME, &state, NOW).is_err(), "a state opened under a foreign key");
        assert!(mrtr::open(&KEYS, &Binding { tool: "other", ..ME }, &state, NOW).is_err(), "another tool");
        let _ = mrtr::accepted_content(Some(&payload), "answer");

        // A session remembers a URL-mode elicitation declaration, and only that; a held one
        // keeps its id and the capabilities the server may ask with.
        if let Some(id) = session::mint(&sealing, ME.subject, ProtocolVersion::V2025_11_25, Some(&payload), None) {
            let declared = session::open(&sealing, ME.subject, &id).expect("a minted session opens").capabilities;
            assert_eq!(declared.pointer("/elicitation/url"), canonical.pointer("/elicitation/url"));
            assert!(mrtr::open(&KEYS, &ME, &id, NOW).is_err(), "a session opened as a request state");
        }
        if let Some(id) = session::mint(&sealing, ME.subject, ProtocolVersion::V2025_03_26, Some(&payload), Some("h")) {
            let opened = session::open(&sealing, ME.subject, &id).expect("a held session opens");
            assert_eq!(opened.held.as_deref(), Some("h"));
            for key in ["sampling", "elicitation", "roots"] {
                assert_eq!(opened.capabilities.get(key), canonical.get(key).filter(|v| v.is_object()), "{key}");
            }
            assert!(session::open(&sealing, "user-2", &id).is_none(), "a held session opened for another caller");
        }
    }
});
