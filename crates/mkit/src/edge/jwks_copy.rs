//! The Cache API copy of the issuer's keys, shared by the isolates of one location, written and
//! read under `auth::shared_copy`'s integrity rule.

use worker::{Cache, Headers, Response};

use crate::auth::cache::{JWKS_MAX_STALE_MS, JWKS_TTL_MS};
use crate::auth::shared_copy::{tag, verify};
use crate::config::Config;
use crate::mac::{hex, hmac_sha256};

fn cache_key(uri: &str) -> String {
    format!("https://jwks.mkit.invalid/{}", hex(&hmac_sha256(b"mkit-jwks-cache-key", uri.as_bytes())))
}

/// A verified copy fetched less than the TTL ago: its body and fetch time (never after `now`).
pub async fn read(config: &Config, uri: &str, now: u64) -> Option<(Vec<u8>, u64)> {
    let mut hit = Cache::default().get(cache_key(uri).as_str(), false).await.ok()??;
    let header = |name: &str| hit.headers().get(name).ok().flatten();
    let fetched_at = header("x-mkit-fetched-at")?.parse::<u64>().ok()?;
    let mac = header("x-mkit-mac")?;
    let body = hit.bytes().await.ok()?;
    let trusted = verify(&config.deployment_secrets, uri, fetched_at, &mac, &body, now, JWKS_TTL_MS)?;
    Some((body, trusted))
}

/// Shares a freshly fetched body. Best effort: failing to write it changes nothing.
pub async fn write(config: &Config, uri: &str, body: Vec<u8>, now: u64) {
    let Some(secret) = config.deployment_secrets.first() else { return };
    let headers = Headers::new();
    let _ = headers.set("x-mkit-fetched-at", &now.to_string());
    let _ = headers.set("x-mkit-mac", &tag(secret, uri, now, &body));
    let _ = headers.set("cache-control", &format!("max-age={}", (JWKS_TTL_MS + JWKS_MAX_STALE_MS) / 1000));
    if let Ok(resp) = Response::from_bytes(body) {
        let _ = Cache::default().put(cache_key(uri).as_str(), resp.with_headers(headers)).await;
    }
}
