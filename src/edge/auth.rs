//! The token path on Workers: fetches and caches the issuer's keys (isolate memory and the
//! Cache API), shares one in-flight fetch between concurrent requests, and reuses verified
//! tokens. The decisions themselves live in `crate::auth`.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{select, Either, FutureExt, LocalBoxFuture, Shared};
use worker::{Cache, Date, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response};

use crate::auth::cache::{JwksAction, JwksCache, JwksHealth, TokenCache, JWKS_MAX_STALE_MS, JWKS_TTL_MS};
use crate::auth::discovery::{discovery_urls, jwks_uri_from_metadata};
use crate::auth::jwk::JwkSet;
use crate::auth::prm::{bearer_token, missing_scopes, Challenge};
use crate::auth::validator::{AccessTokenValidator, TokenError, ValidatedToken};
use crate::config::Config;
use crate::mcp::Principal;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOC_BYTES: usize = 64 * 1024;
const TOKEN_CACHE_ENTRIES: usize = 1024;

type Refresh = Shared<LocalBoxFuture<'static, ()>>;

thread_local! {
    static JWKS: RefCell<JwksCache> = RefCell::new(JwksCache::default());
    static TOKENS: RefCell<TokenCache> = RefCell::new(TokenCache::new(TOKEN_CACHE_ENTRIES));
    /// The JWKS URL discovered from the issuer's metadata, per issuer.
    static DISCOVERED: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
    static IN_FLIGHT: RefCell<Option<Refresh>> = const { RefCell::new(None) };
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

/// Why the token path could not decide: an upstream failure, answered with 503.
#[derive(Debug)]
pub struct Unavailable(pub &'static str);

pub enum AuthOutcome {
    Allowed(Principal),
    Refused(Challenge, &'static str),
    Unavailable(Unavailable),
}

/// Authenticates one `/mcp` request: the `Authorization` header only, never the query string.
pub async fn authenticate(authorization: Option<&str>, config: &Config, audiences: Vec<String>) -> AuthOutcome {
    let token = match bearer_token(authorization) {
        Ok(Some(t)) => t,
        Ok(None) => return AuthOutcome::Refused(Challenge::Missing, "token_missing"),
        Err(c) => return AuthOutcome::Refused(c, "invalid_request"),
    };
    let validator = AccessTokenValidator {
        issuer: config.oauth_issuer.clone(),
        audiences,
        leeway_secs: config.oauth_leeway_secs,
        accept_jwt_typ: config.oauth_accept_jwt_typ,
    };
    let cache_key = TokenCache::key(token);
    let cached =
        if config.oauth_token_cache { TOKENS.with(|t| t.borrow_mut().get(&cache_key, now_ms())) } else { None };
    let validated = match cached {
        Some(v) => v,
        None => match validate(&validator, token, config).await {
            Ok(v) => {
                if config.oauth_token_cache {
                    TOKENS.with(|t| t.borrow_mut().put(cache_key, v.clone(), now_ms()));
                }
                v
            }
            Err(Ok(e)) => {
                return AuthOutcome::Refused(Challenge::InvalidToken { description: e.description() }, e.code())
            }
            Err(Err(u)) => return AuthOutcome::Unavailable(u),
        },
    };
    let missing = missing_scopes(&validated.principal.scopes, &config.oauth_required_scopes);
    if !missing.is_empty() {
        let scopes = config.oauth_required_scopes.clone();
        return AuthOutcome::Refused(Challenge::InsufficientScope { scopes }, "insufficient_scope");
    }
    AuthOutcome::Allowed(validated.principal)
}

async fn validate(
    validator: &AccessTokenValidator,
    token: &str,
    config: &Config,
) -> Result<ValidatedToken, Result<TokenError, Unavailable>> {
    if JWKS.with(|j| j.borrow().before_use(now_ms())) == JwksAction::Fetch {
        refresh(config).await;
    }
    let keys = JWKS.with(|j| j.borrow().keys(now_ms())).ok_or(Err(Unavailable("jwks_unavailable")))?;
    match validator.validate(token, &keys, now_ms() / 1000) {
        Err(TokenError::UnknownKey) if JWKS.with(|j| j.borrow().on_unknown_kid(now_ms())) == JwksAction::Fetch => {
            refresh(config).await;
            let keys = JWKS.with(|j| j.borrow().keys(now_ms())).ok_or(Err(Unavailable("jwks_unavailable")))?;
            validator.validate(token, &keys, now_ms() / 1000).map_err(Ok)
        }
        other => other.map_err(Ok),
    }
}

/// Refreshes the keys once, however many requests ask at the same time.
pub async fn refresh(config: &Config) {
    let shared = IN_FLIGHT.with(|f| {
        let mut slot = f.borrow_mut();
        if let Some(existing) = slot.as_ref() {
            return existing.clone();
        }
        let config = config.clone();
        let fut: LocalBoxFuture<'static, ()> = async move {
            JWKS.with(|j| j.borrow_mut().begin_fetch(now_ms()));
            match load_keys(&config).await {
                Ok((keys, shared_copy_from)) => JWKS.with(|j| {
                    let mut j = j.borrow_mut();
                    match shared_copy_from {
                        None => j.store(now_ms(), keys),
                        Some(t) => j.seed(t, keys),
                    }
                }),
                Err(code) => {
                    worker::console_warn!("{{\"event\":\"jwks_fetch_failed\",\"error\":\"{code}\"}}");
                    JWKS.with(|j| j.borrow_mut().fetch_failed(now_ms()));
                }
            }
            IN_FLIGHT.with(|f| *f.borrow_mut() = None);
        }
        .boxed_local();
        let shared = fut.shared();
        *slot = Some(shared.clone());
        shared
    });
    shared.await;
}

/// The keys: from the Cache API (with the time that copy was fetched) when this isolate has
/// none and a fresh shared copy exists, else from the issuer (`None`).
async fn load_keys(config: &Config) -> Result<(JwkSet, Option<u64>), &'static str> {
    let uri = jwks_uri(config).await?;
    let cache_key = format!("https://jwks.mkit.invalid/{}", hex(&TokenCache::key(&uri)));
    let cold = JWKS.with(|j| j.borrow().fetched_at().is_none());
    if cold {
        if let Ok(Some(mut hit)) = Cache::default().get(cache_key.as_str(), false).await {
            let fetched_at = hit.headers().get("x-mkit-fetched-at").ok().flatten().and_then(|v| v.parse::<u64>().ok());
            if let (Some(t), Ok(body)) = (fetched_at, hit.bytes().await) {
                if now_ms().saturating_sub(t) < JWKS_TTL_MS {
                    if let Ok(keys) = JwkSet::parse(&body) {
                        return Ok((keys, Some(t)));
                    }
                }
            }
        }
    }
    let body = get_document(&uri).await?;
    let keys = JwkSet::parse(&body).map_err(|_| "jwks_invalid")?;
    if keys.keys.is_empty() {
        return Err("jwks_no_usable_keys");
    }
    let now = now_ms();
    let headers = Headers::new();
    let _ = headers.set("x-mkit-fetched-at", &now.to_string());
    let _ = headers.set("cache-control", &format!("max-age={}", (JWKS_TTL_MS + JWKS_MAX_STALE_MS) / 1000));
    if let Ok(resp) = Response::from_bytes(body) {
        // The shared copy is an optimisation: failing to write it changes nothing.
        let _ = Cache::default().put(cache_key.as_str(), resp.with_headers(headers)).await;
    }
    Ok((keys, None))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `OAUTH_JWKS_URI`, else `jwks_uri` from RFC 8414 metadata, else from OIDC discovery. The
/// document's `issuer` must be the configured issuer exactly.
async fn jwks_uri(config: &Config) -> Result<String, &'static str> {
    if let Some(uri) = &config.oauth_jwks_uri {
        return Ok(uri.clone());
    }
    let issuer = config.oauth_issuer.as_str();
    if let Some(uri) = DISCOVERED.with(|d| d.borrow().as_ref().filter(|(i, _)| i == issuer).map(|(_, u)| u.clone())) {
        return Ok(uri);
    }
    let mut last = "discovery_failed";
    for url in discovery_urls(issuer) {
        match get_document(&url).await.and_then(|body| jwks_uri_from_metadata(&body, issuer)) {
            Ok(uri) => {
                DISCOVERED.with(|d| *d.borrow_mut() = Some((issuer.to_owned(), uri.clone())));
                return Ok(uri);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// GET with a 5 s timeout, no redirects and a 64 KiB cap.
async fn get_document(url: &str) -> Result<Vec<u8>, &'static str> {
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_redirect(RequestRedirect::Manual);
    let headers = Headers::new();
    let _ = headers.set("accept", "application/json");
    init.with_headers(headers);
    let req = Request::new_with_init(url, &init).map_err(|_| "fetch_bad_url")?;
    let fetch = Fetch::Request(req);
    let send = Box::pin(fetch.send());
    let timeout = Box::pin(Delay::from(FETCH_TIMEOUT));
    let mut resp = match select(send, timeout).await {
        Either::Left((Ok(r), _)) => r,
        Either::Left((Err(_), _)) => return Err("fetch_failed"),
        Either::Right(_) => return Err("fetch_timeout"),
    };
    if resp.status_code() != 200 {
        return Err(if (300..400).contains(&resp.status_code()) { "fetch_redirected" } else { "fetch_status" });
    }
    let declared = resp.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > MAX_DOC_BYTES) {
        return Err("fetch_too_large");
    }
    let body = resp.bytes().await.map_err(|_| "fetch_failed")?;
    if body.len() > MAX_DOC_BYTES {
        return Err("fetch_too_large");
    }
    Ok(body)
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
