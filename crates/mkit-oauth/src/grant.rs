//! Authorization codes and refresh tokens: what is stored for each, and the rules for redeeming
//! them, in the order the token endpoint applies them. Secrets (codes, refresh tokens) are stored
//! only as SHA-256 digests (`secret_hash`), so a copy of the store grants nothing.

use serde_json::{Map, Value};

use super::{pkce, OAuthError};

/// How long a code may wait for its exchange (OAuth 2.1 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL_SECS: u64 = 300;
/// How long an unused refresh token lives; each use rotates it and starts a new one.
pub const REFRESH_TTL_SECS: u64 = 30 * 86_400;
/// The longest a family (one sign-in and all its rotations) is kept: the ceiling of
/// `MKIT_AUTH_SIGNIN_DAYS` and the sweep's age for families.
pub const FAMILY_MAX_SECS: u64 = 90 * 86_400;

/// The stored digest of a code or refresh token (hex SHA-256).
pub fn secret_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    mkit_kernel::mac::hex(&Sha256::digest(secret.as_bytes()))
}

/// What a user's consent produced, carried from the authorization to every token.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The client the user consented to.
    pub client_id: String,
    /// The upstream identity's subject (or the configured claim), which becomes `sub`.
    pub sub: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The resource (RFC 8707) the tokens are for: their `aud`.
    pub resource: String,
    /// Upstream claims carried into access tokens (`MKIT_AS_CLAIMS`).
    pub claims: Map<String, Value>,
}

/// A stored authorization code.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    /// What the code grants.
    pub grant: Grant,
    /// The authorization request's redirect URI, which the token request must repeat.
    pub redirect_uri: String,
    /// The PKCE S256 challenge the `code_verifier` must answer.
    pub code_challenge: String,
    /// When the code expires (seconds since the epoch).
    pub expires_at: u64,
    /// Set on first redemption; a second one is an attack or a bug (OAuth 2.1 §4.1.3).
    pub used: bool,
}

/// The token request's parameters that concern the code.
pub struct CodeExchange<'a> {
    /// The client presenting the code.
    pub client_id: &'a str,
    /// `redirect_uri`: must equal the authorization request's.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier` (RFC 7636 §4.5).
    pub code_verifier: Option<&'a str>,
    /// `resource` (RFC 8707): when given, must equal the authorization request's.
    pub resource: Option<&'a str>,
}

/// Why a code was refused, and whether the tokens issued from it must now be revoked.
#[derive(Debug, PartialEq)]
pub enum CodeRefusal {
    /// Refuse the code (`invalid_grant`, or `invalid_target` for another resource).
    Invalid(OAuthError),
    /// The code was already redeemed: refuse, and revoke what the first redemption issued.
    Replayed(OAuthError),
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.6 and RFC 8707: the checks a code must pass, in order.
pub fn redeem_code(code: Option<&Code>, req: &CodeExchange<'_>, now: u64) -> Result<Grant, CodeRefusal> {
    let invalid = |d: &str| Err(CodeRefusal::Invalid(OAuthError::invalid_grant(d)));
    let Some(code) = code else { return invalid("the code is unknown, expired or already used") };
    if code.used {
        return Err(CodeRefusal::Replayed(OAuthError::invalid_grant("the code is unknown, expired or already used")));
    }
    if now >= code.expires_at {
        return invalid("the code is unknown, expired or already used");
    }
    if code.grant.client_id != req.client_id {
        return invalid("the code was issued to another client");
    }
    if req.redirect_uri != Some(code.redirect_uri.as_str()) {
        return invalid("redirect_uri differs from the authorization request's");
    }
    pkce::verify(req.code_verifier, &code.code_challenge).map_err(CodeRefusal::Invalid)?;
    if req.resource.is_some_and(|r| r != code.grant.resource) {
        return Err(CodeRefusal::Invalid(OAuthError::invalid_target(
            "resource differs from the authorization request's",
        )));
    }
    Ok(code.grant.clone())
}

/// A stored refresh token: one link of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Refresh {
    /// The family's id: one sign-in and all its rotations.
    pub family: String,
    /// What the token grants.
    pub grant: Grant,
    /// When this token expires unused (seconds since the epoch).
    pub expires_at: u64,
    /// When the whole family expires (seconds since the epoch).
    pub family_expires_at: u64,
    /// When the user signed in at the upstream provider and consented (the family's start).
    pub signed_in_at: u64,
    /// Replaced by a newer token of the family; presenting it again means it was stolen.
    pub rotated: bool,
    /// The family was revoked: a replayed code, a reused token, or an RFC 7009 revocation.
    pub family_revoked: bool,
}

/// What the token endpoint does with a presented refresh token.
#[derive(Debug, PartialEq)]
pub enum RefreshOutcome {
    /// Issue a new access token and a new refresh token in the same family; mark this one rotated.
    Rotate(Grant),
    /// Refuse, and revoke the whole family: a rotated token came back (OAuth 2.1 §4.3.1).
    RevokeFamily(OAuthError),
    /// Refuse, and leave the family as it is.
    Refuse(OAuthError),
}

/// The token request's parameters that concern a refresh, and the sign-in age the server allows.
pub struct RefreshRequest<'a> {
    /// The client presenting the token.
    pub client_id: &'a str,
    /// `resource` (RFC 8707): when given, must equal the grant's.
    pub resource: Option<&'a str>,
    /// `MKIT_AUTH_SIGNIN_DAYS` in seconds: a family older than this refreshes no more, so a user
    /// removed at the provider, or a changed scope rule, takes effect within it.
    pub signin_max_secs: u64,
}

/// OAuth 2.1 §4.3 with rotation for public clients, and RFC 8707 for `resource`.
pub fn use_refresh(token: Option<&Refresh>, req: &RefreshRequest<'_>, now: u64) -> RefreshOutcome {
    let RefreshRequest { client_id, resource, signin_max_secs } = *req;
    let refuse = |d: &str| RefreshOutcome::Refuse(OAuthError::invalid_grant(d));
    let Some(t) = token else { return refuse("the refresh token is unknown, expired or revoked") };
    if t.family_revoked {
        return refuse("the refresh token is unknown, expired or revoked");
    }
    if t.rotated {
        return RefreshOutcome::RevokeFamily(OAuthError::invalid_grant(
            "this refresh token was already used: every token of its sign-in is now revoked; sign in again",
        ));
    }
    if now >= t.expires_at || now >= t.family_expires_at {
        return refuse("the refresh token is unknown, expired or revoked");
    }
    if now >= t.signed_in_at.saturating_add(signin_max_secs) {
        return refuse("the sign-in is older than this server allows: run the authorization flow again");
    }
    if t.grant.client_id != client_id {
        return refuse("the refresh token was issued to another client");
    }
    if resource.is_some_and(|r| r != t.grant.resource) {
        return RefreshOutcome::Refuse(OAuthError::invalid_target("resource differs from the one the sign-in granted"));
    }
    RefreshOutcome::Rotate(t.grant.clone())
}
