//! Machine payments through the protocol core (`paywall::x402`), against a stand-in for the
//! facilitator and ledger: who is offered x402, in which binding, and what a paid call runs,
//! settles and releases.

use super::*;
use crate::mcp::context::LocalFuture;
use crate::paywall::x402::{MachinePay, Refused, Verified, EXTENSION, PAYMENT, PAYMENT_RESPONSE};
use std::cell::RefCell;
use std::rc::Rc;

/// What the stand-in was asked, and how it answers.
#[derive(Default)]
struct Calls {
    verified: Vec<Value>,
    settled: Vec<String>,
    released: Vec<String>,
    topped_up: Vec<u32>,
    refuse_verify: bool,
    refuse_settle: bool,
}

struct Pay(Rc<RefCell<Calls>>);

impl MachinePay for Pay {
    fn offer(&self, tool: &ToolInfo, credits: u32, error: &str) -> Value {
        json!({ "x402Version": 2, "error": error, "resource": { "url": format!("mcp://t/tools/{}", tool.name) },
            "accepts": [{ "scheme": "exact", "amount": (credits * 100).to_string() }] })
    }
    fn verify<'a>(
        &'a self,
        tool: &'a ToolInfo,
        credits: u32,
        payment: &'a Value,
    ) -> LocalFuture<'a, Result<Verified, Refused>> {
        Box::pin(async move {
            let mut calls = self.0.borrow_mut();
            calls.verified.push(payment.clone());
            if calls.refuse_verify {
                return Err(Refused {
                    payment_required: self.offer(tool, credits, "invalid_signature"),
                    settlement: None,
                });
            }
            let key = payment["n"].to_string();
            Ok(Verified { key, payment: payment.clone(), requirements: json!({}), credits })
        })
    }
    fn settle<'a>(&'a self, tool: &'a ToolInfo, paid: &'a Verified) -> LocalFuture<'a, Result<Value, Refused>> {
        Box::pin(async move {
            let mut calls = self.0.borrow_mut();
            if calls.refuse_settle {
                let settlement = Some(json!({ "success": false, "errorReason": "insufficient_funds" }));
                return Err(Refused {
                    payment_required: self.offer(tool, paid.credits, "Settlement failed"),
                    settlement,
                });
            }
            calls.settled.push(paid.key.clone());
            Ok(json!({ "success": true, "transaction": "0xabc", "network": "eip155:84532" }))
        })
    }
    fn release<'a>(&'a self, paid: &'a Verified) -> LocalFuture<'a, ()> {
        Box::pin(async move { self.0.borrow_mut().released.push(paid.key.clone()) })
    }
    fn top_up<'a>(&'a self, _: &'a ToolInfo, paid: &'a Verified) -> LocalFuture<'a, Result<Value, Refused>> {
        Box::pin(async move {
            self.0.borrow_mut().topped_up.push(paid.credits);
            Ok(json!({ "success": true, "transaction": "0xtop" }))
        })
    }
    fn paid(&self) -> LocalFuture<'_, Result<crate::price::MachinePaid, ToolError>> {
        let calls = self.0.borrow().settled.len() as u64;
        let paid = crate::price::MachinePaid {
            calls,
            amount: (calls * 200).to_string(),
            asset: "0xa".into(),
            network: "eip155:84532".into(),
        };
        Box::pin(async move { Ok(paid) })
    }
}

/// A stand-in for the kit's `buy_credits` (its own tests live with the tools).
struct Buy;
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Credits {
    #[allow(dead_code)]
    credits: u32,
}
impl Tool for Buy {
    type Input = Credits;
    type Output = Value;
    fn info(&self) -> ToolInfo {
        ToolInfo::new("buy_credits", "buys").with(crate::price::Price { buys_credits: true, ..Default::default() })
    }
    async fn call(&self, _: &ToolContext<'_>, _: Credits) -> Result<Value, ToolError> {
        Err(ToolError::new("This server takes no machine payments"))
    }
}

/// 2 credits a call, and no credits held: every unpaid call is refused.
fn harness() -> (Harness, Rc<RefCell<Calls>>) {
    let calls = Rc::new(RefCell::new(Calls::default()));
    let mut h = Harness::new();
    h.registry = super::registry();
    h.registry.tool(pricing::PricedTool(None, None, Some(2))).tool(Buy);
    h.entitlements = Ledger::new(Ok(&[]));
    h.machine_pay = Some(Box::new(Pay(calls.clone())));
    (h, calls)
}

fn call(h: &Harness, args: Value, meta: Value) -> Value {
    let params = json!({ "name": "priced", "arguments": args, "_meta": meta });
    let (status, body) = h.rpc(Some("2025-11-25"), "tools/call", params);
    assert_eq!(status, 200);
    body["result"].clone()
}

#[test]
fn only_a_caller_that_declares_it_pays_in_protocol_is_offered_x402() {
    let (mut h, calls) = harness();
    let plain = call(&h, json!({}), json!({}));
    assert_eq!(plain["structuredContent"]["error"], "payment_required", "mKit's own refusal for everyone else");
    assert!(plain["structuredContent"].get("x402Version").is_none());
    h.session = Some(json!({ "extensions": { EXTENSION: {} } }));
    let offered = call(&h, json!({}), json!({}));
    assert_eq!(offered["isError"], true);
    assert_eq!(offered["structuredContent"]["x402Version"], 2, "the tool-result binding");
    assert_eq!(offered["structuredContent"]["accepts"][0]["amount"], "200");
    let text: Value = serde_json::from_str(offered["content"][0]["text"].as_str().expect("text")).expect("json text");
    assert_eq!(text, offered["structuredContent"], "content[0].text is the same PaymentRequired");
    assert!(calls.borrow().verified.is_empty(), "no payment, no facilitator");
}

