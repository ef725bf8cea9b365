//! The few URL facts the authorization server decides on, parsed strictly by hand (RFC 3986's
//! generic syntax): a `url` crate would add to the Worker's size for what is a handful of rules.

/// An absolute URI split into what the rules look at. Scheme and host are lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: String,
    /// Empty when the URI has no authority (`com.example.app:/callback`).
    pub host: String,
    pub port: Option<u16>,
    /// Path and query, as written (`/cb?x=1`).
    pub rest: String,
    pub has_userinfo: bool,
    pub has_fragment: bool,
    pub has_query: bool,
}

/// The longest URI the server accepts anywhere (a redirect URI, a client id).
pub const MAX_URI_LEN: usize = 2000;

impl Uri {
    /// `None` for anything that is not an absolute URI of printable ASCII within `MAX_URI_LEN`.
    pub fn parse(s: &str) -> Option<Uri> {
        if s.is_empty() || s.len() > MAX_URI_LEN || !s.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return None;
        }
        let (scheme, after) = s.split_once(':')?;
        let scheme_ok = scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok {
            return None;
        }
        let has_fragment = after.contains('#');
        let after = after.split('#').next().unwrap_or_default();
        let (authority, rest) = match after.strip_prefix("//") {
            Some(a) => a.find(['/', '?']).map_or((a, ""), |i| a.split_at(i)),
            None => ("", after),
        };
        let has_userinfo = authority.contains('@');
        let hostport = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = split_port(hostport)?;
        Some(Uri {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
            rest: rest.to_owned(),
            has_userinfo,
            has_fragment,
            has_query: rest.contains('?'),
        })
    }

    pub fn path(&self) -> &str {
        self.rest.split('?').next().unwrap_or_default()
    }

    /// A loopback host: `localhost`, an IPv4 in 127.0.0.0/8, or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host == "[::1]" || ipv4(&self.host).is_some_and(|o| o[0] == 127)
    }

    /// A host that names the server's own or a private network by address or by name: loopback,
    /// an IP literal in a private, link-local, shared or unspecified range, `*.localhost`,
    /// `*.local`, `*.internal`, or any IPv6 literal (none is needed for a public document).
    pub fn is_private_host(&self) -> bool {
        let h = self.host.as_str();
        if self.is_loopback()
            || h.starts_with('[')
            || h.ends_with(".localhost")
            || h.ends_with(".local")
            || h.ends_with(".internal")
        {
            return true;
        }
        match ipv4(h) {
            Some([a, b, ..]) => {
                a == 0
                    || a == 10
                    || a == 127
                    || (a == 100 && (64..128).contains(&b))
                    || (a == 169 && b == 254)
                    || (a == 172 && (16..32).contains(&b))
                    || (a == 192 && b == 168)
                    || a >= 224
            }
            None => !h.contains('.') || h.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        }
    }
}

fn split_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        let (h, p) = hostport.split_at(end + 1);
        (h, p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// The four octets of a dotted-decimal IPv4 literal.
fn ipv4(h: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = h.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}
