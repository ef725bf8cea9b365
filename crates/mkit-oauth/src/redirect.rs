//! Redirect URIs: which a client may register (RFC 6749 §3.1.2, OAuth 2.1 §2.3.1, RFC 8252 §7),
//! and whether an authorization request's URI is one of them. Exact string comparison, with the
//! one exception RFC 8252 §7.3 makes: a loopback `http` URI matches on any port, because native
//! clients listen on whatever port is free. A URI is taken only in the form the WHATWG URL
//! Standard serializes it to (`Uri::parse`), so the host checked and shown is the host the
//! browser goes to: no backslash, no `%2e%2e`, no uppercase or shorthand host (issue #28 item 6).

use super::uri::Uri;
use super::OAuthError;

/// Schemes no redirect may use: they run code, read files or leave the OAuth flow.
const DENIED_SCHEMES: [&str; 10] =
    ["javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss", "mailto"];

/// Checks one URI a client registers (or presents): `https` anywhere, `http` only on loopback,
/// or a native app's private-use scheme; never a fragment or userinfo; always written as the
/// URL Standard serializes it.
pub fn check(uri: &str) -> Result<Uri, OAuthError> {
    let bad = |why: &str| Err(OAuthError::invalid_redirect_uri(format!("redirect_uri {uri:?}: {why}")));
    let u = match Uri::parse_strict(uri) {
        Ok(u) => u,
        Err(e) => return bad(&e.describe()),
    };
    if u.has_fragment() {
        return bad("a redirect URI must not have a fragment");
    }
    if u.has_userinfo() {
        return bad("a redirect URI must not carry a user name or password");
    }
    match u.scheme.as_str() {
        "https" if u.host.is_empty() => bad("https needs a host"),
        "https" => Ok(u),
        "http" if u.is_loopback() => Ok(u),
        "http" => bad("http is allowed only on loopback (localhost, 127.0.0.1, [::1]); use https"),
        s if DENIED_SCHEMES.contains(&s) => bad("this scheme cannot be a redirect target"),
        _ => Ok(u),
    }
}

/// Whether `presented` is one of `registered`: equal strings, or the same loopback `http` URI on
/// another port; and in either case a URI `check` accepts today (a registration stored under
/// older, looser rules is never followed).
pub fn matches(registered: &[String], presented: &str) -> bool {
    check(presented).is_ok() && registered.iter().any(|r| r == presented || same_loopback_except_port(r, presented))
}

fn same_loopback_except_port(registered: &str, presented: &str) -> bool {
    match (Uri::parse(registered), Uri::parse(presented)) {
        (Some(r), Some(p)) => {
            r.scheme == "http"
                && p.scheme == "http"
                && r.is_loopback()
                && r.host == p.host
                && r.path() == p.path()
                && r.query() == p.query()
                && !r.has_fragment()
                && !p.has_fragment()
                && !p.has_userinfo()
        }
        _ => false,
    }
}

/// The host a consent page shows, so the user sees where the code goes (MCP authorization,
/// "MUST clearly display the redirect URI hostname"): the host as the browser parses it, or the
/// scheme for an app.
pub fn display_host(uri: &str) -> String {
    // Stored URIs passed `check`, which takes printable ASCII only; anything else is not parsed.
    if !uri.is_ascii() {
        return String::from("(invalid)");
    }
    match mkit_kernel::whatwg::parse(uri) {
        Some(u) if u.scheme == "http" || u.scheme == "https" => u.host,
        // A private-use scheme's "host" is whatever the app chose: name the app's scheme instead.
        Some(u) => format!("{}: (an app on this device)", u.scheme),
        None => String::from("(invalid)"),
    }
}
