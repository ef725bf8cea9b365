//! `resources/read`: a static resource, a live one (read with I/O), or a template's match.

use serde_json::{json, Map, Value};

use super::context::ToolContext;
use super::jsonrpc::{RpcError, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND_LEGACY};
use super::registry::{Registry, ResourceBody, ResourceRead};
use super::version::Era;

pub async fn read(registry: &Registry, ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("resources/read needs a string uri"))?;
    let found = match registry.resources.iter().find(|r| r.uri == uri) {
        Some(r) => Some((r.mime_type, read_now_or_live(&r.read, ctx).await?)),
        None => registry.templates.iter().find_map(|t| (t.read)(uri, registry).map(|b| (t.mime_type, b))),
    };
    let Some((mime, body)) = found else {
        let code =
            if ctx.protocol_version.era() == Era::Stateless { INVALID_PARAMS } else { RESOURCE_NOT_FOUND_LEGACY };
        return Err(RpcError::new(code, "resource not found").with_data(json!({ "uri": uri })));
    };
    let mut contents = json!({ "uri": uri, "mimeType": mime });
    match body {
        ResourceBody::Text(text) => contents["text"] = text.into(),
        ResourceBody::Blob(blob) => contents["blob"] = blob.into(),
    }
    Ok(json!({ "contents": [contents] }))
}

/// A resource's body; a live read that fails is an internal error the client may retry.
async fn read_now_or_live(read: &ResourceRead, ctx: &ToolContext<'_>) -> Result<ResourceBody, RpcError> {
    match read {
        ResourceRead::Now(f) => Ok(f(ctx)),
        ResourceRead::Live(f) => f(ctx)
            .await
            .map_err(|e| RpcError::new(INTERNAL_ERROR, e.message).with_data(e.structured.unwrap_or(Value::Null))),
    }
}

/// `resources/subscribe` or `resources/unsubscribe` (`method`) outside a held session.
fn needs_session(method: &str) -> RpcError {
    let why = format!("{method} needs a session: initialize declaring sampling, elicitation or roots");
    RpcError::new(METHOD_NOT_FOUND, why)
}

/// Without the `sessions` feature no request arrives on a held session. (A variant, not the
/// `None` hub the edge passes: the code after an `.await` stays in the bundle where it cannot run.)
#[cfg(not(feature = "sessions"))]
pub async fn subscribe(_: &Registry, _: &ToolContext<'_>, _: &Map<String, Value>, on: bool) -> Result<Value, RpcError> {
    Err(needs_session(if on { "resources/subscribe" } else { "resources/unsubscribe" }))
}

/// `resources/subscribe` (`on`) and `resources/unsubscribe`: only on a held session (the
/// capability is announced only there), only for a resource that announces its changes.
#[cfg(feature = "sessions")]
pub async fn subscribe(
    registry: &Registry,
    ctx: &ToolContext<'_>,
    params: &Map<String, Value>,
    on: bool,
) -> Result<Value, RpcError> {
    let method = if on { "resources/subscribe" } else { "resources/unsubscribe" };
    let Some(hub) = ctx.hub.filter(|_| ctx.held) else {
        return Err(needs_session(method));
    };
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("{method} needs a string uri")))?;
    if on && !registry.subscribable.contains(&uri) {
        let e = RpcError::invalid_params(format!("{uri} does not announce updates; it cannot be subscribed to"));
        return Err(e.with_data(json!({ "uri": uri })));
    }
    hub.subscribe(uri, on).await?;
    Ok(json!({}))
}
