//! An abuse limit per caller: the Workers Rate Limiting binding `MKIT_RATE_LIMIT` (wrangler.jsonc
//! `ratelimits`). It counts per Cloudflare location and approximately, so it stops floods; hard
//! limits (free quotas) are counted in D1. Without the binding there is no limit.

use worker::Env;

use crate::http::HttpReply;

pub const BINDING: &str = "MKIT_RATE_LIMIT";
/// The binding's periods are 10 or 60 seconds and it does not say which: the longer is safe.
const RETRY_AFTER_SECS: u32 = 60;

/// Whether the caller `key` (a keyed hash of the subject, never the subject) is over the limit.
/// An unbound or failing limiter lets the request through: it guards against abuse, it is not a
/// quota.
pub async fn over_limit(env: &Env, key: &str) -> bool {
    let Ok(limiter) = env.rate_limiter(BINDING) else { return false };
    matches!(limiter.limit(key.to_owned()).await, Ok(outcome) if !outcome.success)
}

/// 429 with `Retry-After`, as a JSON-RPC error the client can show.
pub fn too_many_requests() -> HttpReply {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32000,
        "message": format!("too many requests from this account: retry after {RETRY_AFTER_SECS} seconds") } });
    HttpReply::json(429, &body, Some("rate_limited")).with_header("Retry-After", RETRY_AFTER_SECS.to_string())
}
