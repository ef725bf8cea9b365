//! Enterprise-Managed Authorization: the MCP extension
//! `io.modelcontextprotocol/enterprise-managed-authorization` (SEP-990), an application of the
//! Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant).
//! An enterprise identity provider the operator listed (`MKIT_ENTERPRISE_IDPS`) decides which of
//! its people may use this server from which client, and says so in an ID-JAG; the client
//! redeems it here with the JWT bearer grant (RFC 7523 §2.1) for mKit's own access token. Pure:
//! the edge checks the signature against the provider's keys and keeps the replay cache.

use serde_json::{Map, Value};

use crate::machine::LEEWAY_SECS;
use crate::OAuthError;

/// The extension's identifier, announced in `initialize` and `server/discover`.
pub const EXTENSION: &str = "io.modelcontextprotocol/enterprise-managed-authorization";
/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The grant profile metadata names (draft-ietf-oauth-identity-assertion-authz-grant §7.2).
pub const ID_JAG_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// The longest an ID-JAG may live past now; providers issue them for minutes (the extension's
/// example: 300 s).
pub const MAX_GRANT_LIFETIME_SECS: u64 = 3600;
const MAX_TEXT_BYTES: usize = 1024;

/// What a verified ID-JAG grants, once its claims held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityGrant {
    /// The provider that issued it (`iss`).
    pub issuer: String,
    /// The person at that provider (`sub`).
    pub subject: String,
    /// The scopes the provider allowed (`scope`), if it named any.
    pub scope: Option<String>,
    /// Its `jti`, for the replay cache.
    pub jti: String,
    /// When it expires.
    pub exp: u64,
}

/// The provider an ID-JAG claims to come from (`iss`), read before its signature is checked, only
/// to choose the keys; it must be one the operator listed.
pub fn grant_issuer<'a>(claims_iss: Option<&str>, listed: &'a [String]) -> Result<&'a str, OAuthError> {
    let iss = claims_iss.ok_or_else(|| OAuthError::invalid_grant("the assertion names no issuer (iss)"))?;
    listed.iter().find(|l| l.as_str() == iss).map(String::as_str).ok_or_else(|| {
        OAuthError::invalid_grant(format!(
            "{iss} is not an identity provider this server trusts (MKIT_ENTERPRISE_IDPS)"
        ))
    })
}

/// The extension's §5.1 on an ID-JAG whose signature (and `typ`, `oauth-id-jag+jwt`) verified:
/// RFC 7521 §5.2, `aud` is this authorization server's issuer identifier, `resource` is this MCP
/// server, `client_id` is the client that authenticated the request, and `iss`, `sub`, `jti`,
/// `exp` and `iat` are present and sound.
pub fn check_grant(
    claims: &Map<String, Value>,
    issuer: &str,
    resource: &str,
    client_id: &str,
    now: u64,
) -> Result<IdentityGrant, OAuthError> {
    let refuse = |why: &str| Err(OAuthError::invalid_grant(format!("the identity assertion is refused: {why}")));
    let text = |k: &str| claims.get(k).and_then(Value::as_str).filter(|v| !v.is_empty() && v.len() <= MAX_TEXT_BYTES);
    let time = |k: &str| claims.get(k).and_then(Value::as_u64);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.len() == 1 && a[0] == issuer,
        _ => false,
    };
    if !audience_ok {
        return refuse("aud must be this authorization server's issuer identifier");
    }
    if text("resource") != Some(resource) {
        return refuse("resource must be this MCP server");
    }
    if text("client_id") != Some(client_id) {
        return refuse("client_id must be the client that authenticated this request");
    }
    let (Some(iss), Some(sub), Some(jti)) = (text("iss"), text("sub"), text("jti")) else {
        return refuse("iss, sub and jti are required");
    };
    let (Some(exp), Some(iat)) = (time("exp"), time("iat")) else { return refuse("exp and iat are required") };
    if exp + LEEWAY_SECS <= now {
        return refuse("it has expired");
    }
    if exp > now + MAX_GRANT_LIFETIME_SECS + LEEWAY_SECS || iat > now + LEEWAY_SECS {
        return refuse("exp or iat is too far ahead");
    }
    let scope = claims.get("scope").and_then(Value::as_str).map(str::to_owned);
    Ok(IdentityGrant { issuer: iss.to_owned(), subject: sub.to_owned(), scope, jti: jti.to_owned(), exp })
}

/// The `sub` of mKit's token for the provider's person: the provider's `sub` when the provider is
/// the one people sign in at (`OAUTH_ISSUER`), so one person is one subject whichever way they
/// come; else qualified by the provider, `<issuer>#<sub>`, so two providers' people never share a
/// ledger.
pub fn token_subject(grant: &IdentityGrant, signin_issuer: &str) -> String {
    if grant.issuer == signin_issuer {
        grant.subject.clone()
    } else {
        format!("{}#{}", grant.issuer, grant.subject)
    }
}

/// The scopes to grant: what the operator's policy gives this person (`eligible`, from
/// `MKIT_AUTH_OPEN_SCOPES` and `MKIT_AUTH_SCOPE_RULES` on the grant's claims), narrowed by the
/// provider's `scope`, by the client's registration, and by the request's `scope`. Nothing widens.
pub fn granted_scope(eligible: &[String], grant: Option<&str>, client: &[String], requested: Option<&str>) -> String {
    let within = |list: Option<&str>, s: &str| list.is_none_or(|l| l.split_whitespace().any(|x| x == s));
    let mut out: Vec<&str> = Vec::new();
    for s in eligible {
        let s = s.as_str();
        if within(grant, s) && client.iter().any(|c| c == s) && within(requested, s) && !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" ")
}
