//! RFC 9728 Protected Resource Metadata and RFC 6750 bearer challenges.

use serde::Serialize;

/// The well-known path of Protected Resource Metadata (RFC 9728 §3).
pub const PRM_PATH: &str = "/.well-known/oauth-protected-resource";

/// `resource`: `MCP_RESOURCE`, else this origin + `/mcp`. The origin is the request URL's own,
/// never `X-Forwarded-*`.
pub fn resource(configured: Option<&str>, request_origin: &str) -> String {
    configured.map_or_else(|| format!("{request_origin}/mcp"), str::to_owned)
}

/// The metadata URL for `resource` (RFC 9728 §3.1: the well-known path goes before the path).
pub fn metadata_url(resource: &str) -> String {
    match resource.split_once("://").map(|(scheme, rest)| {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        (scheme, host, path)
    }) {
        Some((scheme, host, path)) if !path.is_empty() => format!("{scheme}://{host}{PRM_PATH}/{path}"),
        Some((scheme, host, _)) => format!("{scheme}://{host}{PRM_PATH}"),
        None => PRM_PATH.to_owned(),
    }
}

/// The Protected Resource Metadata document (RFC 9728 §2) this resource serves.
#[derive(Debug, Serialize, PartialEq)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier (see `resource`).
    pub resource: String,
    /// The issuers whose access tokens the resource accepts.
    pub authorization_servers: Vec<String>,
    /// The scopes a client may ask for, spelled as it must ask.
    pub scopes_supported: Vec<String>,
    /// How the token may be sent (RFC 6750 §2).
    pub bearer_methods_supported: Vec<&'static str>,
    /// A human-readable name for the resource.
    pub resource_name: &'static str,
}

/// Why a request is refused, and how to say so in `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// No token: 401 without an error code (RFC 6750 §3.1).
    Missing,
    /// A token that failed validation: 401 `invalid_token`.
    InvalidToken {
        /// What failed, for `error_description`.
        description: &'static str,
    },
    /// A valid token without the scopes needed: 403 `insufficient_scope`.
    InsufficientScope {
        /// The scopes needed, for the challenge's `scope`.
        scopes: Vec<String>,
    },
    /// A malformed `Authorization` header: 400 `invalid_request`.
    InvalidRequest {
        /// What is wrong, for `error_description`.
        description: &'static str,
    },
}

impl Challenge {
    /// The HTTP status the challenge travels with.
    pub fn status(&self) -> u16 {
        match self {
            Challenge::Missing | Challenge::InvalidToken { .. } => 401,
            Challenge::InsufficientScope { .. } => 403,
            Challenge::InvalidRequest { .. } => 400,
        }
    }

    /// The RFC 6750 error code; none for a request without credentials (§3.1).
    pub fn error(&self) -> Option<&'static str> {
        match self {
            Challenge::Missing => None,
            Challenge::InvalidToken { .. } => Some("invalid_token"),
            Challenge::InsufficientScope { .. } => Some("insufficient_scope"),
            Challenge::InvalidRequest { .. } => Some("invalid_request"),
        }
    }

    /// The `error_description`, when there is one.
    pub fn description(&self) -> Option<&'static str> {
        match self {
            Challenge::InvalidToken { description } | Challenge::InvalidRequest { description } => Some(description),
            Challenge::Missing | Challenge::InsufficientScope { .. } => None,
        }
    }

    /// The header value. `required_scopes` (`OAUTH_REQUIRED_SCOPES`) is named on 401s so a
    /// client knows what to ask for.
    pub fn www_authenticate(&self, metadata_url: &str, required_scopes: &[String]) -> String {
        let mut parts: Vec<String> = Vec::new();
        let scope = |s: &[String]| format!("scope=\"{}\"", s.join(" "));
        if let Some(error) = self.error() {
            parts.push(format!("error=\"{error}\""));
        }
        if let Some(description) = self.description() {
            parts.push(format!("error_description=\"{description}\""));
        }
        match self {
            Challenge::InsufficientScope { scopes } => parts.push(scope(scopes)),
            _ if !required_scopes.is_empty() => parts.push(scope(required_scopes)),
            _ => {}
        }
        parts.push(format!("resource_metadata=\"{metadata_url}\""));
        format!("Bearer {}", parts.join(", "))
    }
}

/// The bearer token of an `Authorization` header (RFC 6750 §2.1; scheme case-insensitive).
/// Another scheme (`Basic …`) is a request without bearer credentials: RFC 6750 §3.1 answers it
/// with a bare challenge (`Challenge::Missing`), which also starts a client's OAuth discovery. A
/// malformed bearer value is `invalid_request`.
pub fn bearer_token(header: Option<&str>) -> Result<Option<&str>, Challenge> {
    let Some(h) = header else { return Ok(None) };
    let h = h.trim();
    let (scheme, token) = h.split_once(' ').unwrap_or((h, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Challenge::Missing);
    }
    let token = token.trim();
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err(Challenge::InvalidRequest { description: "malformed bearer token" });
    }
    Ok(Some(token))
}

/// Scopes of `needed` the caller lacks.
pub fn missing_scopes(granted: &[String], needed: &[String]) -> Vec<String> {
    needed.iter().filter(|s| !granted.contains(s)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_and_metadata_urls() {
        assert_eq!(resource(None, "https://a.example"), "https://a.example/mcp");
        assert_eq!(resource(Some("https://b.example/mcp"), "https://a.example"), "https://b.example/mcp");
        assert_eq!(metadata_url("https://b.example/mcp"), "https://b.example/.well-known/oauth-protected-resource/mcp");
        assert_eq!(metadata_url("https://b.example"), "https://b.example/.well-known/oauth-protected-resource");
        assert_eq!(
            metadata_url("http://127.0.0.1:8787/mcp"),
            "http://127.0.0.1:8787/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn challenges() {
        let m = "https://r.example/.well-known/oauth-protected-resource/mcp";
        assert_eq!(Challenge::Missing.www_authenticate(m, &[]), format!("Bearer resource_metadata=\"{m}\""));
        assert_eq!(Challenge::Missing.status(), 401);
        let c = Challenge::InvalidToken { description: "token expired" };
        assert_eq!(
            c.www_authenticate(m, &["mcp".into()]),
            format!("Bearer error=\"invalid_token\", error_description=\"token expired\", scope=\"mcp\", resource_metadata=\"{m}\"")
        );
        let c = Challenge::InsufficientScope { scopes: vec!["a".into(), "b".into()] };
        assert_eq!(c.status(), 403);
        assert_eq!(
            c.www_authenticate(m, &["mcp".into()]),
            format!("Bearer error=\"insufficient_scope\", scope=\"a b\", resource_metadata=\"{m}\"")
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(None), Ok(None));
        assert_eq!(bearer_token(Some("Bearer abc.def-_")), Ok(Some("abc.def-_")));
        assert_eq!(bearer_token(Some("bearer  abc ")), Ok(Some("abc")));
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b"] {
            assert!(matches!(bearer_token(Some(bad)), Err(Challenge::InvalidRequest { .. })), "{bad}");
        }
        // Another scheme is no bearer credential at all: a bare 401 challenge (RFC 6750 §3.1).
        for other in ["Basic dXNlcg==", "Token x", "Digest", ""] {
            assert_eq!(bearer_token(Some(other)), Err(Challenge::Missing), "{other}");
        }
    }

    #[test]
    fn scope_arithmetic() {
        let g = vec!["a".to_string(), "b".to_string()];
        assert!(missing_scopes(&g, &["a".into()]).is_empty());
        assert_eq!(missing_scopes(&g, &["a".into(), "c".into()]), ["c"]);
    }
}
