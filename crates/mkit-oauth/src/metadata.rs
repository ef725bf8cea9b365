//! RFC 8414 authorization server metadata, as MCP clients read it: PKCE S256 advertised (clients
//! must refuse a server without it), Client ID Metadata Documents advertised, registration only
//! when it is on.

use serde_json::{json, Value};

/// The metadata document for an authorization server whose issuer is `issuer` (an origin, no
/// trailing slash), with its endpoints under that origin.
pub fn document(issuer: &str, scopes: &[String], registration: bool) -> Value {
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "jwks_uri": format!("{issuer}/oauth/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": scopes,
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
    });
    if registration {
        doc["registration_endpoint"] = format!("{issuer}/oauth/register").into();
    }
    doc
}
