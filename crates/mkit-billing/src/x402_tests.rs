//! The offer, the check of a payment against it, and the ledger rows on SQLite with the real
//! migrations.

use super::*;
use crate::test_db;
use mkit_kernel::sql::run_batch;
use rusqlite::Connection;

const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const PAYER: &str = "0x857b06519E91e3A54538791bDbb0E22373e36b66";
const NONCE: &str = "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480";

fn offer() -> MachineOffer {
    MachineOffer {
        network: network("eip155:84532").expect("base sepolia"),
        pay_to: PAY_TO.into(),
        credit_price: 10_000,
        facilitator: "https://facilitator.example".into(),
        facilitator_auth: None,
        record_in_stripe: false,
    }
}

fn resource() -> Resource<'static> {
    Resource::tool("mcp.example.com", "search", "Searches.")
}

/// A payment as `@x402/core`'s client builds one: the resource and the accepted requirements
/// copied from the offer, and the scheme's payload.
fn payment_for(requirements: &Value, resource_url: &str) -> Value {
    json!({
        "x402Version": 2,
        "resource": { "url": resource_url, "description": "Searches.", "mimeType": "application/json" },
        "accepted": requirements,
        "payload": { "signature": "0x00", "authorization": {
            "from": PAYER, "to": PAY_TO, "value": requirements["amount"],
            "validAfter": "0", "validBefore": "99", "nonce": NONCE } },
    })
}

#[test]
fn the_offer_names_one_exact_payment_in_usdc() {
    let required = offer().payment_required(&resource(), 3, "Payment required");
    assert_eq!(required["x402Version"], 2);
    assert_eq!(required["resource"]["url"], "mcp://mcp.example.com/tools/search");
    let accepts = required["accepts"].as_array().expect("accepts");
    assert_eq!(accepts.len(), 1);
    assert_eq!(accepts[0]["amount"], "30000", "3 credits at 10000 atomic units each");
    assert_eq!(accepts[0]["asset"], "0x036CbD53842c5426634e7929541eC2318f3dCF7e");
    assert_eq!(accepts[0]["extra"], json!({ "name": "USDC", "version": "2" }));
    let wide = MachineOffer { credit_price: u64::MAX, ..offer() };
    assert_eq!(wide.amount(u32::MAX), (u128::from(u64::MAX) * u128::from(u32::MAX)).to_string(), "no overflow");
}

#[test]
fn a_matching_payment_is_keyed_by_what_the_chain_pays_once() {
    let req = offer().requirements(1);
    let url = resource().url;
    let matched = check(&payment_for(&req, &url), &req, &url).expect("matches");
    assert_eq!(matched.payer, PAYER);
    let key = format!("eip155:84532:0x036cbd53842c5426634e7929541ec2318f3dcf7e:{}:{NONCE}", PAYER.to_lowercase());
    assert_eq!(matched.key, key);
    // Addresses compare without case (EIP-55 checksums are a spelling).
    let mut lower = payment_for(&req, &url);
    lower["accepted"]["payTo"] = PAY_TO.to_lowercase().into();
    assert!(check(&lower, &req, &url).is_ok());
}

#[test]
fn a_payment_for_other_terms_is_refused_before_any_facilitator() {
    let req = offer().requirements(2);
    let url = resource().url;
    let cheaper = payment_for(&offer().requirements(1), &url);
    assert_eq!(check(&cheaper, &req, &url), Err(Mismatch::Amount));
    let elsewhere = payment_for(&req, "mcp://mcp.example.com/tools/other");
    assert_eq!(check(&elsewhere, &req, &url), Err(Mismatch::Resource));
    for (field, value) in [("payTo", PAYER), ("network", "eip155:8453"), ("scheme", "upto"), ("asset", PAY_TO)] {
        let mut p = payment_for(&req, &url);
        p["accepted"][field] = value.into();
        assert_eq!(check(&p, &req, &url), Err(Mismatch::Terms), "{field}");
    }
    let mut v1 = payment_for(&req, &url);
    v1["x402Version"] = 1.into();
    assert_eq!(check(&v1, &req, &url), Err(Mismatch::Version));
    for bad in [json!("0x12"), json!(7), Value::Null] {
        let mut p = payment_for(&req, &url);
        p["payload"]["authorization"]["nonce"] = bad;
        assert_eq!(check(&p, &req, &url), Err(Mismatch::Payload));
    }
    assert_eq!(check(&json!("x"), &req, &url), Err(Mismatch::Version));
}

fn state_of(c: &Connection, key: &str) -> Option<String> {
    c.query_row("SELECT state FROM machine_payments WHERE id = ?1", [key], |r| r.get(0)).ok()
}

fn payment(key: &str) -> Payment<'_> {
    Payment { key, sub: "agent", tool: "search", payer: PAYER }
}

