//! The token path on Workers: fetches and caches the issuer's keys (isolate memory and the
//! Cache API), shares one in-flight fetch between concurrent requests, and reuses verified
//! tokens. The decisions themselves live in `crate::auth`.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{select, Either, FutureExt, LocalBoxFuture, Shared};
use worker::{Date, Delay};

use super::fetch::{get_document, FetchError};
use super::jwks_copy;

use crate::auth::cache::{JwksAction, JwksCache, JwksHealth, TokenCache, JWKS_TTL_MS};
use crate::auth::discovery::{discovery_urls, jwks_uri_from_metadata, DiscoveryError};
use crate::auth::id_token::IdTokenValidator;
use crate::auth::jwk::JwkSet;
use crate::auth::prm::{bearer_token, missing_scopes, Challenge};
use crate::auth::validator::{AccessTokenValidator, TokenError, ValidatedToken};
use crate::auth::Principal;
use crate::config::Config;

/// One GET (headers and body).
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole key load: discovery (up to two GETs) and the JWKS.
const LOAD_DEADLINE: Duration = Duration::from_secs(12);
pub(super) const MAX_DOC_BYTES: usize = 64 * 1024;
const TOKEN_CACHE_ENTRIES: usize = 1024;

/// A shared key refresh and when (ms) it started.
type Refresh = (u64, Shared<LocalBoxFuture<'static, ()>>);

thread_local! {
    static JWKS: RefCell<JwksCache> = RefCell::new(JwksCache::default());
    static TOKENS: RefCell<TokenCache> = RefCell::new(TokenCache::new(TOKEN_CACHE_ENTRIES));
    /// The JWKS URL discovered from the issuer's metadata: (issuer, URL, when), kept as long as keys.
    static DISCOVERED: RefCell<Option<(String, String, u64)>> = const { RefCell::new(None) };
    static IN_FLIGHT: RefCell<Option<Refresh>> = const { RefCell::new(None) };
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

/// Why the issuer's keys could not be loaded. Each has a stable code for logs and `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLoadError {
    Discovery(DiscoveryError),
    Fetch(FetchError),
    JwksInvalid,
}

impl KeyLoadError {
    pub fn code(self) -> &'static str {
        match self {
            KeyLoadError::Discovery(e) => e.code(),
            KeyLoadError::Fetch(e) => e.code(),
            KeyLoadError::JwksInvalid => "jwks_invalid",
        }
    }
}

impl From<FetchError> for KeyLoadError {
    fn from(e: FetchError) -> Self {
        KeyLoadError::Fetch(e)
    }
}

