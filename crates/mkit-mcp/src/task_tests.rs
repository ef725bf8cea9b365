//! Tasks (2026-07-28 Tasks extension): the stored record's shapes and state changes, and the
//! protocol against an in-memory store, including that a task's run goes through the same
//! dispatch as a direct call.

use serde_json::{json, Map, Value};

use super::context::ToolContext;
use super::jsonrpc::RpcError;
use super::registry::Registry;
use super::server::{DispatchError, Server};
use super::tasks::{self, iso8601, Status, Task, TaskSupport};
use super::test_support::{block_on, task_caller, Req, Store, INFO};
use super::tool::ToolInfo;
use super::transport;
use mkit_auth::Principal;

fn task() -> Task {
    let call = json!({ "name": "slow", "arguments": {} }).as_object().cloned().unwrap_or_default();
    let capabilities = json!({ "extensions": { (tasks::EXTENSION): {} } });
    let t = Task::new(call, "2026-07-28", capabilities, Principal::new("alice", None, Vec::new()));
    Task { id: "t1".into(), created_ms: 1_800_000_000_123, updated_ms: 1_800_000_000_123, ..t }
}

#[test]
fn times_are_rfc3339_utc_with_milliseconds() {
    assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso8601(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
    assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(iso8601(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
}

#[test]
fn create_task_result_is_flat_and_carries_only_the_envelope() {
    let v = task().created();
    assert_eq!(v["resultType"], "task");
    assert_eq!((v["taskId"].as_str(), v["status"].as_str()), (Some("t1"), Some("working")));
    assert_eq!(v["createdAt"], "2027-01-15T08:00:00.123Z");
    assert!(v["ttlMs"].is_u64() && v["pollIntervalMs"].is_u64());
    for absent in ["task", "result", "error", "inputRequests", "requestState", "ttl", "pollInterval"] {
        assert!(v.get(absent).is_none(), "{absent}");
    }
}

#[test]
fn a_run_settles_the_task_unless_it_was_cancelled() {
    let mut t = task();
    let result =
        json!({ "content": [], "_meta": { "io.modelcontextprotocol/related-task": { "taskId": "t1" }, "k": 1 } });
    t.settle(Ok(result), 5);
    let d = t.detailed();
    assert_eq!((d["status"].as_str(), d["resultType"].as_str()), (Some("completed"), Some("complete")));
    assert_eq!(d["result"]["_meta"], json!({ "k": 1 }), "no related-task key on the inlined result");
    assert_eq!(d["lastUpdatedAt"], iso8601(5));

    let mut t = task();
    t.settle(Err(DispatchError::Rpc(RpcError::new(-32603, "broke"))), 5);
    let d = t.detailed();
    assert_eq!(d["status"], "failed");
    assert_eq!((d["error"]["code"].as_i64(), d.get("result")), (Some(-32603), None));

    let mut t = task();
    t.cancel(5);
    t.settle(Ok(json!({ "content": [] })), 6);
    assert_eq!(t.status, Status::Cancelled, "a cancelled task stays cancelled");
    t.cancel(7);
    assert_eq!(t.updated_ms, 5, "cancelling a finished task changes nothing");
}

#[test]
fn input_is_asked_answered_in_parts_and_carried_into_the_next_run() {
    let mut t = task();
    let asked = json!({ "resultType": "input_required", "inputRequests": { "a": { "method": "elicitation/create" },
        "b": { "method": "elicitation/create" } }, "requestState": "s1" });
    t.settle(Ok(asked), 5);
    let d = t.detailed();
    assert_eq!(d["status"], "input_required");
    assert_eq!(d["inputRequests"].as_object().map(Map::len), Some(2));
    assert!(d.get("requestState").is_none(), "the tasks wire carries no requestState");
    let one: Map<String, Value> = [("a".to_owned(), json!({ "action": "accept" }))].into_iter().collect();
    assert_eq!(t.answer(&one, 6), Ok(false));
    assert_eq!(t.detailed()["inputRequests"], json!({ "b": { "method": "elicitation/create" } }));
    let other: Map<String, Value> = [("b".to_owned(), json!({ "action": "decline" }))].into_iter().collect();
    assert_eq!(t.answer(&other, 7), Ok(true));
    assert_eq!(t.status, Status::Working);
    let p = t.params();
    assert_eq!(p["inputResponses"], json!({ "a": { "action": "accept" }, "b": { "action": "decline" } }));
    assert_eq!(p["requestState"], "s1");
    assert!(t.expired(t.created_ms + tasks::TTL_MS) && !t.expired(t.created_ms + tasks::TTL_MS - 1));
}

async fn slow(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    Ok(json!({ "content": [{ "type": "text", "text": "done" }] }))
}

fn registry() -> Registry {
    let mut r = Registry::default();
    r.raw_tool(ToolInfo::new("slow", "").task_support(TaskSupport::Optional), json!({ "type": "object" }), slow);
    r.raw_tool(ToolInfo::new("must", "").task_support(TaskSupport::Required), json!({ "type": "object" }), slow);
    r
}

/// One 2026-07-28 request (`extension`: the request declares the Tasks extension).
fn rpc(store: &Store, method: &str, params: Value, extension: bool) -> (u16, Value) {
    let registry = registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let principal = Principal::new("alice", None, Vec::new());
    let caps = if extension { json!({ "extensions": { (tasks::EXTENSION): {} } }) } else { json!({}) };
    let mut params = params;
    params["_meta"] = json!({ "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": caps });
    let name = params.get("name").or(params.get("taskId")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let headers =
        vec![("MCP-Protocol-Version", "2026-07-28".into()), ("Mcp-Method", method.into()), ("Mcp-Name", name)];
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let caller = task_caller(&principal, None, store, None);
    let r = block_on(transport::handle_post(&server, &Req(headers, Vec::new()), Some(body.clone()), &caller));
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

#[test]
fn a_client_that_takes_tasks_gets_one_and_polls_it() {
    let store = Store::default();
    let (_, r) = rpc(&store, "tools/call", json!({ "name": "slow", "arguments": {} }), true);
    assert_eq!((r["result"]["resultType"].as_str(), r["result"]["taskId"].as_str()), (Some("task"), Some("t1")));
    assert_eq!(
        store.0.borrow()[0].call,
        json!({ "name": "slow", "arguments": {} }).as_object().cloned().unwrap_or_default()
    );
    let (_, r) = rpc(&store, "tasks/get", json!({ "taskId": "t1" }), true);
    assert_eq!(
        (r["result"]["status"].as_str(), r["result"]["resultType"].as_str()),
        (Some("working"), Some("complete"))
    );
    let (_, r) = rpc(&store, "tasks/cancel", json!({ "taskId": "t1" }), true);
    assert_eq!(r["result"]["resultType"], "complete");
    assert!(r["result"].get("taskId").is_none() && r["result"].get("status").is_none(), "an empty ack");
    assert_eq!(store.0.borrow()[0].status, Status::Cancelled);
    let (_, r) = rpc(&store, "tasks/get", json!({ "taskId": "nope" }), true);
    assert_eq!(r["error"]["code"], -32602);
    let (status, r) = rpc(&store, "tasks/result", json!({ "taskId": "t1" }), true);
    assert_eq!((status, r["error"]["code"].as_i64()), (404, Some(-32601)), "no tasks/result in 2026-07-28");
}

#[test]
fn without_the_extension_a_call_runs_at_once_and_tasks_methods_are_refused() {
    let store = Store::default();
    let (_, r) = rpc(&store, "tools/call", json!({ "name": "slow", "arguments": {}, "task": { "ttl": 5 } }), false);
    assert_eq!((r["result"]["resultType"].as_str(), r["result"].get("taskId")), (Some("complete"), None));
    let (status, r) = rpc(&store, "tools/call", json!({ "name": "must", "arguments": {} }), false);
    assert_eq!((status, r["error"]["code"].as_i64()), (400, Some(-32021)));
    assert_eq!(r["error"]["data"]["requiredCapabilities"]["extensions"][tasks::EXTENSION], json!({}));
    for method in ["tasks/get", "tasks/update", "tasks/cancel"] {
        let (_, r) = rpc(&store, method, json!({ "taskId": "t1", "inputResponses": {} }), false);
        assert_eq!(r["error"]["code"], -32021, "{method}");
    }
    assert!(store.0.borrow().is_empty());
}

#[test]
fn a_task_runs_through_the_same_dispatch_and_is_not_made_a_task_again() {
    let registry = registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let store = Store::default();
    let principal = Principal::new("alice", None, Vec::new());
    let caller = task_caller(&principal, None, &store, Some(&Value::Null));
    let mut t = task();
    t.call = json!({ "name": "slow", "arguments": {} }).as_object().cloned().unwrap_or_default();
    let outcome = block_on(tasks::run(&server, &caller, &t));
    let result = outcome.expect("ran");
    assert_eq!(
        (result["content"][0]["text"].as_str(), result["resultType"].as_str()),
        (Some("done"), Some("complete"))
    );
    assert!(store.0.borrow().is_empty(), "no task made of a task's run");
}

#[test]
fn input_rounds_are_not_attempts_and_the_cap_counts_only_runs_cut_off_in_one_round() {
    // #28 item 10: a tool that asked three times was failed by the cap meant for runs cut off.
    let mut t = task();
    let asked = || Ok(json!({ "resultType": "input_required", "inputRequests": { "q": { "method": "x" } } }));
    let answer: Map<String, Value> = [("q".to_owned(), json!({ "action": "accept" }))].into_iter().collect();
    for round in 1..=2 * tasks::MAX_ATTEMPTS {
        assert!(t.start_run(), "round {round} runs");
        t.settle(asked(), 5);
        assert_eq!((t.status, t.attempts), (Status::InputRequired, 0), "round {round} ended as meant: not cut off");
        assert_eq!(t.answer(&answer, 6), Ok(true));
    }
    // Within one round, a run cut off (never settled) is started again, MAX_ATTEMPTS runs in all.
    for _ in 0..tasks::MAX_ATTEMPTS {
        assert!(t.start_run());
    }
    assert!(!t.start_run(), "cut off too often");
    t.give_up(9);
    let d = t.detailed();
    assert_eq!((d["status"].as_str(), d["error"]["code"].as_i64()), (Some("failed"), Some(-32603)));
    assert_eq!(t.updated_ms, 9);
}
