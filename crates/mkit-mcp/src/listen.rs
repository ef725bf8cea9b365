//! `subscriptions/listen` (2026-07-28): a POST answered as a long-lived event stream. The server
//! first acknowledges the notifications it agreed to send, then sends them, each tagged with the
//! request's id. mKit agrees to `resourceSubscriptions` for resources a kit declares with
//! `Registry::announces_updates` (announced by `ToolContext::resource_updated` from any request
//! of the caller); its lists never change while it runs, so list-changed filters are left out of
//! the acknowledgment. With nothing agreed, the stream is acknowledged and closed at once, with
//! the result that says it ended cleanly.

use serde_json::{json, Map, Value};

use super::answer::{answer_for, Answer};
use super::framing::{encode, Format};
use super::jsonrpc::{classify, Id, Message, RpcError, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR};
use super::server::{DispatchError, Server};
use super::transport::{self, Caller, HttpRequest};
use super::version::Era;
use crate::http::HttpReply;

pub const METHOD: &str = "subscriptions/listen";
/// The `_meta` key naming the subscription on every message of its stream.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// A `subscriptions/listen` request, checked and agreed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Listening {
    /// The request's id: the subscription's id.
    pub id: Value,
    /// The resources whose updates this stream carries.
    pub uris: Vec<String>,
    /// `notifications/subscriptions/acknowledged`, the stream's first message.
    pub acknowledged: Value,
}

impl Listening {
    /// The result that ends the stream cleanly.
    pub fn closing(&self) -> Value {
        closing(&self.id)
    }

    /// The whole answer when nothing will be sent: the acknowledgment, then the clean end.
    pub fn closed_at_once(&self) -> HttpReply {
        encode(Format::Sse, 200, std::slice::from_ref(&self.acknowledged), self.closing().to_string(), None)
    }
}

/// The result that ends subscription `id` cleanly.
pub fn closing(id: &Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": { "resultType": "complete", "_meta": { SUBSCRIPTION_ID: id } } })
}

/// `notifications/resources/updated` for subscription `id`.
pub fn updated(id: &Value, uri: &str) -> Value {
    json!({ "jsonrpc": "2.0", "method": "notifications/resources/updated",
        "params": { "_meta": { SUBSCRIPTION_ID: id }, "uri": uri } })
}

/// Whether a POST is a `subscriptions/listen`, by its `Mcp-Method` header: every 2026-07-28
/// request carries it, and `open` (or the transport, for any other POST) refuses a body whose
/// method disagrees, so no body is read here.
pub fn wanted(req: &dyn HttpRequest) -> bool {
    req.header("Mcp-Method").is_some_and(|m| m.trim() == METHOD)
}

