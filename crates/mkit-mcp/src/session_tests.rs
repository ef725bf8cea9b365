//! Held sessions in the protocol core, against an in-memory hub: the `initialize` that opens one,
//! a tool's questions asked on the 2025 wire round after round, subscriptions, and answers the
//! client posts back.

use std::cell::RefCell;
use std::collections::VecDeque;

use serde_json::{json, Map, Value};

use super::context::{LocalFuture, ToolContext};
use super::jsonrpc::RpcError;
use super::mrtr::{accepted_content, input_required, Sealing};
use super::registry::{Registry, Resource, ResourceBody, ResourceRead};
use super::rounds::MAX_ROUNDS;
use super::server::Server;
use super::session::{self, SessionHub};
use super::test_support::{block_on, Req, INFO};
use super::tool::ToolInfo;
use super::transport::{self, Caller};
use mkit_auth::Principal;

/// Answers the client "gives", in order; records what it was asked and told.
#[derive(Default)]
pub(super) struct FakeHub {
    pub(super) answers: RefCell<VecDeque<Result<Value, RpcError>>>,
    pub(super) asked: RefCell<Vec<Value>>,
    delivered: RefCell<Vec<Value>>,
    subscriptions: RefCell<Vec<(String, bool)>>,
    updated: RefCell<Vec<String>>,
}

impl SessionHub for FakeHub {
    fn open(&self) -> LocalFuture<'_, Result<String, RpcError>> {
        Box::pin(async { Ok("h1".to_owned()) })
    }
    fn ask<'a>(&'a self, request: &'a Value) -> LocalFuture<'a, Result<Value, RpcError>> {
        self.asked.borrow_mut().push(request.clone());
        let next = self.answers.borrow_mut().pop_front();
        Box::pin(async move { next.unwrap_or_else(|| Err(RpcError::invalid_params("no answer"))) })
    }
    fn deliver<'a>(&'a self, response: &'a Value) -> LocalFuture<'a, Result<(), RpcError>> {
        self.delivered.borrow_mut().push(response.clone());
        Box::pin(async { Ok(()) })
    }
    fn subscribe<'a>(&'a self, uri: &'a str, on: bool) -> LocalFuture<'a, Result<(), RpcError>> {
        self.subscriptions.borrow_mut().push((uri.to_owned(), on));
        Box::pin(async { Ok(()) })
    }
    fn resource_updated<'a>(&'a self, uri: &'a str) -> LocalFuture<'a, ()> {
        self.updated.borrow_mut().push(uri.to_owned());
        Box::pin(async {})
    }
}

pub(super) fn ask_name() -> Value {
    json!({ "method": "elicitation/create", "params": { "message": "Name?", "requestedSchema": {
        "type": "object", "properties": { "name": { "type": "string" } } } } })
}

/// Asks for a name, then (when `twice`) for a confirmation, keeping the name in the state it
/// hands out (each round carries only that round's answers), then greets.
async fn greet(ctx: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    let answered = accepted_content(ctx.input_responses, "name").and_then(|c| c.get("name")?.as_str());
    let kept = ctx.request_state.and_then(|s| s.strip_prefix("name:"));
    let requests = |key: &str| [(key.to_owned(), ask_name())].into_iter().collect::<Map<String, Value>>();
    match (answered, kept) {
        (Some(n), _) if args["twice"] == true => Ok(input_required(requests("confirm"), Some(format!("name:{n}")))),
        (Some(n), _) => Ok(json!({ "content": [{ "type": "text", "text": format!("Hello {n}") }] })),
        (None, Some(n)) => Ok(json!({ "content": [{ "type": "text", "text": format!("Hello {n}, confirmed") }] })),
        (None, None) => Ok(input_required(requests("name"), None)),
    }
}

async fn forever(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    Ok(input_required([("again".to_owned(), ask_name())].into_iter().collect(), None))
}

async fn touch(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    ctx.resource_updated("test://watched").await;
    Ok(json!({ "content": [] }))
}

fn registry() -> Registry {
    let mut r = Registry::default();
    let schema = || json!({ "type": "object" });
    r.raw_tool(ToolInfo::new("greet", "asks").asks_client(), schema(), greet);
    r.raw_tool(ToolInfo::new("forever", "asks and asks").asks_client(), schema(), forever);
    r.raw_tool(ToolInfo::new("touch", "changes the watched resource"), schema(), touch);
    r.resource(Resource {
        uri: "test://watched",
        name: "watched",
        title: None,
        description: "",
        mime_type: "text/plain",
        read: ResourceRead::Now(|_| ResourceBody::Text(String::new())),
    });
    r.announces_updates("test://watched");
    r
}

const SEALING: fn() -> Sealing =
    || Sealing { keys: vec![[5; 32]], issuer: "https://i/".into(), now_secs: 1_800_000_000 };

/// One POST as a 2025-11-25 client sends it; `held` says whether it arrives on a held session.
fn post(hub: Option<&FakeHub>, held: bool, caps: Option<&Value>, body: Value) -> (u16, Value, Option<String>) {
    let registry = registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let principal = Principal::new("alice", None, Vec::new());
    let sealing = SEALING();
    let caller = Caller {
        principal: &principal,
        gate: None,
        platform: None,
        sealing: Some(&sealing),
        session_capabilities: caps,
        hub: hub.map(|h| h as &dyn SessionHub),
        held,
        tasks: None,
        task_ticket: None,
    };
    let req = Req(vec![("MCP-Protocol-Version", "2025-11-25".into())], body.to_string().into_bytes());
    let r = block_on(transport::handle_post(&server, &req, transport::parse_body(&req.1), &caller));
    let session = r.headers.iter().find(|(n, _)| *n == "Mcp-Session-Id").map(|(_, v)| v.clone());
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null), session)
}