#[test]
fn a_2026_request_that_declares_the_extension_gets_the_payment_required_result_type() {
    let (h, _) = harness();
    let caps = json!({ "io.modelcontextprotocol/clientCapabilities": { "extensions": { EXTENSION: {} } } });
    let (_, body) = h.stateless("tools/call", json!({ "name": "priced", "arguments": {}, "_meta": caps }), |_| {});
    assert_eq!(body["result"]["resultType"], "payment_required");
    assert_eq!(body["result"]["paymentRequired"]["x402Version"], 2);
    let (_, plain) = h.stateless("tools/call", json!({ "name": "priced", "arguments": {} }), |_| {});
    assert_eq!(plain["result"]["resultType"], "complete");
    assert_eq!(plain["result"]["structuredContent"]["error"], "payment_required");
}

#[test]
fn a_paid_call_runs_once_then_settles_and_says_so() {
    let (h, calls) = harness();
    let result = call(&h, json!({ "units": 3 }), json!({ PAYMENT: { "n": 1 } }));
    assert_eq!(result["isError"], false);
    assert_eq!(result["structuredContent"]["units"], 3);
    assert_eq!(result["_meta"][PAYMENT_RESPONSE]["transaction"], "0xabc");
    let calls = calls.borrow();
    assert_eq!(
        (calls.verified.len(), calls.settled.as_slice(), calls.released.len()),
        (1, ["1".to_owned()].as_slice(), 0)
    );
    assert_eq!(h.entitlements.credits.get(), 0, "the credits ledger is not touched");
    drop(calls);
    let (_, usage) = h.rpc(Some("2025-11-25"), "resources/read", json!({"uri": "mkit://billing/usage"}));
    let usage: Value =
        serde_json::from_str(usage["result"]["contents"][0]["text"].as_str().expect("text")).expect("json");
    assert_eq!(
        usage["machine_payments"],
        json!({ "calls": 1, "amount": "200", "asset": "0xa", "network": "eip155:84532" })
    );
}

#[test]
fn a_failed_run_settles_nothing_and_releases_the_payment() {
    let (h, calls) = harness();
    let result = call(&h, json!({ "fail": true }), json!({ PAYMENT: { "n": 2 } }));
    assert_eq!(result["isError"], true);
    assert!(result.get("_meta").is_none_or(|m| m.get(PAYMENT_RESPONSE).is_none()));
    let calls = calls.borrow();
    assert_eq!((calls.settled.len(), calls.released.as_slice()), (0, ["2".to_owned()].as_slice()));
}

#[test]
fn a_refused_payment_runs_nothing_and_a_failed_settlement_withholds_the_result() {
    let (h, calls) = harness();
    calls.borrow_mut().refuse_verify = true;
    let refused = call(&h, json!({ "units": 1 }), json!({ PAYMENT: { "n": 3 } }));
    assert_eq!(refused["structuredContent"]["error"], "invalid_signature");
    calls.borrow_mut().refuse_verify = false;
    calls.borrow_mut().refuse_settle = true;
    let withheld = call(&h, json!({ "units": 7 }), json!({ PAYMENT: { "n": 4 } }));
    assert_eq!(withheld["isError"], true);
    assert_eq!(withheld["structuredContent"]["error"], "Settlement failed");
    assert_eq!(withheld["_meta"][PAYMENT_RESPONSE]["success"], false);
    assert!(!withheld.to_string().contains("\"units\":7"), "the tool's output is not sent");
}

fn buy(h: &Harness, credits: Value, meta: Value) -> Value {
    let params = json!({ "name": "buy_credits", "arguments": { "credits": credits }, "_meta": meta });
    h.rpc(Some("2025-11-25"), "tools/call", params).1["result"].clone()
}

#[test]
fn buy_credits_offers_their_price_then_settles_before_adding_them() {
    let (h, calls) = harness();
    let offer = buy(&h, json!(25), json!({}));
    assert_eq!(offer["structuredContent"]["accepts"][0]["amount"], "2500", "25 credits at the stand-in's 100 each");
    assert_eq!(offer["structuredContent"]["error"], "Pay to add 25 credits to your balance");
    let bought = buy(&h, json!(25), json!({ PAYMENT: { "n": 9 } }));
    assert_eq!(bought["structuredContent"], json!({ "credits_added": 25 }));
    assert_eq!(bought["_meta"][PAYMENT_RESPONSE]["transaction"], "0xtop");
    assert_eq!(calls.borrow().topped_up, [25]);
    assert!(calls.borrow().settled.is_empty(), "a top-up settles as a grant, not as a call");
    for bad in [json!(0), json!(1_000_001), json!("5")] {
        assert_eq!(buy(&h, bad, json!({ PAYMENT: { "n": 10 } }))["isError"], true);
    }
    assert_eq!(calls.borrow().verified.len(), 1, "an invalid amount asks no facilitator");
}

#[test]
fn buy_credits_without_machine_payments_says_how_else_to_buy() {
    let (mut h, _) = harness();
    h.machine_pay = None;
    let answer = buy(&h, json!(5), json!({}));
    assert_eq!(answer["isError"], true);
    assert!(answer["content"][0]["text"].as_str().is_some_and(|t| t.contains("takes no machine payments")));
}
