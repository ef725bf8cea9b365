//! Loading the issuer's keys on Workers: discovery, the JWKS GET (or the authenticated Cache API
//! copy), one refresh at a time per isolate, each under one deadline.

use futures_util::future::{select, Either};
use std::time::Duration;
use worker::Delay;

use super::fetch::{get_document, FetchError};
use super::jwks_copy;
use super::keys::{now_ms, TokenPath, FETCH_TIMEOUT, MAX_DOC_BYTES};
use crate::auth::cache::JWKS_TTL_MS;
use crate::auth::discovery::{discovery_urls, jwks_uri_from_metadata, DiscoveryError};
use crate::auth::jwk::JwkSet;
use crate::config::Config;

/// A whole key load: discovery (up to two GETs) and the JWKS.
const LOAD_DEADLINE: Duration = Duration::from_secs(12);
/// How often a request waiting on another's key refresh looks again.
const WATCH_INTERVAL: Duration = Duration::from_millis(25);

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

/// Refreshes the keys once, however many requests ask at the same time. The request that
/// starts a refresh runs it; the others only watch the cache until it ends: workerd forbids one
/// request to touch another's I/O (a shared future would read the first request's response
/// body). Nobody waits past `LOAD_DEADLINE` from the refresh's start, and a refresh older than
/// that is abandoned and started anew (its request may have been cancelled).
pub async fn refresh(t: &TokenPath, config: &Config) {
    let now = now_ms();
    match t.in_flight.get() {
        Some(started) if now.saturating_sub(started) < LOAD_DEADLINE.as_millis() as u64 => wait_for(t, started).await,
        _ => {
            t.in_flight.set(Some(now));
            run_refresh(t, config, now).await;
        }
    }
}

/// Waits, on this request's own timers, until the refresh started at `started` has ended or
/// its deadline has passed.
async fn wait_for(t: &TokenPath, started: u64) {
    let deadline = started.saturating_add(LOAD_DEADLINE.as_millis() as u64);
    while t.in_flight.get() == Some(started) && now_ms() < deadline {
        Delay::from(WATCH_INTERVAL).await;
    }
}

/// If another request is loading the keys right now, waits for it (a cold isolate's first
/// requests then share one fetch instead of answering 503).
pub(super) async fn wait_for_in_flight(t: &TokenPath) {
    if let Some(started) = t.in_flight.get() {
        wait_for(t, started).await;
    }
}

async fn run_refresh(t: &TokenPath, config: &Config, started: u64) {
    t.jwks.borrow_mut().begin_fetch(now_ms());
    let loaded = match select(Box::pin(load_keys(t, config)), Box::pin(Delay::from(LOAD_DEADLINE))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(KeyLoadError::Fetch(FetchError::Timeout)),
    };
    match loaded {
        Ok((keys, None)) => t.jwks.borrow_mut().store(now_ms(), keys),
        Ok((keys, Some(at))) => t.jwks.borrow_mut().seed(at, keys),
        Err(e) => {
            worker::console_warn!("{{\"event\":\"jwks_fetch_failed\",\"error\":\"{}\"}}", e.code());
            t.jwks.borrow_mut().fetch_failed(now_ms());
        }
    }
    // Clear the slot only if it is still this refresh's.
    if t.in_flight.get() == Some(started) {
        t.in_flight.set(None);
    }
}

/// The keys: from the Cache API (with the time that copy was fetched) when this isolate has
/// none and a fresh shared copy exists, else from the issuer (`None`).
async fn load_keys(t: &TokenPath, config: &Config) -> Result<(JwkSet, Option<u64>), KeyLoadError> {
    let uri = jwks_uri(t, config).await?;
    let cold = t.jwks.borrow().fetched_at().is_none();
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
async fn jwks_uri(t: &TokenPath, config: &Config) -> Result<String, KeyLoadError> {
    if let Some(uri) = &config.oauth_jwks_uri {
        return Ok(uri.clone());
    }
    let issuer = config.oauth_issuer.as_str();
    let now = now_ms();
    let known = t
        .discovered
        .borrow()
        .as_ref()
        .and_then(|(i, u, at)| (i == issuer && now.saturating_sub(*at) < JWKS_TTL_MS).then(|| u.clone()));
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
                *t.discovered.borrow_mut() = Some((issuer.to_owned(), uri.clone(), now));
                return Ok(uri);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
