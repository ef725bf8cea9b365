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
    /// The metadata is not well-formed JSON (a repeated key included).
    Invalid,
    /// The metadata's `issuer` is not exactly the configured issuer (RFC 8414 §3.3).
    IssuerMismatch,
    /// No `jwks_uri` string.
    NoJwksUri,
    /// The `jwks_uri` is not `https://` (or `http://` on a loopback host, for local development).
    JwksUriNotHttps,
    /// No https `authorization_endpoint` and `token_endpoint` (needed to sign a browser in).
    NoEndpoints,
}

impl DiscoveryError {
    /// A stable code for logs.
    pub fn code(self) -> &'static str {
        match self {
            DiscoveryError::Invalid => "discovery_invalid",
            DiscoveryError::IssuerMismatch => "discovery_issuer_mismatch",
            DiscoveryError::NoJwksUri => "discovery_no_jwks_uri",
            DiscoveryError::JwksUriNotHttps => "discovery_jwks_uri_not_https",
            DiscoveryError::NoEndpoints => "discovery_no_endpoints",
        }
    }
}

/// The `jwks_uri` of the metadata `body`, which must name `issuer` exactly.
pub fn jwks_uri_from_metadata(body: &[u8], issuer: &str) -> Result<String, DiscoveryError> {
    let doc = parse_strict(body).map_err(|_| DiscoveryError::Invalid)?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(DiscoveryError::IssuerMismatch);
    }
    let uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or(DiscoveryError::NoJwksUri)?;
    if mkit_kernel::uri::validate_url(uri).is_err() {
        return Err(DiscoveryError::JwksUriNotHttps);
    }
    Ok(uri.to_owned())
}

/// Where a browser signs in and where its code is exchanged (RFC 8414 / OIDC Discovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerEndpoints {
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the authorization code is exchanged for tokens.
    pub token_endpoint: String,
}

/// The endpoints of the metadata `body`, which must name `issuer` exactly.
pub fn endpoints_from_metadata(body: &[u8], issuer: &str) -> Result<IssuerEndpoints, DiscoveryError> {
    let doc = parse_strict(body).map_err(|_| DiscoveryError::Invalid)?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(DiscoveryError::IssuerMismatch);
    }
    let url = |k: &str| {
        let u = doc.get(k).and_then(Value::as_str).filter(|u| mkit_kernel::uri::validate_url(u).is_ok());
        u.map(str::to_owned).ok_or(DiscoveryError::NoEndpoints)
    };
    Ok(IssuerEndpoints {
        authorization_endpoint: url("authorization_endpoint")?,
        token_endpoint: url("token_endpoint")?,
    })
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

    #[test]
    fn endpoints_for_a_browser_sign_in() {
        let doc = br#"{"issuer":"https://a.example/","authorization_endpoint":"https://a.example/auth","token_endpoint":"https://a.example/token"}"#;
        assert_eq!(
            endpoints_from_metadata(doc, "https://a.example/"),
            Ok(IssuerEndpoints {
                authorization_endpoint: "https://a.example/auth".into(),
                token_endpoint: "https://a.example/token".into()
            })
        );
        let plain = br#"{"issuer":"https://a.example/","authorization_endpoint":"http://a.example/auth","token_endpoint":"https://a.example/token"}"#;
        assert_eq!(endpoints_from_metadata(plain, "https://a.example/"), Err(DiscoveryError::NoEndpoints));
        assert_eq!(endpoints_from_metadata(doc, "https://b.example/"), Err(DiscoveryError::IssuerMismatch));
    }
}
