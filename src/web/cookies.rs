//! Cookies of the pay pages and the authorization server's sign-in: sealed (`crate::seal`),
//! `HttpOnly; Secure; SameSite=Lax`, scoped to `/billing` (or `/oauth`, for a session started by
//! an authorization request). Lax lets the issuer's redirect back (a top-level GET) carry them,
//! and nothing cross-site else: a cross-site form POST to `/oauth/consent` arrives without one.

/// The browser's signed-in user at the issuer (an hour).
pub const SESSION: &str = "mkit_session";
/// A sign-in in progress: state, nonce, PKCE verifier, where to return (ten minutes).
pub const SIGNIN: &str = "mkit_signin";

/// The value of cookie `name` in a `Cookie` header.
pub fn get<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').filter_map(|c| c.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value under `/billing`; `max_age` 0 deletes it.
pub fn set(name: &str, value: &str, max_age: u64) -> String {
    set_at("/billing", name, value, max_age)
}

/// A `Set-Cookie` value under `path`.
pub fn set_at(path: &str, name: &str, value: &str, max_age: u64) -> String {
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_write() {
        assert_eq!(get(Some("a=1; mkit_session=abc.def ; b=2"), SESSION), Some("abc.def"));
        assert_eq!(get(Some("a=1"), SESSION), None);
        assert_eq!(get(None, SESSION), None);
        assert_eq!(get(Some("xmkit_session=1"), SESSION), None);
        let c = set(SESSION, "v", 3600);
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/billing", "Max-Age=3600"] {
            assert!(c.contains(attr), "{attr}");
        }
    }
}
