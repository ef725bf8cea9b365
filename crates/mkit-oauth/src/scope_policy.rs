//! Who gets which scope when mKit is the authorization server. A client's request only narrows;
//! what a user may be granted is the deployment's open scopes (`MKIT_AUTH_OPEN_SCOPES`, by default
//! the scopes every `/mcp` call needs) plus those a rule gives them on their upstream identity
//! (`MKIT_AUTH_SCOPE_RULES`: `scope=claim=value`). A scope no rule gives is never granted, so a
//! tool behind `admin` is not everyone's because everyone can sign in at the provider.

use serde_json::{Map, Value};

use mkit_auth::claims::{claim_at, email_verified, is_email_claim};

/// At most this many rules (each is checked on every sign-in).
pub const MAX_RULES: usize = 64;

/// One rule: the upstream identity whose `claim` is `value` (a string equal to it, or a list
/// holding it) may be granted `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRule {
    /// The scope the rule gives.
    pub scope: String,
    /// The upstream identity's claim: its exact name, or a dotted path into objects.
    pub claim: String,
    /// The value the claim must equal, or a list claim must hold.
    pub value: String,
}

impl ScopeRule {
    /// Parses `scope=claim=value`; the value may itself hold `=`.
    pub fn parse(entry: &str) -> Result<ScopeRule, &'static str> {
        let mut parts = entry.trim().splitn(3, '=');
        let (Some(scope), Some(claim), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("each rule is scope=claim=value (e.g. admin=groups=mcp-admins)");
        };
        let bad = |s: &str| s.is_empty() || s.len() > 256 || s.contains(char::is_whitespace);
        if bad(scope) || bad(claim) || value.is_empty() || value.len() > 512 {
            return Err("each rule is scope=claim=value without spaces in the scope or claim, at most 256 characters");
        }
        Ok(ScopeRule { scope: scope.to_owned(), claim: claim.to_owned(), value: value.trim().to_owned() })
    }

    /// Parses a whole `MKIT_AUTH_SCOPE_RULES` list (comma-separated).
    pub fn parse_list(v: &str) -> Result<Vec<ScopeRule>, &'static str> {
        let rules =
            v.split(',').filter(|e| !e.trim().is_empty()).map(ScopeRule::parse).collect::<Result<Vec<_>, _>>()?;
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err("must list 1 to 64 rules");
        }
        Ok(rules)
    }

    /// Whether the identity's claims satisfy this rule. An address counts only once verified, as
    /// for the subject (`web::signin::subject_of`).
    fn holds(&self, id_token: &Map<String, Value>, trust_unverified_email: bool) -> bool {
        if is_email_claim(&self.claim) && !trust_unverified_email && !email_verified(id_token) {
            return false;
        }
        match claim_at(id_token, &self.claim) {
            Some(Value::String(s)) => *s == self.value,
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(self.value.as_str())),
            Some(Value::Bool(b)) => self.value == b.to_string(),
            Some(Value::Number(n)) => self.value == n.to_string(),
            _ => false,
        }
    }
}

/// The scopes the rules give this upstream identity, decided once at sign-in (the session keeps
/// the answer, not the claims: a list of groups can be long).
pub fn eligible_scopes(
    rules: &[ScopeRule],
    id_token: &Map<String, Value>,
    trust_unverified_email: bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rules.iter().filter(|r| r.holds(id_token, trust_unverified_email)) {
        if !out.contains(&r.scope) {
            out.push(r.scope.clone());
        }
    }
    out
}

/// Of the scopes a request was granted so far (`authorize::granted_scope`), those this user may
/// have: open to every signed-in user, or given by a rule. Space-separated, in the request's order.
pub fn grant(requested: &str, open: &[String], eligible: &[String]) -> String {
    let allowed = |s: &&str| open.iter().chain(eligible).any(|a| a == s);
    requested.split(' ').filter(|s| !s.is_empty()).filter(allowed).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_user_without_the_claim_is_not_granted_the_scope() {
        let rules = ScopeRule::parse_list("admin=groups=mcp-admins").expect("rules");
        let user = claims(json!({ "sub": "u1", "groups": ["staff"] }));
        let admin = claims(json!({ "sub": "u2", "groups": ["staff", "mcp-admins"] }));
        let open = vec!["mcp".to_owned()];
        assert_eq!(grant("mcp admin", &open, &eligible_scopes(&rules, &user, false)), "mcp");
        assert_eq!(grant("mcp admin", &open, &eligible_scopes(&rules, &admin, false)), "mcp admin");
        assert_eq!(grant("admin", &[], &[]), "", "nothing open, no rule: nothing");
    }

    #[test]
    fn provider_recipes_match_their_claim_shapes() {
        let rules = ScopeRule::parse_list(
            "reports=hd=example.com, admin=realm_access.roles=mcp-admin, \
             admin=https://example.com/roles=admin, admin=cognito:groups=admins, admin=sub=alice",
        )
        .expect("rules");
        let google = claims(json!({ "hd": "example.com" }));
        let keycloak = claims(json!({ "realm_access": { "roles": ["mcp-admin"] } }));
        let auth0 = claims(json!({ "https://example.com/roles": ["admin"] }));
        let cognito = claims(json!({ "cognito:groups": ["admins"] }));
        let listed = claims(json!({ "sub": "alice" }));
        assert_eq!(eligible_scopes(&rules, &google, false), ["reports"]);
        for c in [keycloak, auth0, cognito, listed] {
            assert_eq!(eligible_scopes(&rules, &c, false), ["admin"], "{c:?}");
        }
        assert!(eligible_scopes(&rules, &claims(json!({ "hd": "example.com.evil" })), false).is_empty());
    }

    #[test]
    fn a_rule_on_an_address_needs_it_verified() {
        let rules = ScopeRule::parse_list("admin=email=boss@example.com").expect("rules");
        let unverified = claims(json!({ "email": "boss@example.com" }));
        let verified = claims(json!({ "email": "boss@example.com", "email_verified": true }));
        assert!(eligible_scopes(&rules, &unverified, false).is_empty());
        assert_eq!(eligible_scopes(&rules, &unverified, true), ["admin"]);
        assert_eq!(eligible_scopes(&rules, &verified, false), ["admin"]);
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in ["admin", "admin=groups", "=groups=x", "admin==x", "ad min=groups=x", "admin=groups="] {
            assert!(ScopeRule::parse_list(bad).is_err(), "{bad}");
        }
        let r = ScopeRule::parse("admin=groups=a=b").expect("a value may hold =");
        assert_eq!(r.value, "a=b");
    }
}
