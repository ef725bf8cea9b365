//! The token path on Workers: the issuer's keys cached in the isolate (loaded by
//! `edge::key_refresh`), verified tokens reused, and the `/healthz` key probe. The decisions
//! themselves live in `crate::auth`.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use worker::Date;

use super::introspect::introspect;
use super::isolate::Isolate;
use super::key_refresh::{refresh, wait_for_in_flight};
pub(super) use super::state::TokenPath;
use super::webcrypto::verified_claims;

use crate::auth::cache::{JwksAction, JwksHealth, TokenCache};
#[cfg(any(feature = "billing", feature = "auth-server"))]
use crate::auth::id_token::IdTokenValidator;
use crate::auth::introspection::{is_jwt, judge, CACHE_SECS};
use crate::auth::jwk::JwkSet;
#[cfg(any(feature = "billing", feature = "auth-server"))]
use crate::auth::jws::TypRule;
use crate::auth::prm::{bearer_token, missing_scopes, Challenge};
use crate::auth::validator::{AccessTokenValidator, TokenError, ValidatedToken};
use crate::auth::Principal;
use crate::config::Config;

/// One GET (headers and body).
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
pub(super) const MAX_DOC_BYTES: usize = 64 * 1024;

pub(super) fn now_ms() -> u64 {
    Date::now().as_millis()
}

/// Why the token path could not decide: an upstream failure, answered with 503.
#[derive(Debug)]
pub struct Unavailable(pub &'static str);

/// The token path's decision for one request.
/// Why a token was not accepted: the token's own fault (401, named), or the issuer's keys or
/// introspection endpoint could not be reached (503: nothing is said about the token).
pub enum Rejection {
    Token(TokenError),
    Unavailable(Unavailable),
}

impl From<TokenError> for Rejection {
    fn from(e: TokenError) -> Self {
        Rejection::Token(e)
    }
}

impl From<Unavailable> for Rejection {
    fn from(u: Unavailable) -> Self {
        Rejection::Unavailable(u)
    }
}

impl Rejection {
    /// The log code: the token error's, or the outage's.
    #[cfg(any(feature = "billing", feature = "auth-server"))]
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Token(e) => e.code(),
            Rejection::Unavailable(u) => u.0,
        }
    }
}

