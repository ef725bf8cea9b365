//! An OAuth 2.1 authorization server's pure core, for the optional mode in which mKit issues its
//! own access tokens and federates sign-in to the operator's OpenID Connect provider (so MCP
//! clients can register and connect even where the provider offers no registration).
//!
//! What is here: PKCE (RFC 7636), redirect-URI rules and matching (RFC 6749 §3.1.2, RFC 8252),
//! clients from Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document) and
//! Dynamic Client Registration (RFC 7591), server metadata (RFC 8414), authorization codes and
//! rotating refresh-token families (OAuth 2.1 §4.3.1), and access tokens (RFC 9068) that
//! `auth::validator` accepts unchanged. Pure: no I/O, no clock, no randomness — callers pass
//! `now` and random bytes. Knows nothing of MCP or billing.

#![deny(missing_docs)]

pub mod authorize;
pub mod client;
pub mod enterprise;
pub mod grant;
pub mod machine;
pub mod machine_store;
pub mod metadata;
pub mod pkce;
pub mod redirect;
pub mod scope_policy;
pub mod store;
pub mod token;
/// URL facts as WHATWG fetch reads them (`mkit_kernel::uri`).
pub use mkit_kernel::uri;

#[cfg(test)]
mod enterprise_tests;
#[cfg(test)]
mod machine_tests;
#[cfg(test)]
mod uri_tests;

use serde_json::{json, Value};

/// An OAuth error response (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2, RFC 7009, RFC 8707):
/// the standard code, a description for the developer, and the HTTP status it travels with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The standard error code (`invalid_grant`…).
    pub code: &'static str,
    /// The `error_description`: what went wrong, for the developer.
    pub description: String,
    /// The HTTP status the error travels with.
    pub status: u16,
}

impl OAuthError {
    fn new(code: &'static str, status: u16, description: impl Into<String>) -> Self {
        OAuthError { code, description: description.into(), status }
    }
    /// 400 (RFC 6749 §4.1.2.1, §5.2): a parameter is missing, repeated or malformed.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", 400, d)
    }
    /// 401 at the token endpoint (RFC 6749 §5.2): the client is unknown or failed to authenticate.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", 401, d)
    }
    /// 400 at the token endpoint (RFC 6749 §5.2): the code, refresh token or PKCE verifier does not hold.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", 400, d)
    }
    /// 400 at the token endpoint (RFC 6749 §5.2): a `grant_type` this server does not support.
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", 400, d)
    }
    /// RFC 6749 §4.1.2.1: a `response_type` other than `code`.
    pub fn unsupported_response_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_response_type", 400, d)
    }
    /// 400 (RFC 6749 §4.1.2.1, §5.2): a requested scope is invalid or unknown.
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", 400, d)
    }
    /// RFC 8707 §2: a `resource` this server does not issue tokens for.
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new("invalid_target", 400, d)
    }
    /// 400 at registration (RFC 7591 §3.2.2): a redirect URI is not acceptable.
    pub fn invalid_redirect_uri(d: impl Into<String>) -> Self {
        Self::new("invalid_redirect_uri", 400, d)
    }
    /// 400 at registration (RFC 7591 §3.2.2): a client metadata field is invalid.
    pub fn invalid_client_metadata(d: impl Into<String>) -> Self {
        Self::new("invalid_client_metadata", 400, d)
    }
    /// 403 (RFC 6749 §4.1.2.1): the user or the server refused the request.
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new("access_denied", 403, d)
    }

    /// The JSON body: `error` and `error_description`.
    pub fn body(&self) -> Value {
        json!({ "error": self.code, "error_description": self.description })
    }
}

#[cfg(test)]
mod tests;
