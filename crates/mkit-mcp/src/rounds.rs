//! Multi-round tool calls on the 2025 wire. A tool is written once, the 2026-07-28 way: it
//! returns `input_required` with the requests it needs answered, and runs again with the
//! answers. A 2026 client retries it itself; for a handshake-era client on a held session the
//! transport does the retrying: it sends each request to the client on the call's event stream
//! (`SessionHub::ask`), waits for the answer posted back, and runs the tool again, as one
//! `tools/call`. Without a held session such a call fails with a message saying what is missing.

use serde_json::{Map, Value};

use super::jsonrpc::{RpcError, INVALID_REQUEST};
use super::registry::Registry;
use super::server::DispatchError;
use super::session::SessionHub;
use mkit_auth::Principal;

/// Rounds one call may take before it is given up (a tool that never finishes asking).
pub const MAX_ROUNDS: usize = 8;

/// Whether a POST body on a held session is answered as an event stream: a single `tools/call`
/// of a tool that asks the client, which the caller may call (so a refusal keeps its status), or
/// a `tasks/result`, which may answer a task's input requests.
pub fn streams(registry: &Registry, principal: &Principal, body: Option<&Value>) -> bool {
    let Some(v) = body else { return false };
    if v.get("id").is_none() {
        return false;
    }
    match v.get("method").and_then(Value::as_str) {
        Some("tools/call") => {
            let name = v.get("params").and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or_default();
            registry.find_tool(name).is_some_and(|t| t.info.asks_client && principal.has_scopes(t.info.scopes))
        }
        Some("tasks/result") => registry.runs_tasks(),
        _ => false,
    }
}

/// The input requests of an `input_required` result, and the state to send back with them.
pub fn pending(outcome: &Result<Value, DispatchError>) -> Option<(&Map<String, Value>, Option<&str>)> {
    let result = outcome.as_ref().ok()?;
    if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
        return None;
    }
    let requests = result.get("inputRequests")?.as_object()?;
    Some((requests, result.get("requestState").and_then(Value::as_str)))
}

/// Asks the client each request in turn: the answers, keyed as the tool named the requests.
pub async fn ask_all(hub: &dyn SessionHub, requests: &Map<String, Value>) -> Result<Map<String, Value>, RpcError> {
    let mut answers = Map::new();
    for (key, request) in requests {
        answers.insert(key.clone(), hub.ask(request).await?);
    }
    Ok(answers)
}

/// The next round's params: the call's own, with the answers and the state.
pub fn next_params(
    params: &Map<String, Value>,
    answers: Map<String, Value>,
    state: Option<&str>,
) -> Map<String, Value> {
    let mut next = params.clone();
    next.insert("inputResponses".into(), Value::Object(answers));
    match state {
        Some(s) => next.insert("requestState".into(), s.into()),
        None => next.remove("requestState"),
    };
    next
}

/// A handshake-era call left asking: without a held session, or past `MAX_ROUNDS`.
pub fn unanswered(held: bool) -> DispatchError {
    DispatchError::Rpc(if held { too_many_rounds() } else { needs_session() })
}

/// A tool that never finishes asking.
pub fn too_many_rounds() -> RpcError {
    RpcError::new(INVALID_REQUEST, format!("the tool kept asking for input past {MAX_ROUNDS} rounds"))
}

/// Asking the client needs a held session on the 2025 wire.
pub fn needs_session() -> RpcError {
    RpcError::new(
        INVALID_REQUEST,
        "this tool asks the client for input (elicitation, sampling or roots): on this protocol version that \
         needs a session; initialize declaring the capability, accept text/event-stream, and send the \
         Mcp-Session-Id back",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pending_reads_only_an_input_required_result() {
        let asking = Ok(json!({ "resultType": "input_required", "inputRequests": { "a": { "method": "x" } },
            "requestState": "s" }));
        let (requests, state) = pending(&asking).expect("asking");
        assert_eq!(requests.len(), 1);
        assert_eq!(state, Some("s"));
        assert!(pending(&Ok(json!({ "content": [] }))).is_none());
        assert!(pending(&Ok(json!({ "resultType": "complete" }))).is_none());
        assert!(pending(&Ok(json!({ "resultType": "input_required" }))).is_none(), "no requests");
        assert!(pending(&Err(DispatchError::Forbidden { scopes: vec![] })).is_none());
    }

    #[test]
    fn the_next_round_carries_the_answers_and_replaces_the_state() {
        let params = json!({ "name": "t", "arguments": { "x": 1 }, "requestState": "old" });
        let params = params.as_object().expect("object");
        let answers: Map<String, Value> = [("a".to_owned(), json!({ "action": "accept" }))].into_iter().collect();
        let next = next_params(params, answers.clone(), Some("new"));
        assert_eq!(next["inputResponses"], json!({ "a": { "action": "accept" } }));
        assert_eq!(next["requestState"], "new");
        assert_eq!(next["arguments"], json!({ "x": 1 }));
        assert!(!next_params(params, answers, None).contains_key("requestState"));
    }
}
