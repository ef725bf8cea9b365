//! Claims for tools: the token claims an operator allowlists (`OAUTH_CLAIMS`), copied into the
//! principal in a typed form. Never logged.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// At most this many rules, so a principal stays small.
pub const MAX_RULES: usize = 16;
/// Longer strings are not copied (an allowlisted claim is a name or an id, not a document).
pub const MAX_TEXT_BYTES: usize = 512;
/// Longer lists are not copied.
pub const MAX_LIST_ITEMS: usize = 64;

/// One allowlisted claim: `name` (the claim itself) or `alias=path`, where `path` is a claim
/// name, or, when no claim has that exact name, a dotted path into objects
/// (`roles=realm_access.roles`). Exact names come first because some are URLs with dots
/// (Auth0's `https://example.com/email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    /// The name tools read the claim by.
    pub alias: String,
    /// The claim's exact name, or a dotted path into objects.
    pub path: String,
}

/// A copied claim's value. Objects, floats and mixed lists are not copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ClaimValue {
    /// A string of at most 512 bytes.
    Text(String),
    /// A boolean.
    Flag(bool),
    /// An integer (64-bit signed).
    Integer(i64),
    /// A list of strings: at most 64, each at most 512 bytes.
    List(Vec<String>),
}

/// The allowlisted claims of one token, by alias.
pub type Claims = BTreeMap<String, ClaimValue>;

impl ClaimRule {
    /// Parses one entry of `OAUTH_CLAIMS`; the error says what is expected.
    pub fn parse(entry: &str) -> Result<ClaimRule, &'static str> {
        let (alias, path) = match entry.split_once('=') {
            Some((a, p)) => (a.trim(), p.trim()),
            None => (entry.trim(), entry.trim()),
        };
        // Any claim name may be its own alias (`cognito:groups`, a URL): whatever has no space.
        if alias.is_empty() || alias.len() > 256 || alias.contains(char::is_whitespace) {
            return Err("each entry is a claim name or alias=claim, without spaces, at most 256 characters");
        }
        if path.is_empty() || path.len() > 256 || path.contains(char::is_whitespace) {
            return Err("each claim is a name or a dotted path without spaces, at most 256 characters");
        }
        Ok(ClaimRule { alias: alias.to_owned(), path: path.to_owned() })
    }

    /// Parses a whole `OAUTH_CLAIMS` list (comma-separated).
    pub fn parse_list(v: &str) -> Result<Vec<ClaimRule>, &'static str> {
        let entries = v.split(',').map(str::trim).filter(|e| !e.is_empty());
        let rules = entries.map(ClaimRule::parse).collect::<Result<Vec<_>, _>>()?;
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err("must list 1 to 16 claims");
        }
        Ok(rules)
    }

    fn find<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        claim_at(claims, &self.path)
    }
}

/// The claim named `path`, or, when no claim has that exact name, the dotted path into objects.
pub fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let first = claims.get(parts.next()?)?;
    parts.try_fold(first, |v, p| v.as_object()?.get(p))
}

/// `email`, `upn_email`, `mail`, `preferred_email`…: any claim whose name says it is an address.
pub fn is_email_claim(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("email") || n == "mail" || n.ends_with("_mail")
}

/// Whether the identity says its address is verified: `email_verified: true`, or the string some
/// providers send (Cognito).
pub fn email_verified(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

impl fmt::Display for ClaimRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.alias, self.path)
    }
}

fn typed(v: &Value) -> Option<ClaimValue> {
    match v {
        Value::String(s) if s.len() <= MAX_TEXT_BYTES => Some(ClaimValue::Text(s.clone())),
        Value::Bool(b) => Some(ClaimValue::Flag(*b)),
        Value::Number(n) => n.as_i64().map(ClaimValue::Integer),
        Value::Array(a) if a.len() <= MAX_LIST_ITEMS => {
            let items: Option<Vec<String>> =
                a.iter().map(|i| i.as_str().filter(|s| s.len() <= MAX_TEXT_BYTES).map(str::to_owned)).collect();
            items.map(ClaimValue::List)
        }
        _ => None,
    }
}

/// The allowlisted claims present in `claims`, each in its typed form.
pub fn copy(rules: &[ClaimRule], claims: &Map<String, Value>) -> Claims {
    rules.iter().filter_map(|r| Some((r.alias.clone(), typed(r.find(claims)?)?))).collect()
}