fn call(name: &str, args: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": name, "arguments": args } })
}

fn accept(name: &str) -> Result<Value, RpcError> {
    Ok(json!({ "action": "accept", "content": { "name": name } }))
}

#[test]
fn initialize_opens_a_held_session_for_a_client_the_server_may_ask() {
    let hub = FakeHub::default();
    let init = |caps: Value, hub: Option<&FakeHub>| {
        post(
            hub,
            false,
            None,
            json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": caps, "clientInfo": { "name": "c", "version": "1" } } }),
        )
    };
    let (status, body, id) = init(json!({ "elicitation": {} }), Some(&hub));
    assert_eq!(status, 200);
    assert_eq!(body["result"]["capabilities"]["resources"]["subscribe"], true);
    let opened = session::open(&SEALING(), "alice", &id.expect("a session id")).expect("opens for alice");
    assert_eq!(opened.held.as_deref(), Some("h1"));
    assert_eq!(opened.capabilities, json!({ "elicitation": {} }));
    let (_, body, id) = init(json!({}), Some(&hub));
    assert_eq!((id, body["result"]["capabilities"]["resources"].get("subscribe")), (None, None), "nothing to ask");
    let (_, _, id) = init(json!({ "sampling": {} }), None);
    assert_eq!(id, None, "no hub, no held session");
}

#[test]
fn a_tool_asks_on_the_held_session_round_after_round_and_gets_its_state_back() {
    let hub = FakeHub::default();
    hub.answers.borrow_mut().extend([accept("Ann"), accept("yes")]);
    let caps = json!({ "elicitation": {} });
    let (status, body, _) = post(Some(&hub), true, Some(&caps), call("greet", json!({ "twice": true })));
    assert_eq!(status, 200);
    assert_eq!(body["result"]["content"][0]["text"], "Hello Ann, confirmed", "{body}");
    assert_eq!(hub.asked.borrow().len(), 2);
    assert_eq!(hub.asked.borrow()[0], ask_name());
}

#[test]
fn a_call_that_asks_fails_clearly_without_a_held_session_or_past_the_round_limit() {
    let (_, body, _) = post(None, false, None, call("greet", json!({})));
    assert_eq!(body["error"]["code"], -32600);
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("needs a session"), "{body}");
    let hub = FakeHub::default();
    hub.answers.borrow_mut().extend((0..MAX_ROUNDS).map(|_| accept("x")));
    let (_, body, _) = post(Some(&hub), true, None, call("forever", json!({})));
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("kept asking"), "{body}");
    assert_eq!(hub.asked.borrow().len(), MAX_ROUNDS);
    // The client's own error ends the call with it.
    let hub = FakeHub::default();
    hub.answers.borrow_mut().push_back(Err(RpcError::new(-32601, "no elicitation here")));
    let (_, body, _) = post(Some(&hub), true, None, call("greet", json!({})));
    assert_eq!(body["error"]["code"], -32601);
}

#[test]
fn subscriptions_need_a_held_session_and_a_resource_that_announces_changes() {
    let sub =
        |uri: &str, method: &str| json!({ "jsonrpc": "2.0", "id": 4, "method": method, "params": { "uri": uri } });
    let hub = FakeHub::default();
    let (_, body, _) = post(Some(&hub), true, None, sub("test://watched", "resources/subscribe"));
    assert_eq!(body["result"], json!({}));
    let (_, body, _) = post(Some(&hub), true, None, sub("test://watched", "resources/unsubscribe"));
    assert_eq!(body["result"], json!({}));
    assert_eq!(*hub.subscriptions.borrow(), vec![("test://watched".into(), true), ("test://watched".into(), false)]);
    let (_, body, _) = post(Some(&hub), true, None, sub("test://other", "resources/subscribe"));
    assert_eq!(body["error"]["code"], -32602);
    let (_, body, _) = post(Some(&hub), false, None, sub("test://watched", "resources/subscribe"));
    assert_eq!(body["error"]["code"], -32601, "not on a held session");
    assert_eq!(hub.subscriptions.borrow().len(), 2);
}

#[test]
fn answers_reach_the_hub_and_tools_announce_changes_through_it() {
    let hub = FakeHub::default();
    let answer = json!({ "jsonrpc": "2.0", "id": "mkit-1", "result": { "action": "decline" } });
    let (status, _, _) = post(Some(&hub), true, None, answer.clone());
    assert_eq!(status, 202);
    assert_eq!(*hub.delivered.borrow(), vec![answer.clone()]);
    let (status, _, _) = post(Some(&hub), false, None, answer);
    assert_eq!((status, hub.delivered.borrow().len()), (202, 1), "off a held session nobody waits for it");
    post(Some(&hub), false, None, call("touch", json!({})));
    assert_eq!(*hub.updated.borrow(), vec!["test://watched".to_owned()]);
}
