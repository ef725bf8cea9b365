//! The one call into a WHATWG URL parser, behind which the rest of [`crate::uri`] is pure text.
//!
//! In the Worker it is workerd's own `URL` class (`url_standard`, on by default since the
//! 2022-10-31 compatibility date), the parser its `fetch` and its `Request::url` use: what is
//! checked is what is fetched, by construction. Natively (tests, fuzzing) it is the `url` crate,
//! which implements the same standard; the fuzz target `oauth` holds the pure reading below to it.
//! The `url` crate is kept out of the Worker on purpose: its IDNA tables were 69 KiB of the
//! minimal bundle (issue #29), for a parse the runtime already ships.

/// A URL as the standard serializes it, with the components the kit reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The serialization (`href`).
    pub href: String,
    /// The scheme, lowercase, without its `:`.
    pub scheme: String,
    /// The host as serialized (`example.com`, `127.0.0.1`, `[::1]`); empty when there is none.
    pub host: String,
    /// The port, unless absent or the scheme's default.
    pub port: Option<u16>,
    /// The path, percent-encoded.
    pub path: String,
    /// Whether a user name or password is present.
    pub userinfo: bool,
    /// The origin (`https://example.com:8443`), `null` for an opaque one.
    pub origin: String,
}

impl Parsed {
    /// The query without its `?`, even an empty one; read from the serialization, where the first
    /// `?` before any `#` starts it (a `?` or `#` elsewhere is always percent-encoded there).
    pub fn query(&self) -> Option<&str> {
        let before_fragment = self.href.split('#').next().unwrap_or_default();
        before_fragment.split_once('?').map(|(_, q)| q)
    }

    /// Whether a fragment is present, even an empty one.
    pub fn has_fragment(&self) -> bool {
        self.href.contains('#')
    }
}

/// `s` parsed as an absolute URL, or `None`.
#[cfg(not(target_arch = "wasm32"))]
pub fn parse(s: &str) -> Option<Parsed> {
    let u = url::Url::parse(s).ok()?;
    Some(Parsed {
        href: u.as_str().to_owned(),
        scheme: u.scheme().to_owned(),
        host: u.host_str().unwrap_or_default().to_owned(),
        port: u.port(),
        path: u.path().to_owned(),
        userinfo: !u.username().is_empty() || u.password().is_some(),
        origin: u.origin().ascii_serialization(),
    })
}

/// `s` parsed as an absolute URL, or `None` (workerd's `URL` throws on what it refuses).
#[cfg(target_arch = "wasm32")]
pub fn parse(s: &str) -> Option<Parsed> {
    let u = web_sys::Url::new(s).ok()?;
    let port = u.port();
    Some(Parsed {
        href: u.href(),
        scheme: u.protocol().trim_end_matches(':').to_owned(),
        host: u.hostname(),
        port: if port.is_empty() { None } else { Some(port.parse().ok()?) },
        path: u.pathname(),
        userinfo: !u.username().is_empty() || !u.password().is_empty(),
        origin: u.origin(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// The query and fragment read from the serialization agree with the parser's own components.
    #[test]
    fn query_and_fragment_are_read_from_the_serialization() {
        for (s, query, fragment) in [
            ("https://a.example/p", None, false),
            ("https://a.example/p?", Some(""), false),
            ("https://a.example/p?x=1#f?y", Some("x=1"), true),
            ("https://a.example/p#f?x", None, true),
            ("https://a.example/p#", None, true),
            ("https://u:p@a.example/%3F?q#", Some("q"), true),
            ("com.example.app:/cb?code=1", Some("code=1"), false),
        ] {
            let p = parse(s).expect("a URL");
            let u = url::Url::parse(s).expect("a URL");
            assert_eq!((p.query(), p.has_fragment()), (query, fragment), "{s}");
            assert_eq!((p.query(), p.has_fragment()), (u.query(), u.fragment().is_some()), "{s}");
        }
    }

    #[test]
    fn the_origin_and_userinfo_are_the_parsers() {
        let p = parse("HTTPS://u@A.example:8443/x").expect("a URL");
        assert_eq!((p.origin.as_str(), p.userinfo, p.port), ("https://a.example:8443", true, Some(8443)));
        assert_eq!(parse("com.example.app:/cb").map(|p| p.origin), Some("null".to_owned()));
        assert_eq!(parse("not a url"), None);
    }
}
