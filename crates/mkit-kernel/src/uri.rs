//! The few URL facts the authorization server decides on, read under the WHATWG URL Standard
//! (by workerd's own parser in the Worker: [`crate::whatwg`]), the rules a browser follows to a
//! redirect URI and workerd's `fetch` follows to a metadata document. A URL is accepted only in
//! the form that standard serializes it to: what a rule checked is then exactly what a browser
//! opens or `fetch` requests, with no second reading in which `\`, `%2e%2e`, `0x7f.1` or `127.1`
//! mean something else (issue #28 items 4 and 6).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::whatwg::{self, Parsed};

/// An absolute URL, parsed and known to serialize to exactly the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// Lowercase (the round trip refuses any other).
    pub scheme: String,
    /// The host as serialized (`example.com`, `127.0.0.1`, `[::1]`); empty when there is none
    /// (`com.example.app:/callback`).
    pub host: String,
    /// The port written in the URL; never the scheme's default (the round trip refuses that).
    pub port: Option<u16>,
    url: Parsed,
}

/// A host as the URL Standard classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain, or a non-special scheme's opaque host.
    Domain(&'a str),
    /// An IPv4 address (a special scheme's host that ends in a number).
    Ipv4(Ipv4Addr),
    /// An IPv6 literal, written in brackets.
    Ipv6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// The class of a host as the standard serializes it: a bracketed IPv6 literal, or, for a
    /// special scheme (the standard's six), a dotted-quad IPv4 (the serializer writes every IPv4
    /// so, and a domain may not end in a number); anything else is a domain. `None` for no host.
    pub fn of_serialized(scheme: &str, host: &'a str) -> Option<Host<'a>> {
        if host.is_empty() {
            return None;
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return inner.parse().ok().map(Host::Ipv6);
        }
        match host.parse::<Ipv4Addr>() {
            Ok(a) if is_special(scheme) => Some(Host::Ipv4(a)),
            _ => Some(Host::Domain(host)),
        }
    }
}

/// The longest URI the server accepts anywhere (a redirect URI, a client id).
pub const MAX_URI_LEN: usize = 2000;

/// Why a string is not a `Uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    /// Empty, too long, not printable ASCII, or not an absolute URL at all.
    Invalid,
    /// A URL, but written otherwise than the WHATWG serialization it parses to (the `String`):
    /// a backslash, a dot segment (`..`, `%2e%2e`), an uppercase or numeric-shorthand host, a
    /// default port written out, an empty path where one is implied, characters left unescaped…
    NotNormalized(String),
}

impl UriError {
    /// The reason in words, for an error description.
    pub fn describe(&self) -> String {
        match self {
            UriError::Invalid => "not an absolute URI".into(),
            UriError::NotNormalized(n) => {
                format!("not written as browsers and fetch read it (that is {n:?}); write it in that form")
            }
        }
    }
}

impl Uri {
    /// `None` unless `s` is an absolute URL of printable ASCII within `MAX_URI_LEN` that
    /// round-trips unchanged through WHATWG parsing and serialization.
    pub fn parse(s: &str) -> Option<Uri> {
        Self::parse_strict(s).ok()
    }

