//! Tasks and the paywall: a task is admitted once, when it is created, and settled once, when
//! its last run finishes; a denial is answered at once and stores no task.

use std::cell::RefCell;

use serde_json::{json, Value};

use crate::admission::{ticket, Admission};
use crate::price::Priced;
use crate::{Denial, Entitlements, Gatekeeper, MeterUsage};
use mkit_auth::Principal;
use mkit_mcp::context::ToolContext;
use mkit_mcp::jsonrpc::RpcError;
use mkit_mcp::registry::Registry;
use mkit_mcp::server::Server;
use mkit_mcp::tasks::{self, Status, TaskSupport};
use mkit_mcp::test_support::{block_on, task_caller, Req, Store, INFO};
use mkit_mcp::tool::{ToolError, ToolInfo};
use mkit_mcp::transport;

/// A prepaid balance that counts what happens to it.
#[derive(Default)]
struct Balance {
    credits: RefCell<i64>,
    events: RefCell<Vec<String>>,
}

impl Entitlements for Balance {
    async fn keys(&self) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }
    async fn require(&self, _: &str, _: &str) -> Result<(), Denial> {
        Err(Denial::Unavailable(ToolError::new("no entitlements here")))
    }
    async fn reserve_credits(&self, _: &str, credits: u32) -> Result<String, Denial> {
        if *self.credits.borrow() < i64::from(credits) {
            return Err(Denial::PaymentRequired { result: ToolError::new("buy credits"), pay: None });
        }
        *self.credits.borrow_mut() -= i64::from(credits);
        self.events.borrow_mut().push("reserve".into());
        Ok("d1".into())
    }
    async fn settle_call(&self, debit: Option<&str>, _: Option<MeterUsage<'_>>) {
        self.events.borrow_mut().push(format!("settle {}", debit.unwrap_or("-")));
    }
    async fn refund_credits(&self, debit: &str) {
        self.events.borrow_mut().push(format!("refund {debit}"));
    }
}

/// Asks once, then answers.
async fn paid(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    if ctx.input_responses.is_some() {
        return Ok(json!({ "content": [{ "type": "text", "text": "paid work" }] }));
    }
    let ask = json!({ "method": "elicitation/create", "params": { "message": "?", "requestedSchema": {} } });
    Ok(mkit_mcp::mrtr::input_required([("q".to_owned(), ask)].into_iter().collect(), None))
}

/// One task tool costing 2 credits.
fn registry() -> Registry {
    let mut registry = Registry::default();
    let info = ToolInfo::new("paid", "").credits(2).task_support(TaskSupport::Optional);
    registry.raw_tool(info, json!({ "type": "object" }), paid);
    registry
}

#[test]
fn a_task_is_admitted_once_when_created_and_settled_once_when_it_finishes() {
    let registry = registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let (store, balance) = (Store::default(), Balance::default());
    let principal = Principal::new("alice", None, Vec::new());
    let gate = Gatekeeper { access: &balance, machine: None };
    let caller = |ticket: Option<&'static Value>| task_caller(&principal, Some(&gate), &store, ticket);
    let call = json!({ "name": "paid", "arguments": {}, "_meta": {
        "io.modelcontextprotocol/clientCapabilities": { "extensions": { (tasks::EXTENSION): {} } },
        "io.modelcontextprotocol/protocolVersion": "2026-07-28" } });
    let headers = vec![
        ("MCP-Protocol-Version", "2026-07-28".into()),
        ("Mcp-Method", "tools/call".into()),
        ("Mcp-Name", "paid".into()),
    ];
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call }).to_string().into_bytes();
    let post = || {
        block_on(transport::handle_post(
            &server,
            &Req(headers.clone(), Vec::new()),
            transport::parse_body(&body),
            &caller(None),
        ))
    };
    // Short of credits: payment_required at once, and no task.
    let r: Value = serde_json::from_str(&post().body).unwrap_or(Value::Null);
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(store.0.borrow().is_empty());
    *balance.credits.borrow_mut() = 5;
    let r: Value = serde_json::from_str(&post().body).unwrap_or(Value::Null);
    assert_eq!(r["result"]["resultType"], "task");
    let mut t = store.0.borrow()[0].clone();
    assert_eq!(t.admission, Some(ticket(&Admission::Credits("d1".into()))));
    // The runs: one that asks (nothing settled, nothing refunded), one that finishes.
    static CHARGED: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| ticket(&Admission::Credits("d1".into())));
    let asked = block_on(tasks::run(&server, &caller(Some(&CHARGED)), &t));
    t.settle(asked, 2);
    assert_eq!(t.status, Status::InputRequired);
    assert!(t.answer(&[("q".to_owned(), json!({ "action": "accept" }))].into_iter().collect(), 3).unwrap_or(false));
    let done = block_on(tasks::run(&server, &caller(Some(&CHARGED)), &t));
    t.settle(done, 4);
    assert_eq!(t.status, Status::Completed);
    assert_eq!(*balance.events.borrow(), vec!["reserve".to_owned(), "settle d1".to_owned()]);
    assert_eq!(*balance.credits.borrow(), 3, "charged once");
}

#[test]
fn a_2025_task_refused_at_admission_is_a_finished_task_carrying_the_refusal() {
    let registry = registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let (store, balance) = (Store::default(), Balance::default());
    let principal = Principal::new("alice", None, Vec::new());
    let gate = Gatekeeper { access: &balance, machine: None };
    let post = |method: &str, params: Value| {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string().into_bytes();
        let req = Req(vec![("MCP-Protocol-Version", "2025-11-25".into())], body);
        let r = block_on(transport::handle_post(
            &server,
            &req,
            transport::parse_body(&req.1),
            &task_caller(&principal, Some(&gate), &store, None),
        ));
        serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null)
    };
    let created = post("tools/call", json!({ "name": "paid", "arguments": {}, "task": { "ttl": 60000 } }));
    let id = created["result"]["task"]["taskId"].as_str().map(str::to_owned).expect("a task, as the client asked");
    let got = post("tasks/get", json!({ "taskId": id }));
    assert_eq!(
        (got["result"]["status"].as_str(), got["result"]["statusMessage"].as_str()),
        (Some("failed"), Some("buy credits"))
    );
    let result = post("tasks/result", json!({ "taskId": id }));
    assert_eq!(
        (result["result"]["isError"].as_bool(), result["result"]["content"][0]["text"].as_str()),
        (Some(true), Some("buy credits"))
    );
    assert!(balance.events.borrow().is_empty(), "nothing taken, nothing settled");
    assert_eq!(store.0.borrow()[0].status, Status::Completed, "finished: never run");
}
