//! The 2025-11-25 tasks utility over the same store and runner as the 2026-07-28 extension:
//! what is announced, the tool-level rules, the task's shapes, the blocking `tasks/result`
//! (answering input requests on a held session), listing and cancelling.

use serde_json::{json, Value};

use super::context::ToolContext;
use super::jsonrpc::RpcError;
use super::mrtr::{accepted_content, input_required};
use super::registry::Registry;
use super::server::{DispatchError, Server};
use super::session::SessionHub;
use super::session_tests::{ask_name, FakeHub};
use super::tasks::{self, Status, Task, TaskSupport};
use super::tasks_2025::RELATED_TASK;
use super::test_support::Store;
use super::test_support::{block_on, plain_caller, Req, INFO};
use super::tool::ToolInfo;
use super::transport::{self, Caller};
use mkit_auth::Principal;

async fn report(_: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    match args["fail"].as_str() {
        Some("tool") => Ok(json!({ "content": [{ "type": "text", "text": "no data" }], "isError": true })),
        Some("protocol") => Err(RpcError::invalid_params("bad range")),
        _ => Ok(json!({ "content": [{ "type": "text", "text": "report" }] })),
    }
}

async fn ask(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    match accepted_content(ctx.input_responses, "name").and_then(|c| c.get("name")?.as_str()) {
        Some(n) => Ok(json!({ "content": [{ "type": "text", "text": format!("Hello {n}") }] })),
        None => Ok(input_required([("name".to_owned(), ask_name())].into_iter().collect(), None)),
    }
}

fn registry() -> Registry {
    let mut r = Registry::default();
    let schema = || json!({ "type": "object" });
    r.raw_tool(ToolInfo::new("report", "").task_support(TaskSupport::Optional), schema(), report);
    r.raw_tool(ToolInfo::new("batch", "").task_support(TaskSupport::Required), schema(), report);
    r.raw_tool(ToolInfo::new("plain", ""), schema(), report);
    r.raw_tool(ToolInfo::new("ask", "").asks_client().task_support(TaskSupport::Optional), schema(), ask);
    r
}

/// A store whose runs go through the real dispatch, as the edge's alarm's do.
fn store() -> Store {
    Store(Default::default(), Some(Box::new(|t: &Task| run(t))))
}

fn run(t: &Task) -> Result<Value, DispatchError> {
    let registry = registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let principal = Principal::new("alice", None, Vec::new());
    let ticket = t.admission.clone().unwrap_or(Value::Null);
    let empty = Store::default();
    let caller = Caller { task_ticket: Some(&ticket), ..caller(&principal, &empty, None) };
    block_on(tasks::run(&server, &caller, t))
}

fn caller<'a>(principal: &'a Principal, store: &'a Store, hub: Option<&'a FakeHub>) -> Caller<'a> {
    let hub = hub.map(|h| h as &dyn SessionHub);
    Caller { hub, held: hub.is_some(), tasks: Some(store), ..plain_caller(principal) }
}

/// One handshake-era request at `version`; `hub`: on a held session.
fn rpc_at(version: &str, store: &Store, hub: Option<&FakeHub>, method: &str, params: Value) -> Value {
    let registry = registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let principal = Principal::new("alice", None, Vec::new());
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let req = Req(vec![("MCP-Protocol-Version", version.into())], body.to_string().into_bytes());
    let r =
        block_on(transport::handle_post(&server, &req, transport::parse_body(&req.1), &caller(&principal, store, hub)));
    serde_json::from_str(&r.body).unwrap_or(Value::Null)
}

fn rpc(store: &Store, method: &str, params: Value) -> Value {
    rpc_at("2025-11-25", store, None, method, params)
}

fn call(name: &str, args: Value, task: Option<Value>) -> Value {
    let mut p = json!({ "name": name, "arguments": args });
    if let Some(t) = task {
        p["task"] = t;
    }
    p
}

