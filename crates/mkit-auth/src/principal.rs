//! The authenticated caller: what a validated access token says about who is calling.

use serde::Serialize;

use super::claims::{ClaimValue, Claims};

/// Who is calling: the validated access token's subject, client and scopes, and the claims the
/// operator lets tools read (`OAUTH_CLAIMS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Principal {
    /// The token's subject (`sub`).
    pub sub: String,
    /// The client the token was issued to, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The granted scopes, as tools name them.
    pub scopes: Vec<String>,
    /// Never serialized with the rest: logs, sessions and stored tasks must not carry personal
    /// data (a task runs without the operator's allowlisted claims).
    #[serde(skip)]
    pub claims: Claims,
}

impl Principal {
    /// A caller with no claims beyond subject, client and scopes.
    pub fn new(sub: impl Into<String>, client_id: Option<String>, scopes: Vec<String>) -> Principal {
        Principal { sub: sub.into(), client_id, scopes, claims: Claims::new() }
    }

    /// Whether the token granted every scope in `needed`.
    pub fn has_scopes(&self, needed: &[&str]) -> bool {
        needed.iter().all(|s| self.scopes.iter().any(|h| h == s))
    }

    /// An allowlisted claim, by its alias.
    pub fn claim(&self, alias: &str) -> Option<&ClaimValue> {
        self.claims.get(alias)
    }

    /// An allowlisted string claim (`email`, `name`, a tenant id…).
    pub fn text(&self, alias: &str) -> Option<&str> {
        match self.claim(alias) {
            Some(ClaimValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// An allowlisted list claim (`groups`, `roles`, `permissions`…); empty when absent. A single
    /// string counts as a list of one, as issuers send either.
    pub fn list(&self, alias: &str) -> Vec<&str> {
        match self.claim(alias) {
            Some(ClaimValue::List(l)) => l.iter().map(String::as_str).collect(),
            Some(ClaimValue::Text(s)) => vec![s.as_str()],
            _ => Vec::new(),
        }
    }
}
