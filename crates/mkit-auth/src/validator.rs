//! `AccessTokenValidator`: JWT access tokens (RFC 9068) checked the way RFC 8725 asks.

use serde_json::{Map, Value};

use super::claims;
#[cfg(not(target_arch = "wasm32"))]
use super::jwk::JwkSet;
#[cfg(not(target_arch = "wasm32"))]
use super::jws::verified_claims;
use super::jws::TypRule;
use super::profile::{client_id, TokenProfile};
use super::Principal;

/// Longer tokens are refused before anything is decoded.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The most clock skew allowed, whatever leeway is configured.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than `MAX_TOKEN_BYTES`.
    TooLarge,
    /// Not a well-formed token (or introspection answer); names the part at fault.
    Malformed(&'static str),
    /// An `alg` mKit does not accept (`none` and `HS*` included).
    UnsupportedAlg,
    /// A `typ`, or an introspection answer's `token_type`, that this kind of token may not carry.
    WrongType,
    /// A `crit` header: mKit understands no JWS extension (RFC 7515 §4.1.11).
    CriticalHeader,
    /// No key with the token's `kid` (or, without a `kid`, none fit): refetching the JWKS may help.
    UnknownKey,
    /// A key with that `kid` exists but cannot verify this `alg`.
    KeyMismatch,
    /// No fitting key verified the signature.
    BadSignature,
    /// `exp` has passed, beyond the leeway.
    Expired,
    /// `nbf` is still ahead, beyond the leeway.
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` names no accepted audience (or an ID token's `azp` is not our client).
    WrongAudience,
    /// A required claim (named) is absent; for `nonce`, also one that differs from the one sent.
    MissingClaim(&'static str),
    /// An OpenID Connect ID token (`nonce`, `at_hash` or `c_hash`): proof of a sign-in for a
    /// client, never an access token for this resource.
    IdToken,
    /// Bound to a key (`cnf`, RFC 9449 / RFC 8705): mKit takes bearer tokens only, and a bound
    /// token without its proof may be a stolen one.
    SenderConstrained,
    /// Introspection said the token is not active (revoked, expired or unknown).
    Inactive,
}

impl TokenError {
    /// The short `error_description` of the bearer challenge: says what, never echoes input.
    pub fn description(&self) -> &'static str {
        match self {
            TokenError::TooLarge => "token too large",
            TokenError::Malformed(_) => "malformed token",
            TokenError::UnsupportedAlg => "unsupported signature algorithm",
            TokenError::WrongType => "token type must be at+jwt",
            TokenError::CriticalHeader => "unsupported critical header",
            TokenError::UnknownKey => "unknown signing key",
            TokenError::KeyMismatch => "signing key does not fit the algorithm",
            TokenError::BadSignature => "invalid signature",
            TokenError::Expired => "token expired",
            TokenError::NotYetValid => "token not yet valid",
            TokenError::IssuedInFuture => "token issued in the future",
            TokenError::WrongIssuer => "wrong issuer",
            TokenError::WrongAudience => "token not issued for this resource",
            TokenError::MissingClaim(_) => "required claim missing",
            TokenError::IdToken => "an ID token is not an access token",
            TokenError::SenderConstrained => "sender-constrained tokens are not accepted",
            TokenError::Inactive => "token is not active",
        }
    }

    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::TooLarge => "token_too_large",
            TokenError::Malformed(_) => "token_malformed",
            TokenError::UnsupportedAlg => "token_alg",
            TokenError::WrongType => "token_typ",
            TokenError::CriticalHeader => "token_crit",
            TokenError::UnknownKey => "token_unknown_kid",
            TokenError::KeyMismatch => "token_key_mismatch",
            TokenError::BadSignature => "token_signature",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_nbf",
            TokenError::IssuedInFuture => "token_iat",
            TokenError::WrongIssuer => "token_iss",
            TokenError::WrongAudience => "token_aud",
            TokenError::MissingClaim(_) => "token_claim_missing",
            TokenError::IdToken => "token_is_id_token",
            TokenError::SenderConstrained => "token_cnf",
            TokenError::Inactive => "token_inactive",
        }
    }
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedToken {
    /// Who the token says is calling.
    pub principal: Principal,
    /// `exp`, in seconds since the epoch.
    pub expires_at: u64,
}

/// The rules an access token must meet for this resource: issuer, audiences, clock leeway, `typ`
/// and the issuer's profile.
#[derive(Debug, Clone)]
pub struct AccessTokenValidator {
    /// The expected `iss` (`OAUTH_ISSUER`), compared exactly.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, at most `MAX_LEEWAY_SECS`.
    pub leeway_secs: u64,
    /// Accept `typ: JWT` (or none) as well as `at+jwt`, for issuers that do not send RFC 9068 types.
    pub accept_jwt_typ: bool,
    /// Where this issuer's tokens differ from RFC 9068.
    pub profile: TokenProfile,
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_f64().filter(|n| n.is_finite()).map(Some).ok_or(TokenError::Malformed(name)),
    }
}

/// `iss` equals `issuer` exactly.
pub fn check_issuer(claims: &Map<String, Value>, issuer: &str) -> Result<(), TokenError> {
    (claims.get("iss").and_then(Value::as_str) == Some(issuer)).then_some(()).ok_or(TokenError::WrongIssuer)
}

/// `aud` (a string or an array) contains one of `accepted`.
pub fn check_audience(claims: &Map<String, Value>, accepted: &[String]) -> Result<(), TokenError> {
    let ok = match claims.get("aud") {
        Some(Value::String(a)) => accepted.iter().any(|x| x == a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| accepted.iter().any(|x| x == a)),
        _ => false,
    };
    ok.then_some(()).ok_or(TokenError::WrongAudience)
}

/// `aud` as `check_audience`; a token without one only when the profile lets its client stand
/// in (`OAUTH_CLIENT_IDS`). A token with a wrong `aud` is never rescued by its client.
fn check_access_audience(claims: &Map<String, Value>, accepted: &[String], p: &TokenProfile) -> Result<(), TokenError> {
    match claims.get("aud") {
        None if p.accepts_without_audience(claims) => Ok(()),
        _ => check_audience(claims, accepted),
    }
}

/// `exp` (required), `nbf` and `iat`, each within the leeway (at most `MAX_LEEWAY_SECS`);
/// returns `exp`.
pub fn check_times(claims: &Map<String, Value>, now_secs: u64, leeway_secs: u64) -> Result<u64, TokenError> {
    let leeway = leeway_secs.min(MAX_LEEWAY_SECS) as f64;
    let now = now_secs as f64;
    let exp = numeric_date(claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    if now >= exp + leeway {
        return Err(TokenError::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| now + leeway < nbf) {
        return Err(TokenError::NotYetValid);
    }
    if numeric_date(claims, "iat")?.is_some_and(|iat| now + leeway < iat) {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(exp.max(0.0) as u64)
}

/// A non-empty string `sub`.
pub fn subject(claims: &Map<String, Value>) -> Result<&str, TokenError> {
    claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or(TokenError::MissingClaim("sub"))
}

impl AccessTokenValidator {
    /// The signature, then the claims.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn validate(&self, token: &str, keys: &JwkSet, now_secs: u64) -> Result<ValidatedToken, TokenError> {
        let claims = verified_claims(token, keys, self.typ_rule())?;
        self.check_claims(claims, now_secs)
    }

    /// What an access token's header must say of its type.
    pub fn typ_rule(&self) -> TypRule {
        TypRule::AccessToken { accept_jwt: self.accept_jwt_typ }
    }

    /// The claims of a token whose signature verified, in RFC 9068 §4's order.
    pub fn check_claims(&self, claims: Map<String, Value>, now_secs: u64) -> Result<ValidatedToken, TokenError> {
        check_issuer(&claims, &self.issuer)?;
        check_access_audience(&claims, &self.audiences, &self.profile)?;
        let expires_at = check_times(&claims, now_secs, self.leeway_secs)?;
        if is_id_token(&claims) {
            return Err(TokenError::IdToken);
        }
        if claims.contains_key("cnf") {
            return Err(TokenError::SenderConstrained);
        }
        let sub = subject(&claims)?.to_owned();
        let principal = Principal {
            sub,
            client_id: client_id(&claims).map(str::to_owned),
            scopes: self.profile.scopes(&claims),
            claims: claims::copy(&self.profile.claims, &claims),
        };
        Ok(ValidatedToken { principal, expires_at })
    }
}

/// RFC 9068 §2.2 access tokens carry none of `nonce`, `at_hash`, `c_hash`; an ID token does
/// (OIDC Core §2, §3.1.3.6). Cognito marks its tokens `token_use` and Keycloak a `typ` claim:
/// their ID tokens say so.
fn is_id_token(claims: &Map<String, Value>) -> bool {
    let says =
        |name: &str, kind: &str| claims.get(name).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(kind));
    ["nonce", "at_hash", "c_hash"].iter().any(|c| claims.contains_key(*c))
        || says("token_use", "id")
        || says("typ", "id")
}
