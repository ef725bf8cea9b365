//! Lifetimes the docs state are the code's (#28 item 11): the sealed `requestState`, and the wait
//! before the old `MKIT_SECRET` may be removed, which must outlast everything sealed under it.

use std::path::Path;

fn doc(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The duration, in seconds, stated right after each occurrence of `phrase` in `path`
/// (`30 minutes`, `1 hour`, `24 hours`). The phrase must occur.
fn stated(path: &str, phrase: &str) -> Vec<u64> {
    let text = doc(path).split_whitespace().collect::<Vec<_>>().join(" ");
    let found: Vec<u64> = text
        .match_indices(phrase)
        .map(|(at, _)| {
            let mut words = text[at + phrase.len()..].split_whitespace();
            let n: u64 = words
                .next()
                .and_then(|w| w.parse().ok())
                .unwrap_or_else(|| panic!("{path}: no number after {phrase:?}"));
            match words.next().map(|w| w.trim_end_matches(|c: char| !c.is_alphabetic())) {
                Some("minute" | "minutes") => n * 60,
                Some("hour" | "hours") => n * 3_600,
                other => panic!("{path}: {phrase:?} {n} is followed by {other:?}, not minutes or hours"),
            }
        })
        .collect();
    assert!(!found.is_empty(), "{path} no longer says {phrase:?}; keep the statement or update this test");
    found
}

#[test]
fn the_request_state_lives_as_long_as_the_docs_say() {
    use mkit::mcp::mrtr::STATE_TTL_SECS;
    for (path, phrase) in [
        ("SECURITY.md", "a version byte, an expiry ("),
        ("SECURITY.md", "How long multi-round state lives (#28 item 11).** "),
        ("docs/tools.md", "A sealed state lasts"),
        ("docs/deployment.md", "multi-round `requestState` and pay links ("),
    ] {
        for secs in stated(path, phrase) {
            assert_eq!(secs, STATE_TTL_SECS, "{path}: {phrase:?} states {secs} s, the code {STATE_TTL_SECS} s");
        }
    }
    // The reason the docs give: a user who pays within a pay link's life can still answer.
    const { assert!(STATE_TTL_SECS >= mkit::paylink::LINK_TTL_SECS) };
}

#[test]
fn the_rotation_wait_outlasts_everything_sealed_with_the_secret() {
    // What every listed MKIT_SECRET value opens (the first seals): removing the old value ends
    // those early. The longest one sets the wait.
    let lifetimes = [
        ("2025 session id", mkit::mcp::session::SESSION_TTL_SECS),
        ("requestState", mkit::mcp::mrtr::STATE_TTL_SECS),
        ("pay link", mkit::paylink::LINK_TTL_SECS),
        ("pay-page sign-in", mkit::web::signin::SESSION_TTL_SECS),
        ("sign-in in progress", mkit::web::signin::SIGNIN_TTL_SECS),
        ("authorization-server access token", mkit::oauth::token::ACCESS_TOKEN_TTL_SECS),
    ];
    let longest = lifetimes.iter().map(|(_, s)| *s).max().unwrap_or_default();
    for (path, phrase) in [
        ("SECURITY.md", "Rotate by setting `new,old` (the first seals, all open), waiting"),
        ("docs/deployment.md", "listed value still opens what the old one made. After"),
    ] {
        for secs in stated(path, phrase) {
            assert_eq!(
                secs, longest,
                "{path}: the rotation wait is {secs} s; the longest lifetime is {longest} s ({lifetimes:?})"
            );
        }
    }
    for (path, phrase, secs) in [
        ("docs/deployment.md", "2025 session ids (", mkit::mcp::session::SESSION_TTL_SECS),
        ("docs/deployment.md", "pay-page sign-ins (", mkit::web::signin::SESSION_TTL_SECS),
        ("docs/deployment.md", "its access tokens (", mkit::oauth::token::ACCESS_TOKEN_TTL_SECS),
    ] {
        assert_eq!(stated(path, phrase), [secs], "{path}: {phrase:?}");
    }
}
