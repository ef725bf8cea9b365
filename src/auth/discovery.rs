//! Finding the issuer's JWKS (RFC 8414, then OpenID Connect discovery).

use serde_json::Value;

use super::json::parse_strict;

/// RFC 8414 §3.1 inserts the well-known path before the issuer's path; OIDC appends it.
pub fn discovery_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let (origin, path) = match trimmed.split_once("://").and_then(|(s, rest)| rest.find('/').map(|i| (s, rest, i))) {
        Some((scheme, rest, i)) => (format!("{scheme}://{}", &rest[..i]), rest[i..].to_owned()),
        None => (trimmed.to_owned(), String::new()),
    };
    vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{trimmed}/.well-known/openid-configuration"),
    ]
}

/// Why the issuer's metadata gave no usable `jwks_uri`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryError {
    Invalid,
    IssuerMismatch,
    NoJwksUri,
    JwksUriNotHttps,
}

impl DiscoveryError {
    pub fn code(self) -> &'static str {
        match self {
            DiscoveryError::Invalid => "discovery_invalid",
            DiscoveryError::IssuerMismatch => "discovery_issuer_mismatch",
            DiscoveryError::NoJwksUri => "discovery_no_jwks_uri",
            DiscoveryError::JwksUriNotHttps => "discovery_jwks_uri_not_https",
        }
    }
}

pub fn jwks_uri_from_metadata(body: &[u8], issuer: &str) -> Result<String, DiscoveryError> {
    let doc = parse_strict(body).map_err(|_| DiscoveryError::Invalid)?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(DiscoveryError::IssuerMismatch);
    }
    let uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or(DiscoveryError::NoJwksUri)?;
    if crate::config::validate_url(uri).is_err() {
        return Err(DiscoveryError::JwksUriNotHttps);
    }
    Ok(uri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls() {
        assert_eq!(
            discovery_urls("https://auth.example.com/"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            discovery_urls("https://auth.example.com/tenant/v2"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant/v2",
                "https://auth.example.com/tenant/v2/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn metadata_must_name_our_issuer() {
        let doc = br#"{"issuer":"https://a.example/","jwks_uri":"https://a.example/jwks"}"#;
        assert_eq!(jwks_uri_from_metadata(doc, "https://a.example/"), Ok("https://a.example/jwks".into()));
        assert_eq!(jwks_uri_from_metadata(doc, "https://a.example"), Err(DiscoveryError::IssuerMismatch));
        let http = br#"{"issuer":"https://a.example/","jwks_uri":"http://a.example/jwks"}"#;
        assert_eq!(jwks_uri_from_metadata(http, "https://a.example/"), Err(DiscoveryError::JwksUriNotHttps));
        let sneaky = br#"{"issuer":"https://a.example/","jwks_uri":"http://127.0.0.1.evil.example/jwks"}"#;
        assert_eq!(jwks_uri_from_metadata(sneaky, "https://a.example/"), Err(DiscoveryError::JwksUriNotHttps));
        assert!(jwks_uri_from_metadata(br#"{"issuer":"https://a.example/"}"#, "https://a.example/").is_err());
        assert!(
            jwks_uri_from_metadata(br#"{"issuer":"x","issuer":"https://a.example/"}"#, "https://a.example/").is_err()
        );
    }
}
