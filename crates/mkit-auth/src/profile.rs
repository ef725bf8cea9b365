//! How an issuer shapes its access tokens: where scopes live, how clients name them, and what
//! stands in for `aud` when an issuer leaves it out. The defaults fit RFC 9068.

use serde_json::{Map, Value};

use super::claims::ClaimRule;

/// Claims that name the client a token was issued to, in the order tried: RFC 9068 and RFC 8693
/// `client_id`, OIDC `azp`, Entra v1 `appid`, Okta `cid`.
const CLIENT_ID_CLAIMS: [&str; 4] = ["client_id", "azp", "appid", "cid"];

/// How an issuer's access tokens carry scopes, clients and claims; the default reads `scope` and `scp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenProfile {
    /// Claims that hold granted scopes (`OAUTH_SCOPE_CLAIMS`); each a space-separated string or
    /// an array of strings, all of them merged.
    pub scope_claims: Vec<String>,
    /// `OAUTH_SCOPE_PREFIX`: clients ask for `<prefix>x`, tokens carry `x` (Entra's `api://…/`).
    pub scope_prefix: Option<String>,
    /// `OAUTH_CLIENT_IDS`: a token without `aud` is for this resource when its client is one of
    /// these (Cognito access tokens carry `client_id`, never `aud`).
    pub client_ids: Vec<String>,
    /// `OAUTH_CLAIMS`: what tools may read of the token.
    pub claims: Vec<ClaimRule>,
}

impl Default for TokenProfile {
    fn default() -> Self {
        TokenProfile {
            scope_claims: vec!["scope".into(), "scp".into()],
            scope_prefix: None,
            client_ids: Vec::new(),
            claims: Vec::new(),
        }
    }
}

impl TokenProfile {
    /// Granted scopes as tools name them: the prefix stripped, duplicates dropped.
    pub fn scopes(&self, claims: &Map<String, Value>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in &self.scope_claims {
            let words: Vec<&str> = match claims.get(name) {
                Some(Value::String(s)) => s.split_whitespace().collect(),
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for w in words {
                let w = self.scope_prefix.as_deref().and_then(|p| w.strip_prefix(p)).unwrap_or(w);
                if !w.is_empty() && !out.iter().any(|s| s == w) {
                    out.push(w.to_owned());
                }
            }
        }
        out
    }

    /// A scope as a client must ask for it (in metadata and challenges).
    pub fn advertised(&self, scope: &str) -> String {
        format!("{}{scope}", self.scope_prefix.as_deref().unwrap_or_default())
    }

    /// `advertised` for a list.
    pub fn advertised_all(&self, scopes: &[String]) -> Vec<String> {
        scopes.iter().map(|s| self.advertised(s)).collect()
    }

    /// Whether a token without `aud` may stand for this resource: only with `OAUTH_CLIENT_IDS`
    /// set and its client listed.
    pub fn accepts_without_audience(&self, claims: &Map<String, Value>) -> bool {
        client_id(claims).is_some_and(|c| self.client_ids.iter().any(|x| x == c))
    }

    /// The settings that change a token's verdict, for the verified-token cache key.
    pub fn policy(&self) -> Vec<String> {
        let mut p = vec![self.scope_claims.join(","), self.scope_prefix.clone().unwrap_or_default()];
        p.push(self.client_ids.join(","));
        p.extend(self.claims.iter().map(ClaimRule::to_string));
        p
    }
}

/// The client the token was issued to, from the first of `CLIENT_ID_CLAIMS` present.
pub fn client_id(claims: &Map<String, Value>) -> Option<&str> {
    CLIENT_ID_CLAIMS.iter().find_map(|c| claims.get(*c)).and_then(Value::as_str)
}
