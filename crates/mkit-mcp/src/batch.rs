//! JSON-RPC batches: only 2025-03-26 has them, never with `initialize`, and at most
//! `MAX_BATCH_ITEMS` messages, each answered as its own request.

use serde_json::Value;

use super::answer::Answer;
use super::framing::{encode, Accepts, Body};
use super::jsonrpc::{self, classify, Message, RpcError};
use super::server::Server;
use super::transport::{handshake_version, request, rpc_reply, Caller, HttpRequest};
use super::version::ProtocolVersion;
use crate::http::HttpReply;

/// The most messages one 2025-03-26 batch may carry: each runs a request (and may reach D1), so a
/// batch is bounded like a body.
pub const MAX_BATCH_ITEMS: usize = 32;

pub async fn answer(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    caller: &Caller<'_>,
    header_version: Option<&str>,
    items: Vec<Value>,
    accepts: Accepts,
) -> HttpReply {
    let version = match handshake_version(header_version) {
        Ok(v) => v,
        Err(e) => return Answer::err(400, None, e).encode(accepts),
    };
    if let Err((e, code)) = check_batch(version, &items) {
        return rpc_reply(400, &e, code);
    }
    let mut out = Vec::new();
    let mut tool_calls = Vec::new();
    for item in items {
        match classify(item) {
            Err((e, id)) => out.push(Body::Value(jsonrpc::failure(id.as_ref(), &e))),
            Ok(Message::Notification { .. }) => {}
            #[cfg(feature = "sessions")]
            Ok(Message::Response(response)) => {
                if let Some(hub) = caller.hub.filter(|_| caller.held) {
                    // An answer that finds no waiting call has nobody to tell: dropped.
                    let _ = hub.deliver(&response).await;
                }
            }
            // Without the `sessions` feature no call waits for an answer.
            #[cfg(not(feature = "sessions"))]
            Ok(Message::Response(_)) => {}
            Ok(Message::Request { id, method, .. }) if method == "initialize" => {
                let e = RpcError::new(jsonrpc::INVALID_REQUEST, "initialize must not be part of a batch");
                out.push(Body::Value(jsonrpc::failure(Some(&id), &e)));
            }
            Ok(Message::Request { id, method, params }) => {
                let answer = request(server, req, caller, header_version, id, &method, params).await;
                tool_calls.extend(answer.log.tool_calls.iter().cloned());
                out.push(answer.body);
            }
        }
    }
    let mut reply = if out.is_empty() {
        HttpReply::empty(202)
    } else {
        encode(accepts.format(false), 200, &[], batch_text(&out), None)
    };
    reply.log.mcp_method = Some("batch".into());
    reply.log.protocol_version = Some(version.as_str());
    reply.log.tool_calls = tool_calls;
    reply
}

/// The answers as one JSON array.
fn batch_text(out: &[Body]) -> String {
    format!("[{}]", out.iter().map(Body::text).collect::<Vec<_>>().join(","))
}

fn check_batch(version: ProtocolVersion, items: &[Value]) -> Result<(), (RpcError, &'static str)> {
    let refuse = |msg: String, code| Err((RpcError::new(jsonrpc::INVALID_REQUEST, msg), code));
    if items.is_empty() {
        return refuse("an empty batch is not a valid request".to_owned(), "batch_not_supported");
    }
    if !version.accepts_batches() {
        let msg = format!("JSON-RPC batches are not supported in protocol version {}", version.as_str());
        return refuse(msg, "batch_not_supported");
    }
    if items.len() > MAX_BATCH_ITEMS {
        let msg = format!("a batch carries at most {MAX_BATCH_ITEMS} messages; this one has {}", items.len());
        return refuse(msg, "batch_too_large");
    }
    Ok(())
}