/// Checks a `subscriptions/listen` POST as the transport checks any request (media types,
/// envelope, version, scopes), then its filter. A refusal is the reply to send.
pub fn open(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    body: Option<Value>,
    caller: &Caller<'_>,
) -> Result<Listening, HttpReply> {
    let accepts = transport::check_media_types(req)?;
    let refuse = |status, id: Option<&Id>, e| Answer::err(status, id, e).encode(accepts);
    let v =
        body.ok_or_else(|| refuse(400, None, RpcError::new(PARSE_ERROR, "Parse error: the body is not valid JSON")))?;
    let (id, method, params) = match classify(v) {
        Ok(Message::Request { id, method, params }) => (id, method, params),
        Ok(_) => return Err(refuse(400, None, RpcError::new(INVALID_REQUEST, "subscriptions/listen needs an id"))),
        Err((e, id)) => return Err(refuse(400, id.as_ref(), e)),
    };
    let params = match params {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let meta = params.get("_meta").and_then(Value::as_object);
    let header = req.header("MCP-Protocol-Version");
    let version = transport::request_version(req, header.as_deref(), &method, &params, meta)
        .map_err(|(status, e)| refuse(status, Some(&id), e))?;
    let fail = |e: DispatchError| answer_for(&id, version, Err(e)).encode(accepts);
    if version.era() != Era::Stateless {
        return Err(fail(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {METHOD}")).into()));
    }
    let scopes = server.registry.scopes_for(METHOD);
    if !caller.principal.has_scopes(&scopes) {
        return Err(fail(DispatchError::Forbidden { scopes: scopes.iter().map(|s| (*s).to_owned()).collect() }));
    }
    if !accepts.sse {
        let e = RpcError::new(
            INVALID_REQUEST,
            "subscriptions/listen is answered as an event stream: accept text/event-stream",
        );
        return Err(Answer::err(406, Some(&id), e).encode(accepts));
    }
    agree(server, id.0.clone(), &params).map_err(|e| fail(e.into()))
}

/// The filter's agreed part: the requested resources that announce updates.
fn agree(server: &Server<'_>, id: Value, params: &Map<String, Value>) -> Result<Listening, RpcError> {
    let bad = || RpcError::invalid_params("notifications must be an object; resourceSubscriptions a list of URIs");
    let filter = params.get("notifications").and_then(Value::as_object).ok_or_else(bad)?;
    let requested = match filter.get("resourceSubscriptions") {
        None => None,
        Some(Value::Array(uris)) => {
            Some(uris.iter().map(|u| u.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().ok_or_else(bad)?)
        }
        Some(_) => return Err(bad()),
    };
    let uris: Vec<String> = requested
        .unwrap_or_default()
        .into_iter()
        .filter(|u| server.registry.subscribable.contains(&u.as_str()))
        .collect();
    let mut agreed = Map::new();
    if !uris.is_empty() {
        agreed.insert("resourceSubscriptions".into(), json!(uris));
    }
    let acknowledged = json!({ "jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
        "params": { "_meta": { SUBSCRIPTION_ID: id }, "notifications": agreed } });
    Ok(Listening { id, uris, acknowledged })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use crate::test_support::{plain_caller, Req, INFO};
    use mkit_auth::Principal;

    /// One POST: 2026-07-28 unless `version` says otherwise.
    fn post(filter: Value, accept: &str, version: &str) -> Result<Listening, HttpReply> {
        let mut registry = Registry::default();
        registry.announces_updates("test://watched");
        registry.require_scopes(METHOD, &["listen"]);
        let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
        let scopes = if accept.contains("noscope") { Vec::new() } else { vec!["listen".to_owned()] };
        let principal = Principal::new("alice", None, scopes);
        let mut params = json!({ "notifications": filter });
        if version == "2026-07-28" {
            params["_meta"] = json!({ "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {} });
        }
        let body = json!({ "jsonrpc": "2.0", "id": "s1", "method": METHOD, "params": params });
        let headers = vec![
            ("MCP-Protocol-Version", version.to_owned()),
            ("Mcp-Method", METHOD.to_owned()),
            ("Accept", accept.trim_end_matches(" noscope").to_owned()),
        ];
        open(&server, &Req(headers, Vec::new()), Some(body.clone()), &plain_caller(&principal))
    }

    const SSE: &str = "application/json, text/event-stream";

    #[test]
    fn only_resources_that_announce_updates_are_agreed_and_list_changes_are_left_out() {
        let l = post(
            json!({ "resourceSubscriptions": ["test://watched", "test://other"], "toolsListChanged": true }),
            SSE,
            "2026-07-28",
        )
        .expect("listening");
        assert_eq!((l.id.clone(), l.uris.clone()), (json!("s1"), vec!["test://watched".to_owned()]));
        assert_eq!(l.acknowledged["method"], "notifications/subscriptions/acknowledged");
        assert_eq!(l.acknowledged["params"]["_meta"][SUBSCRIPTION_ID], "s1");
        assert_eq!(l.acknowledged["params"]["notifications"], json!({ "resourceSubscriptions": ["test://watched"] }));
        let u = updated(&l.id, "test://watched");
        assert_eq!(
            (u["params"]["uri"].as_str(), u["params"]["_meta"][SUBSCRIPTION_ID].as_str()),
            (Some("test://watched"), Some("s1"))
        );
        assert_eq!(l.closing()["result"]["_meta"][SUBSCRIPTION_ID], "s1");
    }

    #[test]
    fn with_nothing_agreed_the_stream_is_acknowledged_then_closed_cleanly() {
        let l = post(json!({ "toolsListChanged": true }), SSE, "2026-07-28").expect("listening");
        assert!(l.uris.is_empty());
        assert_eq!(l.acknowledged["params"]["notifications"], json!({}));
        let reply = l.closed_at_once();
        let events: Vec<&str> = reply.body.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 2, "{}", reply.body);
        assert!(events[0].contains("notifications/subscriptions/acknowledged") && events[1].contains("\"result\""));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let code = |r: Result<Listening, HttpReply>| {
            let reply = r.expect_err("refused");
            let body = reply.body.trim_start_matches("event: message\ndata: ").trim().to_owned();
            (reply.status, serde_json::from_str::<Value>(&body).map(|v| v["error"]["code"].clone()).unwrap_or_default())
        };
        assert_eq!(code(post(json!("all"), SSE, "2026-07-28")).1, json!(-32602));
        assert_eq!(code(post(json!({ "resourceSubscriptions": [1] }), SSE, "2026-07-28")).1, json!(-32602));
        assert_eq!(code(post(json!({}), "application/json", "2026-07-28")), (406, json!(-32600)));
        assert_eq!(code(post(json!({}), SSE, "2025-11-25")).1, json!(-32601), "no listen on the 2025 wire");
        assert_eq!(code(post(json!({}), "application/json, text/event-stream noscope", "2026-07-28")).0, 403);
    }

    #[test]
    fn only_a_post_naming_listen_in_mcp_method_is_wanted() {
        let req = |h: Option<&str>| Req(h.map(|m| vec![("Mcp-Method", m.to_owned())]).unwrap_or_default(), Vec::new());
        assert!(wanted(&req(Some("subscriptions/listen"))));
        assert!(!wanted(&req(Some("tools/call"))));
        assert!(!wanted(&req(None)), "a 2025-era request names no method in a header");
    }

    #[test]
    fn a_body_that_disagrees_with_the_header_is_refused() {
        let mut registry = Registry::default();
        registry.announces_updates("test://watched");
        let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
        let principal = Principal::new("alice", None, Vec::new());
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } });
        let headers = vec![
            ("MCP-Protocol-Version", "2026-07-28".to_owned()),
            ("Mcp-Method", METHOD.to_owned()),
            ("Accept", SSE.to_owned()),
        ];
        let refused = open(&server, &Req(headers, Vec::new()), Some(body.clone()), &plain_caller(&principal));
        assert_eq!(refused.map(|_| ()).map_err(|r| r.status), Err(400));
    }
}