    /// `parse`, with the reason for a refusal.
    pub fn parse_strict(s: &str) -> Result<Uri, UriError> {
        if s.is_empty() || s.len() > MAX_URI_LEN || !s.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(UriError::Invalid);
        }
        let url = whatwg::parse(s).ok_or(UriError::Invalid)?;
        if url.href != s {
            return Err(UriError::NotNormalized(url.href));
        }
        Ok(Uri { scheme: url.scheme.clone(), host: url.host.clone(), port: url.port, url })
    }

    /// The text, which is both what was parsed and the URL's serialization.
    pub fn as_str(&self) -> &str {
        &self.url.href
    }

    /// The host as the URL Standard classifies it: a domain, an IPv4 or an IPv6 address.
    pub fn parsed_host(&self) -> Option<Host<'_>> {
        Host::of_serialized(&self.scheme, &self.host)
    }

    /// The path, percent-encoded as WHATWG serialises it.
    pub fn path(&self) -> &str {
        &self.url.path
    }

    /// The query without its `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.url.query()
    }

    /// Whether the URL carries a user name or a password.
    pub fn has_userinfo(&self) -> bool {
        self.url.userinfo
    }

    /// A fragment, even an empty one (`…/cb#`).
    pub fn has_fragment(&self) -> bool {
        self.url.has_fragment()
    }

    /// A query, even an empty one (`…/cb?`).
    pub fn has_query(&self) -> bool {
        self.url.query().is_some()
    }

    /// A loopback host of an `http`/`https` URL: `localhost`, an IPv4 in 127.0.0.0/8, or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        is_http(&self.scheme)
            && match self.parsed_host() {
                Some(Host::Domain(d)) => d == "localhost",
                Some(Host::Ipv4(a)) => a.is_loopback(),
                Some(Host::Ipv6(a)) => a.is_loopback(),
                None => false,
            }
    }

    /// A host that names the server's own or a private network by address or by name, as fetch
    /// will resolve it. See `is_private`.
    pub fn is_private_host(&self) -> bool {
        self.parsed_host().is_none_or(|h| is_private(&h))
    }
}

/// The URL Standard's special schemes, whose hosts are parsed as domains or IP addresses.
fn is_special(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp" | "file")
}

/// The special schemes a loopback rule looks at.
fn is_http(scheme: &str) -> bool {
    scheme == "https" || scheme == "http"
}

/// A host no stranger may make the server fetch from: every IPv6 literal (a public metadata
/// document needs none, and IPv4-mapped, NAT64, 6to4 and Teredo forms would each carry a private
/// IPv4 to judge); an IPv4 in any IANA special-purpose range (RFC 6890 and its registry); and
/// `localhost`, `*.localhost`, `*.local`, `*.internal`, `*.home.arpa` or a single-label name,
/// with or without trailing dots.
pub fn is_private(host: &Host<'_>) -> bool {
    match host {
        Host::Ipv6(_) => true,
        Host::Ipv4(a) => is_special_purpose_v4(*a),
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            !d.contains('.')
                || d == "home.arpa"
                || [".localhost", ".local", ".internal", ".home.arpa"].iter().any(|s| d.ends_with(s))
        }
    }
}

/// IANA's IPv4 Special-Purpose Address Registry, plus multicast (224/4), reserved (240/4) and the
/// limited broadcast: any address that is not plainly a public unicast one.
fn is_special_purpose_v4(a: Ipv4Addr) -> bool {
    let [x, y, z, _] = a.octets();
    x == 0 // "this network" (0/8)
        || x == 10 // private (10/8)
        || (x == 100 && (64..128).contains(&y)) // shared address space (100.64/10)
        || x == 127 // loopback
        || (x == 169 && y == 254) // link local
        || (x == 172 && (16..32).contains(&y)) // private (172.16/12)
        || (x == 192 && y == 0 && (z == 0 || z == 2)) // IETF protocol assignments, TEST-NET-1
        || (x == 192 && y == 88 && z == 99) // 6to4 relay anycast
        || (x == 192 && y == 168) // private (192.168/16)
        || (x == 198 && (y == 18 || y == 19)) // benchmarking (198.18/15)
        || (x == 198 && y == 51 && z == 100) // TEST-NET-2
        || (x == 203 && y == 0 && z == 113) // TEST-NET-3
        || x >= 224 // multicast (224/4), reserved (240/4), limited broadcast
}

/// A configured endpoint (an issuer, a JWKS or introspection URL, a pay-page origin): `https://…`,
/// or `http://` on a loopback host for local development.
pub fn validate_url(v: &str) -> Result<(), &'static str> {
    let rest = if let Some(rest) = v.strip_prefix("https://") {
        rest
    } else if let Some(rest) = v.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(
            host,
            |(h, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            },
        );
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err("must be an https URL (http only for localhost)");
        }
        rest
    } else {
        return Err("must be an https URL (http only for localhost)");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || rest.contains(char::is_whitespace) || rest.contains('#') {
        return Err("must be an absolute URL with a host and no fragment");
    }
    Ok(())
}