#[test]
fn a_payment_is_claimed_once_and_settles_once() {
    let mut c = test_db();
    assert_eq!(run_batch(&mut c, &[payment("k1").claim(&offer(), 2, 100)]), [1]);
    assert_eq!(run_batch(&mut c, &[payment("k1").claim(&offer(), 2, 100)]), [0], "a replay claims nothing");
    assert_eq!(run_batch(&mut c, &[settled("k1", "0xtx", 102)]), [1]);
    assert_eq!(run_batch(&mut c, &[settled("k1", "0xother", 103), release("k1")]), [0, 0]);
    assert_eq!(state_of(&c, "k1").as_deref(), Some("settled"));
    run_batch(&mut c, &[payment("k9").claim(&offer(), 5, 104), settled("k9", "0xtx9", 105)]);
    run_batch(&mut c, &[payment("k8").claim(&offer(), 7, 104)]);
    let mut q = c.prepare(PAID_SQL).expect("sql");
    let amounts: Vec<String> = q.query_map(["agent"], |r| r.get(0)).expect("rows").flatten().collect();
    assert_eq!(total(amounts.iter().map(String::as_str)), (2, "70000".to_owned()), "settled ones only");
}

#[test]
fn an_unsettled_payment_is_released_or_closed_never_both() {
    let mut c = test_db();
    run_batch(&mut c, &[payment("k2").claim(&offer(), 1, 100)]);
    assert_eq!(run_batch(&mut c, &[release("k2")]), [1], "nothing settled: the authorization may pay again");
    assert_eq!(state_of(&c, "k2"), None);
    assert_eq!(run_batch(&mut c, &[payment("k2").claim(&offer(), 1, 101)]), [1]);
    assert_eq!(run_batch(&mut c, &[unsettled("k2", Unsettled::Failed, "insufficient_funds", 102)]), [1]);
    assert_eq!(run_batch(&mut c, &[release("k2"), payment("k2").claim(&offer(), 1, 103)]), [0, 0]);
    assert_eq!(state_of(&c, "k2").as_deref(), Some("failed"));
}

#[test]
fn the_sweep_marks_abandoned_payments_unconfirmed() {
    let mut c = test_db();
    run_batch(&mut c, &[payment("old").claim(&offer(), 1, 100)]);
    run_batch(&mut c, &[payment("new").claim(&offer(), 1, 100 + STALE_SECS)]);
    assert_eq!(run_batch(&mut c, &[unconfirm_stale(100 + STALE_SECS)]), [0], "none older than the bound yet");
    assert_eq!(run_batch(&mut c, &[unconfirm_stale(101 + STALE_SECS)]), [1]);
    assert_eq!(state_of(&c, "old").as_deref(), Some("unconfirmed"));
    assert_eq!(state_of(&c, "new").as_deref(), Some("verifying"));
}

#[test]
fn totals_are_exact_past_sqlite_integers() {
    let big = u64::MAX.to_string();
    assert_eq!(total([big.as_str(), big.as_str(), "1"].into_iter()), (3, (2 * u128::from(u64::MAX) + 1).to_string()));
    assert_eq!(total(["x", "5"].into_iter()), (2, "5".to_owned()));
    assert_eq!(total(std::iter::empty()), (0, "0".to_owned()));
}

#[test]
fn a_top_up_adds_its_credits_once_and_only_when_settled() {
    let mut c = test_db();
    let balance = |c: &Connection| -> i64 {
        c.query_row("SELECT balance FROM credit_balances WHERE user_sub = 'agent'", [], |r| r.get(0)).unwrap_or(-1)
    };
    run_batch(&mut c, &[payment("t1").claim(&offer(), 25, 100)]);
    let batch = settled_top_up("t1", "agent", 25, "0xtx", 101);
    assert_eq!(run_batch(&mut c, &batch), [1, 1, 1, 1]);
    assert_eq!(balance(&c), 25);
    assert_eq!(run_batch(&mut c, &batch), [0, 0, 0, 0], "a replayed batch adds nothing");
    run_batch(&mut c, &[payment("t2").claim(&offer(), 5, 102), release("t2")]);
    assert_eq!(run_batch(&mut c, &settled_top_up("t2", "agent", 5, "0xtx2", 103)), [0, 0, 0, 0], "released: no grant");
    assert_eq!(balance(&c), 25);
    let granted: (String, i64) = c
        .query_row("SELECT event_id, applied FROM credit_grants WHERE id = 'x402:t1'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("grant row");
    assert_eq!(granted, ("0xtx".to_owned(), 1));
}

#[test]
fn a_matched_payment_names_its_payer_and_how_long_it_may_pay() {
    let requirements = offer().requirements(3);
    let matched = check(&payment_for(&requirements, &resource().url), &requirements, &resource().url).expect("ok");
    assert_eq!(payer_of(&matched.key), PAYER.to_ascii_lowercase(), "the payer's object is found from the key");
    assert_eq!(matched.valid_before, Some(99));
    let mut odd = payment_for(&requirements, &resource().url);
    odd["payload"]["authorization"]["validBefore"] = json!("1e9");
    let matched = check(&odd, &requirements, &resource().url).expect("still a payment: the facilitator judges it");
    assert_eq!(matched.valid_before, None);
}