/// Why the token path could not decide: an upstream failure, answered with 503.
#[derive(Debug)]
pub struct Unavailable(pub &'static str);

/// The token path's decision for one request.
pub enum Authentication {
    Allowed(Principal),
    Refused(Challenge, &'static str),
    Unavailable(Unavailable),
}

/// Authenticates one `/mcp` request: the `Authorization` header only, never the query string.
pub async fn authenticate(authorization: Option<&str>, config: &Config, audiences: Vec<String>) -> Authentication {
    let token = match bearer_token(authorization) {
        Ok(Some(t)) => t,
        Ok(None) => return Authentication::Refused(Challenge::Missing, "token_missing"),
        Err(Challenge::Missing) => return Authentication::Refused(Challenge::Missing, "auth_scheme_unsupported"),
        Err(c) => return Authentication::Refused(c, "invalid_request"),
    };
    let validator = AccessTokenValidator {
        issuer: config.oauth_issuer.clone(),
        audiences,
        leeway_secs: config.oauth_leeway_secs,
        accept_jwt_typ: config.oauth_accept_jwt_typ,
    };
    let cache_key = verdict_key(token, &validator);
    let generation = || JWKS.with(|j| j.borrow().generation());
    let cached = if config.oauth_token_cache {
        TOKENS.with(|t| t.borrow_mut().get(&cache_key, now_ms(), generation()))
    } else {
        None
    };
    let validated = match cached {
        Some(v) => v,
        None => match validate(&validator, token, config).await {
            Ok(v) => {
                if config.oauth_token_cache {
                    TOKENS.with(|t| t.borrow_mut().put(cache_key, v.clone(), now_ms(), generation()));
                }
                v
            }
            Err(Ok(e)) => {
                return Authentication::Refused(Challenge::InvalidToken { description: e.description() }, e.code())
            }
            Err(Err(u)) => return Authentication::Unavailable(u),
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
    let mut policy = vec![v.issuer.as_str(), if v.accept_jwt_typ { "jwt" } else { "at+jwt" }, leeway.as_str()];
    policy.extend(v.audiences.iter().map(String::as_str));
    TokenCache::key(token, &policy)
}

async fn validate(
    validator: &AccessTokenValidator,
    token: &str,
    config: &Config,
) -> Result<ValidatedToken, Result<TokenError, Unavailable>> {
    with_keys(config, |keys, now| validator.validate(token, keys, now)).await
}

/// The ID token of a browser sign-in at the issuer: the signed-in `sub`.
pub async fn verify_id_token(
    config: &Config,
    token: &str,
    client_id: &str,
    nonce: &str,
) -> Result<String, Result<TokenError, Unavailable>> {
    let v = IdTokenValidator { issuer: &config.oauth_issuer, client_id, leeway_secs: config.oauth_leeway_secs };
    with_keys(config, |keys, now| v.validate(token, keys, now, nonce)).await
}

/// Runs `check` against the issuer's keys (fetched first when missing or past their TTL), and
/// once more after a refetch when the token names a key the set lacks.
async fn with_keys<T>(
    config: &Config,
    check: impl Fn(&JwkSet, u64) -> Result<T, TokenError>,
) -> Result<T, Result<TokenError, Unavailable>> {
    if JWKS.with(|j| j.borrow().before_use(now_ms())) == JwksAction::Fetch {
        refresh(config).await;
    }
    let keys = JWKS.with(|j| j.borrow().keys(now_ms())).ok_or(Err(Unavailable("jwks_unavailable")))?;
    match check(&keys, now_ms() / 1000) {
        Err(TokenError::UnknownKey) if JWKS.with(|j| j.borrow().on_unknown_kid(now_ms())) == JwksAction::Fetch => {
            refresh(config).await;
            let keys = JWKS.with(|j| j.borrow().keys(now_ms())).ok_or(Err(Unavailable("jwks_unavailable")))?;
            check(&keys, now_ms() / 1000).map_err(Ok)
        }
        other => other.map_err(Ok),
    }
}

/// Refreshes the keys once, however many requests ask at the same time. Nobody waits past
/// `LOAD_DEADLINE` from the refresh's start, and a refresh older than that is abandoned and
/// started anew (it may belong to a request that was cancelled, whose I/O never completes).
pub async fn refresh(config: &Config) {
    let now = now_ms();
    let (started, shared) = IN_FLIGHT.with(|f| {
        let mut slot = f.borrow_mut();
        match slot.as_ref() {
            Some((t, fut)) if now.saturating_sub(*t) < LOAD_DEADLINE.as_millis() as u64 => (*t, fut.clone()),
            _ => {
                let fut = start_refresh(config.clone(), now);
                *slot = Some((now, fut.clone()));
                (now, fut)
            }
        }
    });
    let waited = now_ms().saturating_sub(started);
    let remaining = Duration::from_millis((LOAD_DEADLINE.as_millis() as u64).saturating_sub(waited));
    let _ = select(shared, Box::pin(Delay::from(remaining))).await;
}

fn start_refresh(config: Config, started: u64) -> Shared<LocalBoxFuture<'static, ()>> {
    async move {
        JWKS.with(|j| j.borrow_mut().begin_fetch(now_ms()));
        let loaded = match select(Box::pin(load_keys(&config)), Box::pin(Delay::from(LOAD_DEADLINE))).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => Err(KeyLoadError::Fetch(FetchError::Timeout)),
        };
        match loaded {
            Ok((keys, None)) => JWKS.with(|j| j.borrow_mut().store(now_ms(), keys)),
            Ok((keys, Some(t))) => JWKS.with(|j| j.borrow_mut().seed(t, keys)),
            Err(e) => {
                worker::console_warn!("{{\"event\":\"jwks_fetch_failed\",\"error\":\"{}\"}}", e.code());
                JWKS.with(|j| j.borrow_mut().fetch_failed(now_ms()));
            }
        }
        // Clear the slot only if it is still this refresh's.
        IN_FLIGHT.with(|f| {
            let mut slot = f.borrow_mut();
            if slot.as_ref().is_some_and(|(t, _)| *t == started) {
                *slot = None;
            }
        });
    }
    .boxed_local()
    .shared()
}

/// The keys: from the Cache API (with the time that copy was fetched) when this isolate has
/// none and a fresh shared copy exists, else from the issuer (`None`).
async fn load_keys(config: &Config) -> Result<(JwkSet, Option<u64>), KeyLoadError> {
    let uri = jwks_uri(config).await?;
    let cold = JWKS.with(|j| j.borrow().fetched_at().is_none());
    if cold {
        if let Some((body, fetched_at)) = jwks_copy::read(config, &uri, now_ms()).await {
            if let Ok(keys) = JwkSet::parse(&body) {
                return Ok((keys, Some(fetched_at)));
            }
        }
    }
    let body = get_document(&uri, MAX_DOC_BYTES, FETCH_TIMEOUT).await?;
    let keys = JwkSet::parse(&body).map_err(|_| KeyLoadError::JwksInvalid)?;
    // A well-formed set is authoritative even when empty (an issuer revoking every key).
    log_rejected(&keys);
    jwks_copy::write(config, &uri, body, now_ms()).await;
    Ok((keys, None))
}

/// Keys the set carried but mKit will not use (weak RSA, private members, unknown types): named
/// by `kid` so an operator can see why a token signed with one is refused.
fn log_rejected(keys: &JwkSet) {
    if keys.rejected.is_empty() {
        return;
    }
    let kids: Vec<String> = keys.rejected.iter().map(|(kid, why)| format!("{kid}: {why:?}")).collect();
    let line = serde_json::json!({ "event": "jwks_keys_rejected", "keys": kids });
    worker::console_warn!("{line}");
}

/// `OAUTH_JWKS_URI`, else `jwks_uri` from RFC 8414 metadata, else from OIDC discovery. The
/// document's `issuer` must be the configured issuer exactly.
async fn jwks_uri(config: &Config) -> Result<String, KeyLoadError> {
    if let Some(uri) = &config.oauth_jwks_uri {
        return Ok(uri.clone());
    }
    let issuer = config.oauth_issuer.as_str();
    let now = now_ms();
    let known = DISCOVERED.with(|d| {
        let d = d.borrow();
        d.as_ref().filter(|(i, _, at)| i == issuer && now.saturating_sub(*at) < JWKS_TTL_MS).map(|(_, u, _)| u.clone())
    });
    if let Some(uri) = known {
        return Ok(uri);
    }
    let mut last = KeyLoadError::Discovery(DiscoveryError::Invalid);
    for url in discovery_urls(issuer) {
        let found = match get_document(&url, MAX_DOC_BYTES, FETCH_TIMEOUT).await {
            Ok(body) => jwks_uri_from_metadata(&body, issuer).map_err(KeyLoadError::Discovery),
            Err(e) => Err(e.into()),
        };
        match found {
            Ok(uri) => {
                DISCOVERED.with(|d| *d.borrow_mut() = Some((issuer.to_owned(), uri.clone(), now)));
                return Ok(uri);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `checks.jwks` for `/healthz`: probes the issuer (at most every 30 s, like an unknown kid),
/// so an outage shows even while cached keys are still fresh.
pub async fn health(config: &Config) -> (JwksHealth, Option<u64>) {
    let (unknown, due) = JWKS.with(|j| {
        let j = j.borrow();
        (j.health(now_ms()) == JwksHealth::Unknown, j.on_unknown_kid(now_ms()) == JwksAction::Fetch)
    });
    if unknown || due {
        refresh(config).await;
    }
    JWKS.with(|j| {
        let j = j.borrow();
        let now = now_ms();
        (j.health(now), j.fetched_at().map(|t| now.saturating_sub(t) / 1000))
    })
}
