//! Tasks through the real paywall, on the ledger's real SQL in SQLite: which free-quota window a
//! task's give-back reaches (#28 item 10). Here, not in `mcp`, because the protocol core never
//! sees the paywall or the ledger.

use std::cell::RefCell;

use serde_json::{json, Value};

use super::admission::{self, from_ticket};
use super::{DynEntitlements, Entitlements as _, Gatekeeper};
use crate::price::Priced;
use mkit_auth::Principal;
use mkit_mcp::context::ToolContext;
use mkit_mcp::jsonrpc::RpcError;
use mkit_mcp::registry::Registry;
use mkit_mcp::server::Server;
use mkit_mcp::tasks::{self, TaskSupport};
use mkit_mcp::test_support::{block_on, task_caller, Req, Store, INFO};
use mkit_mcp::tool::ToolInfo;
use mkit_mcp::transport;

/// The ledger's real SQL on SQLite behind the real paywall, for which quota window a give-back
/// reaches (#28 item 10).
struct Ledger(RefCell<rusqlite::Connection>);

impl super::LedgerReader for &Ledger {
    async fn entitlement_keys(&self, _: &str) -> Result<Vec<String>, mkit_billing::StoreError> {
        Ok(Vec::new())
    }
    async fn batch(
        &self,
        statements: Vec<mkit_kernel::sql::Statement>,
    ) -> Result<Vec<usize>, mkit_billing::StoreError> {
        Ok(mkit_kernel::sql::run_batch(&mut self.0.borrow_mut(), &statements))
    }
}

impl Ledger {
    /// The calls alice used of the quota `job` in the window starting at `start`.
    fn used(&self, start: i64) -> i64 {
        let sql = "SELECT used FROM quota_usage WHERE user_sub = 'alice' AND quota_key = 'job' AND window_start = ?1";
        self.0.borrow().query_row(sql, [start], |r| r.get(0)).unwrap_or(0)
    }
}

/// A task tool with three free calls an hour whose runs fail.
async fn failing_job(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    Ok(json!({ "content": [{ "type": "text", "text": "failed" }], "isError": true }))
}

/// An hour's start (1_800_000_000 is a multiple of 3600), and the next.
const HOUR_1: i64 = 1_800_000_000;
const HOUR_2: i64 = HOUR_1 + 3_600;

#[test]
fn a_task_gives_its_free_call_back_to_the_window_it_was_taken_from_never_the_current_one() {
    let mut registry = Registry::default();
    let info = ToolInfo::new("job", "").free_quota(3, crate::quota::Window::Hour).task_support(TaskSupport::Optional);
    registry.raw_tool(info, json!({ "type": "object" }), failing_job);
    let info = registry.find_tool("job").map(|t| t.info.clone()).expect("registered");
    let server = Server { registry: &registry, info: &INFO, page_size: 50, extensions: &[] };
    let ledger = Ledger(crate::tests::test_db().into());
    let quotas = vec![("job", info.price().and_then(|p| p.free_quota).expect("a quota"))];
    let at = |now| super::Paywall::new(&ledger, "alice", Default::default()).with_quotas(quotas.clone(), now);
    let store = Store::default();
    let principal = Principal::new("alice", None, Vec::new());
    let call = json!({ "name": "job", "arguments": {}, "_meta": {
        "io.modelcontextprotocol/clientCapabilities": { "extensions": { (tasks::EXTENSION): {} } },
        "io.modelcontextprotocol/protocolVersion": "2026-07-28" } });
    let headers = vec![
        ("MCP-Protocol-Version", "2026-07-28".into()),
        ("Mcp-Method", "tools/call".into()),
        ("Mcp-Name", "job".into()),
    ];
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call }).to_string().into_bytes();
    let create = |access: &dyn DynEntitlements| {
        let gate = Gatekeeper { access, machine: None };
        let caller = task_caller(&principal, Some(&gate), &store, None);
        let r = block_on(transport::handle_post(
            &server,
            &Req(headers.clone(), Vec::new()),
            transport::parse_body(&body),
            &caller,
        ));
        let r: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        assert_eq!(r["result"]["resultType"], "task", "{r}");
        store.0.borrow().last().cloned().expect("stored")
    };
    // Created in the last second of hour 1: one free call of hour 1 taken.
    let old = create(&at(HOUR_2 - 1));
    assert_eq!((ledger.used(HOUR_1), ledger.used(HOUR_2)), (1, 0));
    // In hour 2 the caller uses two of the new window's calls.
    let now = at(HOUR_2 + 10);
    for _ in 0..2 {
        let _ = block_on(now.take_free_call("job", &quotas[0].1));
    }
    assert_eq!(ledger.used(HOUR_2), 2);
    // The old task's run fails in hour 2, and then it is cancelled (the edge's give-back): its call
    // was taken from hour 1, which has ended, so nothing is given back and hour 2 keeps its count.
    let ticket = old.admission.clone().expect("admitted");
    let gate = Gatekeeper { access: &now, machine: None };
    let failed = block_on(tasks::run(&server, &task_caller(&principal, Some(&gate), &store, Some(&ticket)), &old));
    assert!(failed.is_ok_and(|r| r["isError"] == true));
    let admission = from_ticket(&ticket).expect("a ticket the paywall wrote");
    block_on(admission::give_back(&now, &info, &admission));
    assert_eq!(ledger.used(HOUR_2), 2, "the current window is never credited with an old window's call");
    assert_eq!(ledger.used(HOUR_1), 1, "an ended window is left as it was");
    // A task created and failed within one window does give its call back, once.
    let new = create(&now);
    assert_eq!(ledger.used(HOUR_2), 3);
    let ticket = new.admission.clone().expect("admitted");
    let failed = block_on(tasks::run(&server, &task_caller(&principal, Some(&gate), &store, Some(&ticket)), &new));
    assert!(failed.is_ok_and(|r| r["isError"] == true));
    assert_eq!(ledger.used(HOUR_2), 2, "given back to the window it was taken from");
}