#[test]
fn the_utility_is_announced_on_2025_11_25_only() {
    let store = store();
    let init = |v: &str| {
        rpc_at(
            v,
            &store,
            None,
            "initialize",
            json!({ "protocolVersion": v, "capabilities": {},
        "clientInfo": { "name": "c", "version": "1" } }),
        )
    };
    let caps = &init("2025-11-25")["result"]["capabilities"];
    assert_eq!(caps["tasks"], json!({ "list": {}, "cancel": {}, "requests": { "tools": { "call": {} } } }));
    assert!(init("2025-06-18")["result"]["capabilities"].get("tasks").is_none());
    let tools = rpc(&store, "tools/list", json!({}));
    let execution = |name: &str| {
        let list = tools["result"]["tools"].as_array().cloned().unwrap_or_default();
        list.into_iter().find(|t| t["name"] == name).map(|t| t["execution"].clone())
    };
    assert_eq!(execution("report"), Some(json!({ "taskSupport": "optional" })));
    assert_eq!(execution("batch"), Some(json!({ "taskSupport": "required" })));
    assert_eq!(execution("plain"), Some(Value::Null), "forbidden is the default, not shown");
    let old = rpc_at("2025-06-18", &store, None, "tools/list", json!({}));
    assert!(old["result"]["tools"][0].get("execution").is_none());
}

#[test]
fn a_task_is_created_polled_and_its_result_fetched() {
    let store = store();
    let r = rpc(&store, "tools/call", call("report", json!({}), Some(json!({ "ttl": 60000 }))));
    let task = &r["result"]["task"];
    assert_eq!((task["taskId"].as_str(), task["status"].as_str()), (Some("t1"), Some("working")));
    assert_eq!((task["ttl"].as_u64(), task["pollInterval"].as_u64()), (Some(60000), Some(tasks::POLL_INTERVAL_MS)));
    assert!(task["createdAt"].is_string() && task["lastUpdatedAt"].is_string());
    assert!(r["result"].get("content").is_none() && r["result"].get("resultType").is_none());
    assert_eq!(store.0.borrow()[0].call.get("task"), None, "the task param is not part of the stored call");

    let got = rpc(&store, "tasks/get", json!({ "taskId": "t1" }));
    assert_eq!((got["result"]["taskId"].as_str(), got["result"]["status"].as_str()), (Some("t1"), Some("working")));
    assert!(got["result"].get("ttlMs").is_none() && got["result"].get("result").is_none(), "the 2025 shape");

    let done = rpc(&store, "tasks/result", json!({ "taskId": "t1" }));
    assert_eq!(done["result"]["content"][0]["text"], "report");
    assert_eq!(done["result"]["_meta"][RELATED_TASK], json!({ "taskId": "t1" }));
    assert_eq!(rpc(&store, "tasks/get", json!({ "taskId": "t1" }))["result"]["status"], "completed");
    let listed = rpc(&store, "tasks/list", json!({}));
    assert_eq!(listed["result"]["tasks"][0]["taskId"], "t1");
    assert!(listed["result"].get("nextCursor").is_none());
    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        assert_eq!(rpc(&store, method, json!({ "taskId": "nope" }))["error"]["code"], -32602, "{method}");
    }
}

#[test]
fn a_requested_ttl_is_kept_within_bounds() {
    let store = store();
    let ttl = |t: Value| rpc(&store, "tools/call", call("report", json!({}), Some(t)))["result"]["task"]["ttl"].clone();
    assert_eq!(ttl(json!({})), json!(tasks::TTL_MS));
    assert_eq!(ttl(json!({ "ttl": 5 })), json!(1000));
    assert_eq!(ttl(json!({ "ttl": 9_999_999_999u64 })), json!(tasks::TTL_MS));
}

#[test]
fn tool_level_rules_give_the_specs_errors() {
    let store = store();
    let code = |r: Value| r["error"]["code"].as_i64();
    assert_eq!(code(rpc(&store, "tools/call", call("plain", json!({}), Some(json!({}))))), Some(-32601));
    assert_eq!(code(rpc(&store, "tools/call", call("batch", json!({}), None))), Some(-32601));
    assert_eq!(code(rpc(&store, "tools/call", call("report", json!({}), Some(json!(5))))), Some(-32602));
    let sync = rpc(&store, "tools/call", call("report", json!({}), None));
    assert_eq!(sync["result"]["content"][0]["text"], "report", "optional: a plain call runs at once");
    let old = rpc_at("2025-06-18", &store, None, "tools/call", call("batch", json!({}), Some(json!({}))));
    assert_eq!(old["result"]["content"][0]["text"], "report", "before 2025-11-25, task is ignored");
    assert_eq!(code(rpc_at("2025-06-18", &store, None, "tasks/list", json!({}))), Some(-32601));
    let asking = rpc(&store, "tools/call", call("ask", json!({}), Some(json!({}))));
    assert!(asking["error"]["message"].as_str().is_some_and(|m| m.contains("needs a session")), "{asking}");
    assert!(store.0.borrow().is_empty(), "no task made of a refused call");
}

