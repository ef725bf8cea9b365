//! Abuse limits with the Workers Rate Limiting bindings (wrangler.jsonc `ratelimits`): per caller
//! (`MKIT_RATE_LIMIT`, every `/mcp` request) and per caller and tool (`MKIT_TOOL_RATE_LIMIT`, each
//! `tools/call`). They count per Cloudflare location and approximately, so they stop floods; hard
//! limits (free quotas) are counted in D1. Without a binding there is no such limit.
//! `MKIT_REGISTRATION_RATE_LIMIT` limits Dynamic Client Registration per client address.

use serde_json::Value;
use worker::Env;

use crate::bindings::Binding;
use crate::http::HttpReply;
use crate::mcp::jsonrpc::called_tools;

/// The binding's periods are 10 or 60 seconds and it does not say which: the longer is safe.
const RETRY_AFTER_SECS: u32 = 60;

/// Whether the caller `key` (a keyed hash of the subject, never the subject) is over the limit.
/// An unbound or failing limiter lets the request through: it guards against abuse, it is not a
/// quota.
pub async fn over_limit(env: &Env, key: &str) -> bool {
    over(env, Binding::RateLimit, key.to_owned()).await
}

/// Whether any tool `body` (parsed once, `transport::parse_body`) calls is over the caller's
/// per-tool limit (`key:tool`).
pub async fn over_tool_limit(env: &Env, key: &str, body: Option<&Value>) -> bool {
    if env.rate_limiter(Binding::ToolRateLimit.name()).is_err() {
        return false;
    }
    for tool in called_tools(body) {
        if over(env, Binding::ToolRateLimit, format!("{key}:{tool}")).await {
            return true;
        }
    }
    false
}

/// Whether the client address `address` registered too many clients lately.
#[cfg(feature = "auth-server")]
pub async fn over_registration_limit(env: &Env, address: &str) -> bool {
    over(env, Binding::RegistrationRateLimit, format!("register:{address}")).await
}

/// The `Retry-After` a limited caller is told, in seconds.
#[cfg(feature = "auth-server")]
pub fn retry_after_secs() -> u32 {
    RETRY_AFTER_SECS
}

async fn over(env: &Env, binding: Binding, key: String) -> bool {
    let Ok(limiter) = env.rate_limiter(binding.name()) else { return false };
    matches!(limiter.limit(key).await, Ok(outcome) if !outcome.success)
}

/// 429 with `Retry-After`, as a JSON-RPC error the client can show.
pub fn too_many_requests() -> HttpReply {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32000,
        "message": format!("too many requests from this account: retry after {RETRY_AFTER_SECS} seconds") } });
    HttpReply::json(429, &body, Some("rate_limited")).with_header("Retry-After", RETRY_AFTER_SECS.to_string())
}
