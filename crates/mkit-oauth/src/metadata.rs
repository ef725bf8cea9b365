//! RFC 8414 authorization server metadata, as MCP clients read it: PKCE S256 advertised (clients
//! must refuse a server without it), Client ID Metadata Documents advertised, registration only
//! when it is on, and the client credentials grant of machine clients (`crate::machine`).

use serde_json::{json, Value};

/// The JWS algorithms a client assertion may use: those mKit verifies (`mkit_auth::jwk::Alg`).
pub const ASSERTION_ALGS: [&str; 8] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"];

/// The metadata document for an authorization server whose issuer is `issuer` (an origin, no
/// trailing slash), with its endpoints under that origin.
pub fn document(issuer: &str, scopes: &[String], registration: bool, enterprise: bool) -> Value {
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "jwks_uri": format!("{issuer}/oauth/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        // Public clients (`none`); machine clients (`crate::machine`) by secret or JWT assertion.
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": scopes,
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
    });
    if registration {
        doc["registration_endpoint"] = format!("{issuer}/oauth/register").into();
    }
    // Enterprise-managed authorization: ID-JAGs redeemed with the JWT bearer grant.
    if enterprise {
        doc["grant_types_supported"] =
            json!(["authorization_code", "refresh_token", "client_credentials", crate::enterprise::JWT_BEARER]);
        doc["authorization_grant_profiles_supported"] = json!([crate::enterprise::ID_JAG_PROFILE]);
    }
    doc
}
