//! The admission order of every pricing combination (docs/configuration.md "Pricing"), against
//! the ledger stand-in: entitlement, then free quota, then credits, then the right denial; and
//! what each finished, failed or unfinished run settles.

use super::*;
use crate::price::Window;

/// PricedTool every way at once: the "gold" entitlement, one free call a day, 2 credits a call, and
/// a meter whose value is the `units` the call reports.
pub(super) struct PricedTool(pub(super) Option<&'static str>, pub(super) Option<u32>, pub(super) Option<u32>);
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub(super) struct UnitsInput {
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    units: u64,
}
impl Tool for PricedTool {
    type Input = UnitsInput;
    type Output = Value;
    fn info(&self) -> ToolInfo {
        let info = ToolInfo::new("priced", "priced").meter("units").meter_value(|out| out.get("units")?.as_u64());
        info.priced(|p| {
            p.entitlement = self.0;
            p.free_quota = self.1.map(|calls| crate::price::FreeQuota { calls, window: Window::Day, group: None });
            p.credits = self.2;
        })
    }
    async fn call(&self, _: &ToolContext<'_>, input: UnitsInput) -> Result<Value, ToolError> {
        match input.fail {
            true => Err(ToolError::new("failed as asked")),
            false => Ok(json!({"units": input.units})),
        }
    }
}

fn harness(tool: PricedTool, keys: &[&str], credits: i64) -> Harness {
    let mut h = Harness::new();
    h.registry = Registry::default();
    h.registry.tool(tool);
    h.entitlements = Ledger::new(Ok(keys));
    h.entitlements.credits.set(credits);
    h
}

/// Calls `priced`: the result's error code (None when it ran) and the log's billing decision.
fn call(h: &Harness, args: Value) -> (Option<String>, &'static str) {
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "priced", "arguments": args}});
    let reply = h.post(&[("MCP-Protocol-Version", "2025-11-25")], &body.to_string());
    let result: Value = serde_json::from_str(&reply.body).expect("json");
    let error = result["result"]["structuredContent"]["error"].as_str().map(str::to_owned);
    (error, reply.log.tool_calls.first().map_or("none", |c| c.billing))
}

#[test]
fn holders_run_uncounted_and_only_their_calls_are_metered() {
    let h = harness(PricedTool(Some("gold"), Some(1), Some(2)), &["gold"], 10);
    assert_eq!(call(&h, json!({"units": 4})), (None, "granted"));
    assert_eq!(call(&h, json!({"units": 0})), (None, "granted"), "0 units: ran, nothing to meter");
    assert_eq!(call(&h, json!({"fail": true, "units": 9})), (None, "granted"));
    assert_eq!(*h.entitlements.settled.borrow(), [(None, Some(("units".to_owned(), 4)))]);
    assert_eq!((h.entitlements.credits.get(), h.entitlements.free.borrow().len()), (10, 0), "no credit, no free call");
}

#[test]
fn others_use_the_free_call_then_credits_then_are_asked_to_subscribe() {
    let h = harness(PricedTool(Some("gold"), Some(1), Some(2)), &[], 3);
    assert_eq!(call(&h, json!({"units": 4})), (None, "free_quota"));
    assert_eq!(call(&h, json!({"units": 4})), (None, "credits"));
    assert_eq!(h.entitlements.credits.get(), 1);
    assert_eq!(call(&h, json!({})), (Some("payment_required".into()), "payment_required"));
    let settled = h.entitlements.settled.borrow();
    assert_eq!(*settled, [(Some("debit1".to_owned()), None)], "a credit call settles its debit; no meter");
}

#[test]
fn a_failed_credit_call_is_refunded_and_a_short_balance_asks_for_credits() {
    let h = harness(PricedTool(None, None, Some(2)), &[], 2);
    assert_eq!(call(&h, json!({"fail": true})).1, "credits");
    assert_eq!(*h.entitlements.refunded.borrow(), ["debit0"]);
    assert!(h.entitlements.settled.borrow().is_empty());
    let h = harness(PricedTool(None, None, Some(2)), &[], 1);
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "priced", "arguments": {}}});
    let reply = h.post(&[("MCP-Protocol-Version", "2025-11-25")], &body.to_string());
    let result: Value = serde_json::from_str(&reply.body).expect("json");
    assert_eq!(result["result"]["structuredContent"], json!({"error": "payment_required", "credits": 2}));
}

