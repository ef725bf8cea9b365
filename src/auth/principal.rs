//! The authenticated caller: what a validated access token says about who is calling.

use serde::Serialize;

/// Who is calling: the validated access token's subject, client and scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
}

impl Principal {
    /// Whether the token granted every scope in `needed`.
    pub fn has_scopes(&self, needed: &[&str]) -> bool {
        needed.iter().all(|s| self.scopes.iter().any(|h| h == s))
    }
}