pub enum Authentication {
    Allowed(Principal),
    Refused(Challenge, &'static str),
    Unavailable(Unavailable),
}

/// `authenticate`, then, on a deployment that is its own authorization server, the refusal of a
/// token issued to a machine client revoked since (`oauth::revoked`).
#[cfg_attr(not(feature = "auth-server"), allow(unused_variables))]
pub async fn authenticate_request(
    env: &worker::Env,
    iso: &Isolate,
    authorization: Option<&str>,
    config: &Config,
    audiences: Vec<String>,
) -> Authentication {
    let outcome = authenticate(iso, authorization, config, audiences).await;
    #[cfg(feature = "auth-server")]
    if let Authentication::Allowed(p) = &outcome {
        if config.auth_server && super::oauth::revoked::is_revoked(env, p).await {
            let description = "the client this token was issued to has been revoked";
            return Authentication::Refused(Challenge::InvalidToken { description }, "client_revoked");
        }
    }
    outcome
}

/// Authenticates one `/mcp` request: the `Authorization` header only, never the query string.
pub async fn authenticate(
    iso: &Isolate,
    authorization: Option<&str>,
    config: &Config,
    audiences: Vec<String>,
) -> Authentication {
    let token = match bearer_token(authorization) {
        Ok(Some(t)) => t,
        Ok(None) => return Authentication::Refused(Challenge::Missing, "token_missing"),
        Err(Challenge::Missing) => return Authentication::Refused(Challenge::Missing, "auth_scheme_unsupported"),
        Err(c) => return Authentication::Refused(c, "invalid_request"),
    };
    let t = &iso.tokens;
    let validator = config.token_validator(audiences);
    let cache_key = verdict_key(token, &validator);
    let generation = || t.jwks.borrow().generation();
    let cached =
        if config.oauth_token_cache { t.tokens.borrow_mut().get(&cache_key, now_ms(), generation()) } else { None };
    let validated = match cached {
        Some(v) => v,
        None => match validate(iso, &validator, token, config).await {
            Ok(v) => {
                if config.oauth_token_cache {
                    t.tokens.borrow_mut().put(cache_key, v.clone(), now_ms(), generation());
                }
                v
            }
            Err(Rejection::Token(e)) => {
                return Authentication::Refused(Challenge::InvalidToken { description: e.description() }, e.code())
            }
            Err(Rejection::Unavailable(u)) => return Authentication::Unavailable(u),
        },
    };
    let missing = missing_scopes(&validated.principal.scopes, &config.oauth_required_scopes);
    if !missing.is_empty() {
        let scopes = config.oauth_required_scopes.clone();
        return Authentication::Refused(Challenge::InsufficientScope { scopes }, "insufficient_scope");
    }
    Authentication::Allowed(validated.principal)
}

/// The verified-token cache's key: the token and every setting that changes its verdict, so a
/// token accepted for one audience is never a hit for another.
fn verdict_key(token: &str, v: &AccessTokenValidator) -> [u8; 32] {
    let leeway = v.leeway_secs.to_string();
    let profile = v.profile.policy();
    let mut policy = vec![v.issuer.as_str(), if v.accept_jwt_typ { "jwt" } else { "at+jwt" }, leeway.as_str()];
    policy.extend(v.audiences.iter().map(String::as_str));
    policy.extend(profile.iter().map(String::as_str));
    TokenCache::key(token, &policy)
}

async fn validate(
    iso: &Isolate,
    validator: &AccessTokenValidator,
    token: &str,
    config: &Config,
) -> Result<ValidatedToken, Rejection> {
    let t = &iso.tokens;
    if let Some(i) = config.introspection.as_ref().filter(|_| !is_jwt(token)) {
        let answer = introspect(i, token).await?;
        let now = now_ms() / 1000;
        // Reused for at most `CACHE_SECS`, so a revocation takes effect soon.
        return match judge(validator, &answer, now) {
            Ok(v) => Ok(ValidatedToken { expires_at: v.expires_at.min(now + CACHE_SECS), ..v }),
            // An answer that is not a JSON object is the endpoint's failure, not the token's.
            Err(TokenError::Malformed(_)) => Err(Unavailable("introspection_answer").into()),
            Err(e) => Err(e.into()),
        };
    }
    #[cfg(feature = "auth-server")]
    if config.auth_server {
        // mKit's own tokens: its keys are derived here, never fetched.
        let keys = super::oauth::local_key_set(&iso.oauth, config);
        let claims = verified_claims(&t.imported, token, &keys, validator.typ_rule()).await?;
        return Ok(validator.check_claims(claims, now_ms() / 1000)?);
    }
    with_keys(t, config, |keys, now| async move {
        validator.check_claims(verified_claims(&t.imported, token, &keys, validator.typ_rule()).await?, now)
    })
    .await
}

/// The ID token of a browser sign-in at the issuer: its claims (with a non-empty `sub`).
#[cfg(any(feature = "billing", feature = "auth-server"))]
pub async fn verify_id_token(
    t: &TokenPath,
    config: &Config,
    token: &str,
    client_id: &str,
    nonce: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Rejection> {
    let v = &IdTokenValidator { issuer: &config.oauth_issuer, client_id, leeway_secs: config.oauth_leeway_secs };
    with_keys(t, config, |keys, now| async move {
        v.check_claims(verified_claims(&t.imported, token, &keys, TypRule::IdToken).await?, now, nonce)
    })
    .await
}

/// Runs `check` against the issuer's keys (fetched first when missing or past their TTL), and
/// once more after a refetch when the token names a key the set lacks.
async fn with_keys<T, F: Future<Output = Result<T, TokenError>>>(
    t: &TokenPath,
    config: &Config,
    check: impl Fn(Rc<JwkSet>, u64) -> F,
) -> Result<T, Rejection> {
    if t.jwks.borrow().before_use(now_ms()) == JwksAction::Fetch {
        refresh(t, config).await;
    } else if t.jwks.borrow().keys(now_ms()).is_none() {
        wait_for_in_flight(t).await;
    }
    let keys = t.jwks.borrow().keys(now_ms()).ok_or(Unavailable("jwks_unavailable"))?;
    match check(keys, now_ms() / 1000).await {
        Err(TokenError::UnknownKey) if t.jwks.borrow().on_unknown_kid(now_ms()) == JwksAction::Fetch => {
            refresh(t, config).await;
            let keys = t.jwks.borrow().keys(now_ms()).ok_or(Unavailable("jwks_unavailable"))?;
            Ok(check(keys, now_ms() / 1000).await?)
        }
        other => Ok(other?),
    }
}

/// `checks.jwks` for `/healthz`: probes the issuer (at most every 30 s, like an unknown kid),
/// so an outage shows even while cached keys are still fresh.
pub async fn health(t: &TokenPath, config: &Config) -> (JwksHealth, Option<u64>) {
    let (unknown, due) = {
        let j = t.jwks.borrow();
        (j.health(now_ms()) == JwksHealth::Unknown, j.on_unknown_kid(now_ms()) == JwksAction::Fetch)
    };
    if unknown || due {
        refresh(t, config).await;
    }
    let j = t.jwks.borrow();
    let now = now_ms();
    (j.health(now), j.fetched_at().map(|at| now.saturating_sub(at) / 1000))
}
