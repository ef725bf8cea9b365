//! RFC 7662 introspection on Workers: one POST with a deadline, fail closed — an endpoint that
//! cannot answer makes `/mcp` answer 503, never let a token through.

use worker::Method;

use super::fetch::{send, Body, FetchError, Outbound};
use super::keys::{now_ms, TokenPath, Unavailable, FETCH_TIMEOUT};
use crate::auth::introspection::{Introspection, MAX_ANSWER_BYTES};
use crate::health::Probe;
use crate::web::form::encode;
use crate::web::signin::basic_auth;

/// The endpoint's answer about `token` (a 200's body), as the client `i` names.
pub async fn introspect(i: &Introspection, token: &str) -> Result<Vec<u8>, Unavailable> {
    let form = encode(&[("token".into(), token.into()), ("token_type_hint".into(), "access_token".into())]);
    let out = Outbound {
        method: Method::Post,
        url: &i.endpoint,
        headers: vec![
            ("authorization", basic_auth(&i.client_id, &i.client_secret)),
            ("accept", "application/json".into()),
        ],
        body: Some(Body::Form(form)),
    };
    match send(out, MAX_ANSWER_BYTES, FETCH_TIMEOUT).await {
        Ok((200, body)) => Ok(body),
        Ok(_) => Err(Unavailable("introspection_status")),
        Err(FetchError::Timeout) => Err(Unavailable("introspection_timeout")),
        Err(FetchError::TooLarge) => Err(Unavailable("introspection_too_large")),
        Err(_) => Err(Unavailable("introspection_failed")),
    }
}

/// `checks.introspection` for `/healthz`: whether the endpoint answers a made-up token with
/// `active: false`, as RFC 7662 §2.2 says it must. Reused like the other checks.
pub async fn health(t: &TokenPath, i: &Introspection) -> Probe {
    let now = now_ms();
    if let Some(hit) = t.introspection.borrow().get(now) {
        return hit;
    }
    let probe = match introspect(i, "mkit-healthz-probe").await {
        Ok(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) if v["active"] == serde_json::Value::Bool(false) => Probe::Ok,
            _ => Probe::Fail("introspection_answer"),
        },
        Err(Unavailable(code)) => Probe::Fail(code),
    };
    t.introspection.borrow_mut().put(now, probe.clone());
    probe
}
