//! `application/x-www-form-urlencoded`, for OAuth token requests and Stripe's API (whose nested
//! parameters are spelled `a[b][0][c]=v`, as its own libraries send them).

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k=v&k=v`, each side percent-encoded.
pub fn encode(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v))).collect::<Vec<_>>().join("&")
}

/// The value of `name` in a query string (`a=1&b=2`), percent-decoded; `+` is a space.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).and_then(|(_, v)| decode(v))
}

fn decode(v: &str) -> Option<String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // Two hex digits exactly (`from_str_radix` alone would take "+A").
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_a_form_and_decodes_queries() {
        let pairs =
            vec![("line_items[0][price]".to_owned(), "price_1".to_owned()), ("a b".to_owned(), "ü&=".to_owned())];
        assert_eq!(encode(&pairs), "line_items%5B0%5D%5Bprice%5D=price_1&a%20b=%C3%BC%26%3D");
        assert_eq!(query_param("t=abc.def&x=1", "t").as_deref(), Some("abc.def"));
        assert_eq!(query_param("state=a%2Bb+c", "state").as_deref(), Some("a+b c"));
        assert_eq!(query_param("t=%zz", "t"), None);
        assert_eq!(query_param("t=%4", "t"), None);
        assert_eq!(query_param("t=%+A", "t"), None, "two hex digits, nothing else");
        assert_eq!(query_param("", "t"), None);
    }
}