#[test]
fn past_the_quota_without_credits_a_free_tool_says_when_it_resets_and_a_priced_one_asks_to_pay() {
    let h = harness(PricedTool(None, Some(1), None), &[], 0);
    assert_eq!(call(&h, json!({})).1, "free_quota");
    assert_eq!(call(&h, json!({})), (Some("quota_exceeded".into()), "quota_exceeded"));
    let h = harness(PricedTool(None, Some(1), Some(1)), &[], 0);
    assert_eq!(call(&h, json!({})).1, "free_quota");
    assert_eq!(call(&h, json!({})), (Some("payment_required".into()), "payment_required"), "credits would help now");
}

#[test]
fn the_usage_resource_shows_the_plan_and_fails_closed_as_an_error() {
    let h = Harness::new();
    let (status, body) = h.rpc(Some("2025-11-25"), "resources/read", json!({"uri": "mkit://billing/usage"}));
    assert_eq!(status, 200);
    let contents = &body["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "application/json");
    let usage: Value = serde_json::from_str(contents["text"].as_str().expect("text")).expect("json");
    let expected = json!({"entitlements": ["pro"], "quotas": [], "credits": null, "machine_payments": null,
        "manage_url": null});
    assert_eq!(usage, expected);
    let mut down = Harness::new();
    down.entitlements = Ledger::new(Err("ledger down"));
    let (_, body) = down.rpc(Some("2025-11-25"), "resources/read", json!({"uri": "mkit://billing/usage"}));
    assert_eq!(body["error"]["code"], -32603);
    assert_eq!(body["error"]["data"], json!({"error": "entitlements_unavailable"}));
}

/// A multi-round tool priced in credits: the first round asks for input, the second finishes.
async fn two_rounds(_: &ToolContext<'_>, args: Value) -> Result<Value, super::RpcError> {
    match args.get("answer") {
        None => Ok(json!({ "resultType": "input_required", "inputRequests": {} })),
        Some(_) => Ok(json!({ "content": [{ "type": "text", "text": "done" }] })),
    }
}

#[test]
fn a_multi_round_call_is_charged_once_in_the_round_that_finishes() {
    let mut h = harness(PricedTool(None, None, None), &[], 5);
    h.registry.raw_tool(ToolInfo::new("rounds", "two rounds").credits(2), json!({"type": "object"}), two_rounds);
    let round = |args: Value| {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "rounds", "arguments": args}});
        h.post(&[("MCP-Protocol-Version", "2025-11-25")], &body.to_string())
    };
    round(json!({}));
    assert_eq!(h.entitlements.refunded.borrow().len(), 1, "the round that asked for input is refunded");
    assert!(h.entitlements.settled.borrow().is_empty());
    round(json!({"answer": "yes"}));
    assert_eq!(h.entitlements.settled.borrow().len(), 1, "the round that finished is charged");
    assert_eq!(h.entitlements.refunded.borrow().len(), 1);
}

/// A server that sells only credits (or only an entitlement) sells something, so the webhook
/// secret that grants a bought pack is required; free calls alone sell nothing.
#[test]
fn a_server_sells_when_any_price_is_payable() {
    let sells = |tool: PricedTool| {
        let mut r = Registry::default();
        r.tool(tool);
        crate::price::sells(&r)
    };
    assert!(sells(PricedTool(None, None, Some(2))), "credits only");
    assert!(sells(PricedTool(None, Some(5), Some(1))), "a free quota, then credits");
    assert!(sells(PricedTool(Some("pro"), None, None)), "an entitlement");
    assert!(!sells(PricedTool(None, Some(5), None)), "free calls alone");
    assert!(!sells(PricedTool(None, None, None)), "free");
}