#[test]
fn a_tool_error_fails_the_task_and_tasks_result_returns_what_the_call_would_have() {
    let store = store();
    rpc(&store, "tools/call", call("report", json!({ "fail": "tool" }), Some(json!({}))));
    let r = rpc(&store, "tasks/result", json!({ "taskId": "t1" }));
    assert_eq!(
        (r["result"]["isError"].as_bool(), r["result"]["content"][0]["text"].as_str()),
        (Some(true), Some("no data"))
    );
    let got = rpc(&store, "tasks/get", json!({ "taskId": "t1" }));
    assert_eq!(got["result"]["status"], "failed");
    assert!(got["result"]["statusMessage"].is_string());

    rpc(&store, "tools/call", call("report", json!({ "fail": "protocol" }), Some(json!({}))));
    let r = rpc(&store, "tasks/result", json!({ "taskId": "t2" }));
    assert_eq!((r["error"]["code"].as_i64(), r["error"]["message"].as_str()), (Some(-32602), Some("bad range")));
    assert_eq!(rpc(&store, "tasks/get", json!({ "taskId": "t2" }))["result"]["statusMessage"], "bad range");
}

#[test]
fn cancelling_works_once_and_a_finished_task_refuses() {
    let store = store();
    rpc(&store, "tools/call", call("report", json!({}), Some(json!({}))));
    let r = rpc(&store, "tasks/cancel", json!({ "taskId": "t1" }));
    assert_eq!((r["result"]["taskId"].as_str(), r["result"]["status"].as_str()), (Some("t1"), Some("cancelled")));
    let again = rpc(&store, "tasks/cancel", json!({ "taskId": "t1" }));
    assert_eq!(again["error"]["code"], -32602);
    assert!(again["error"]["message"].as_str().is_some_and(|m| m.contains("'cancelled'")), "{again}");
    assert_eq!(store.0.borrow()[0].status, Status::Cancelled);
    assert_eq!(rpc(&store, "tasks/result", json!({ "taskId": "t1" }))["error"]["code"], -32600);
}

#[test]
fn tasks_are_listed_in_pages() {
    let store = store();
    for _ in 0..53 {
        rpc(&store, "tools/call", call("report", json!({}), Some(json!({}))));
    }
    let first = rpc(&store, "tasks/list", json!({}));
    let cursor = first["result"]["nextCursor"].as_str().map(str::to_owned).expect("a second page");
    assert_eq!(first["result"]["tasks"].as_array().map(Vec::len), Some(50));
    let second = rpc(&store, "tasks/list", json!({ "cursor": cursor }));
    assert_eq!(second["result"]["tasks"].as_array().map(Vec::len), Some(3));
    assert!(second["result"].get("nextCursor").is_none());
    let ids: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|p| p["result"]["tasks"].as_array().cloned().unwrap_or_default())
        .map(|t| t["taskId"].clone())
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 53, "every task once");
    assert_eq!(rpc(&store, "tasks/list", json!({ "cursor": "garbage" }))["error"]["code"], -32602);
}

#[test]
fn input_requests_are_asked_in_tasks_result_on_a_held_session() {
    let store = store();
    let hub = FakeHub::default();
    let r = rpc_at("2025-11-25", &store, Some(&hub), "tools/call", call("ask", json!({}), Some(json!({}))));
    assert_eq!(r["result"]["task"]["status"], "working");
    hub.answers.borrow_mut().push_back(Ok(json!({ "action": "accept", "content": { "name": "Ada" } })));
    let done = rpc_at("2025-11-25", &store, Some(&hub), "tasks/result", json!({ "taskId": "t1" }));
    assert_eq!(done["result"]["content"][0]["text"], "Hello Ada");
    let asked = hub.asked.borrow();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["method"], "elicitation/create");
    assert_eq!(asked[0]["params"]["_meta"][RELATED_TASK], json!({ "taskId": "t1" }), "the request names its task");

    let plain = Store(Default::default(), Some(Box::new(|t: &Task| run(t))));
    plain.0.borrow_mut().push(Task { status: Status::InputRequired, ..store.0.borrow()[0].clone() });
    let refused = rpc(&plain, "tasks/result", json!({ "taskId": "t1" }));
    assert!(refused["error"]["message"].as_str().is_some_and(|m| m.contains("session")), "{refused}");
}
