//! Cookies of the pay pages and the authorization server's sign-in: sealed (`crate::seal`),
//! `HttpOnly; Secure; SameSite=Lax`. Lax lets the issuer's redirect back (a top-level GET) carry
//! them, and nothing cross-site else: a cross-site form POST to `/oauth/consent` arrives without
//! one. Their names carry the `__Host-` prefix (RFC 6265bis §4.1.3.2), so a browser accepts them
//! only from this host itself, `Secure`, `Path=/` and without `Domain`: a sibling subdomain cannot
//! plant its own signed-in session here (login CSRF).

/// The browser's signed-in user at the issuer (an hour).
pub const SESSION: &str = "__Host-mkit_session";
/// A sign-in in progress: state, nonce, PKCE verifier, where to return (ten minutes).
pub const SIGNIN: &str = "__Host-mkit_signin";

/// The value of cookie `name` in a `Cookie` header.
pub fn get<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').filter_map(|c| c.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value as the `__Host-` prefix requires it (`Path=/`, no `Domain`, `Secure`);
/// `max_age` 0 deletes it.
pub fn set(name: &str, value: &str, max_age: u64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_write() {
        assert_eq!(get(Some("a=1; __Host-mkit_session=abc.def ; b=2"), SESSION), Some("abc.def"));
        assert_eq!(get(Some("a=1"), SESSION), None);
        assert_eq!(get(None, SESSION), None);
        assert_eq!(get(Some("mkit_session=planted"), SESSION), None, "an unprefixed cookie a sibling could set");
        let c = set(SESSION, "v", 3600);
        assert!(c.starts_with("__Host-mkit_session=v; "));
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/;", "Max-Age=3600"] {
            assert!(c.contains(attr), "{attr}");
        }
        assert!(!c.contains("Domain"), "__Host- forbids Domain");
    }
}
