//! Opaque access tokens: RFC 7662 introspection answers judged like a JWT's claims. The request
//! itself is sent by `edge::introspect`; this module decides what an answer means.

use std::fmt;

use serde_json::{Map, Value};

use super::claims;
use super::json::parse_strict;
use super::profile::client_id;
use super::validator::{
    check_audience, check_issuer, check_times, subject, AccessTokenValidator, TokenError, ValidatedToken,
};
use super::Principal;

/// A positive answer is reused for at most this long, so a revoked token stops working soon.
pub const CACHE_SECS: u64 = 60;
/// The largest introspection answer read.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// The introspection endpoint and the client mKit authenticates as there.
#[derive(Clone, PartialEq, Eq)]
pub struct Introspection {
    /// The RFC 7662 introspection endpoint.
    pub endpoint: String,
    /// The client mKit authenticates as.
    pub client_id: String,
    /// That client's secret; `Debug` leaves it out.
    pub client_secret: String,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection").field("endpoint", &self.endpoint).field("client_id", &self.client_id).finish()
    }
}

/// Whether a token is a compact JWS (validated locally) rather than an opaque string.
pub fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The verdict on an introspection answer (RFC 7662 §2.2), the checks in a JWT's order:
/// `active`, issuer (required, as in a JWT), audience, times, then what kind of token it is.
pub fn judge(v: &AccessTokenValidator, answer: &[u8], now_secs: u64) -> Result<ValidatedToken, TokenError> {
    let claims = match parse_strict(answer) {
        Ok(Value::Object(m)) => m,
        _ => return Err(TokenError::Malformed("introspection answer")),
    };
    if claims.get("active") != Some(&Value::Bool(true)) {
        return Err(TokenError::Inactive);
    }
    // Like a JWT's: `iss` must be there and name `OAUTH_ISSUER` (#28 item 11). RFC 7662 makes it
    // optional, but only `iss` tells this issuer's token from another's at an endpoint that
    // answers for several; an answer without one is refused as a missing claim.
    if !claims.contains_key("iss") {
        return Err(TokenError::MissingClaim("iss"));
    }
    check_issuer(&claims, &v.issuer)?;
    let bearer = is_bearer(&claims)?;
    match claims.get("aud") {
        // Without `aud`, only an access token (never a refresh token) of a listed client.
        None if bearer && v.profile.accepts_without_audience(&claims) => {}
        _ => check_audience(&claims, &v.audiences)?,
    }
    let expires_at = check_times(&claims, now_secs, v.leeway_secs)?;
    if claims.contains_key("cnf") {
        return Err(TokenError::SenderConstrained);
    }
    let principal = Principal {
        sub: subject(&claims)?.to_owned(),
        client_id: client_id(&claims).map(str::to_owned),
        scopes: v.profile.scopes(&claims),
        claims: claims::copy(&v.profile.claims, &claims),
    };
    Ok(ValidatedToken { principal, expires_at })
}

/// `token_type`, when given, says bearer access token; an answer without it cannot tell a
/// refresh token apart (oidc-provider leaves it out for those).
fn is_bearer(claims: &Map<String, Value>) -> Result<bool, TokenError> {
    match claims.get("token_type") {
        None => Ok(false),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") || t == "access_token" => Ok(true),
        Some(_) => Err(TokenError::WrongType),
    }
}
