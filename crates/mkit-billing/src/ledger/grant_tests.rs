//! Credit packs granted by Stripe events, on SQLite with every migration: once per paying
//! object, to the user it names or its customer's, and only for what a pack is.

use super::*;
use crate::test_db;
use mkit_kernel::sql::run_batch;
use rusqlite::Connection;
use serde_json::{json, Value};

fn event(id: &str, kind: &str, created: i64, object: Value) -> Event {
    let v = json!({ "id": id, "type": kind, "created": created, "livemode": false, "data": { "object": object } });
    Event::parse(v.to_string().as_bytes()).expect("event")
}

fn deliver(c: &mut Connection, e: &Event) -> Result<Summary, PlanError> {
    let (_, statements) = plan(e, &LedgerPolicy::default(), 1_000)?;
    let changes = run_batch(c, &statements);
    Ok(summarize(&statements, &changes))
}

fn balance(c: &Connection, sub: &str) -> i64 {
    c.query_row("SELECT balance FROM credit_balances WHERE user_sub = ?1", [sub], |r| r.get(0)).unwrap_or(0)
}

fn pack(session: &str, customer: Option<&str>, user: Option<&str>, credits: Value, payment_status: &str) -> Value {
    let mut metadata = json!({ "mkit_credits": credits });
    if let Some(u) = user {
        metadata["mkit_user"] = u.into();
    }
    json!({ "id": session, "object": "checkout.session", "mode": "payment", "payment_status": payment_status,
        "customer": customer, "metadata": metadata })
}

#[test]
fn a_paid_pack_grants_once_however_often_it_is_told() {
    let mut c = test_db();
    let paid = pack("cs_1", Some("cus_1"), Some("ada"), json!("100"), "paid");
    deliver(&mut c, &event("evt_1", "checkout.session.completed", 10, paid.clone())).expect("plan");
    assert_eq!(balance(&c, "ada"), 100);
    deliver(&mut c, &event("evt_1", "checkout.session.completed", 10, paid.clone())).expect("redelivery");
    // The same session told again by another event (e.g. the async success after all).
    deliver(&mut c, &event("evt_2", "checkout.session.async_payment_succeeded", 11, paid)).expect("plan");
    assert_eq!(balance(&c, "ada"), 100);
    deliver(
        &mut c,
        &event("evt_3", "checkout.session.completed", 12, pack("cs_2", Some("cus_1"), None, json!(5), "paid")),
    )
    .expect("plan");
    assert_eq!(balance(&c, "ada"), 105, "a second pack from the bound customer, as a number");
}

#[test]
fn an_unpaid_session_grants_when_its_payment_succeeds() {
    let mut c = test_db();
    let unpaid = pack("cs_1", Some("cus_1"), Some("ada"), json!("50"), "unpaid");
    deliver(&mut c, &event("evt_1", "checkout.session.completed", 10, unpaid.clone())).expect("plan");
    assert_eq!(balance(&c, "ada"), 0, "a bank debit still pending");
    deliver(&mut c, &event("evt_2", "checkout.session.async_payment_succeeded", 11, unpaid)).expect("plan");
    assert_eq!(balance(&c, "ada"), 50);
}

#[test]
fn a_guest_pack_goes_to_the_user_it_names_and_a_nameless_one_waits_for_its_customer() {
    let mut c = test_db();
    deliver(
        &mut c,
        &event("evt_1", "checkout.session.completed", 10, pack("cs_1", None, Some("ada"), json!("7"), "paid")),
    )
    .expect("plan");
    assert_eq!(balance(&c, "ada"), 7, "no customer, still ada's");
    deliver(
        &mut c,
        &event("evt_2", "checkout.session.completed", 11, pack("cs_2", Some("cus_9"), None, json!("9"), "paid")),
    )
    .expect("plan");
    let pending: i64 =
        c.query_row("SELECT COUNT(*) FROM credit_grants WHERE applied = 0", [], |r| r.get(0)).expect("count");
    assert_eq!(pending, 1, "nobody to credit yet, but nothing lost");
    let bind = json!({ "id": "cus_9", "object": "customer", "metadata": { "mkit_user": "bob" } });
    deliver(&mut c, &event("evt_3", "customer.updated", 12, bind)).expect("plan");
    assert_eq!(balance(&c, "bob"), 9, "the customer's user gets it when bound");
    deliver(
        &mut c,
        &event("evt_4", "customer.updated", 13, json!({ "id": "cus_9", "metadata": { "mkit_user": "bob" } })),
    )
    .expect("plan");
    assert_eq!(balance(&c, "bob"), 9, "once");
}

#[test]
fn only_payment_mode_sessions_grant() {
    let mut c = test_db();
    let mut sub = pack("cs_1", Some("cus_1"), Some("ada"), json!("100"), "paid");
    sub["mode"] = "subscription".into();
    deliver(&mut c, &event("evt_1", "checkout.session.completed", 10, sub)).expect("plan");
    let plain = json!({ "id": "cs_2", "mode": "payment", "payment_status": "paid", "customer": "cus_1",
        "metadata": { "mkit_user": "ada" } });
    deliver(&mut c, &event("evt_2", "checkout.session.completed", 11, plain)).expect("plan");
    assert_eq!(balance(&c, "ada"), 0);
}

#[test]
fn a_subscription_invoice_grants_its_allowance_each_period() {
    let mut c = test_db();
    let invoice = |id: &str, details: Value, lines: Value| {
        json!({ "id": id, "object": "invoice", "customer": "cus_1", "lines": { "data": lines },
            "parent": { "subscription_details": details } })
    };
    let details = json!({ "subscription": "sub_1", "metadata": { "mkit_user": "ada", "mkit_credits": "1000" } });
    deliver(&mut c, &event("evt_1", "invoice.paid", 10, invoice("in_1", details.clone(), json!([])))).expect("plan");
    deliver(&mut c, &event("evt_2", "invoice.paid", 20, invoice("in_2", details.clone(), json!([])))).expect("plan");
    deliver(&mut c, &event("evt_3", "invoice.payment_failed", 30, invoice("in_3", details, json!([])))).expect("plan");
    assert_eq!(balance(&c, "ada"), 2000, "two paid periods; a failed one grants nothing");
    // Prices embedded in the lines (older API versions): per unit, times the quantity.
    let details = json!({ "subscription": "sub_2", "metadata": { "mkit_user": "bob" } });
    let lines = json!([{ "quantity": 3, "price": { "id": "price_1", "metadata": { "mkit_credits": "10" } } },
        { "quantity": 1, "price": { "id": "price_2", "metadata": {} } }]);
    deliver(&mut c, &event("evt_4", "invoice.paid", 40, invoice("in_4", details, lines))).expect("plan");
    assert_eq!(balance(&c, "bob"), 30);
    // A one-off invoice (say, the one a Checkout Session made) grants nothing: it would count twice.
    let one_off = json!({ "id": "in_5", "customer": "cus_1", "metadata": { "mkit_credits": "5" },
        "lines": { "data": [{ "quantity": 1, "price": { "metadata": { "mkit_credits": "5" } } }] } });
    deliver(&mut c, &event("evt_5", "invoice.paid", 50, one_off)).expect("plan");
    assert_eq!(balance(&c, "ada"), 2000);
}

#[test]
fn a_malformed_amount_is_refused_so_it_shows_in_stripe() {
    let mut c = test_db();
    for bad in [json!("ten"), json!("0"), json!(-5), json!("1000000001"), json!(true), json!("1.5")] {
        let e = event(
            "evt_1",
            "checkout.session.completed",
            10,
            pack("cs_1", Some("cus_1"), Some("ada"), bad.clone(), "paid"),
        );
        assert_eq!(deliver(&mut c, &e).err(), Some(PlanError::Credits), "{bad}");
    }
    assert!(PlanError::Credits.reason().contains("by hand"));
    let no_id =
        json!({ "mode": "payment", "payment_status": "paid", "metadata": { "mkit_user": "ada", "mkit_credits": "1" } });
    assert_eq!(
        deliver(&mut c, &event("evt_2", "checkout.session.completed", 10, no_id)).err(),
        Some(PlanError::CheckoutId)
    );
    assert_eq!(balance(&c, "ada"), 0);
}

#[test]
fn an_event_of_the_other_mode_grants_nothing() {
    let mut c = test_db();
    let policy = LedgerPolicy { livemode: Some(true), ..LedgerPolicy::default() };
    let e =
        event("evt_1", "checkout.session.completed", 10, pack("cs_1", Some("cus_1"), Some("ada"), json!("9"), "paid"));
    let (_, statements) = plan(&e, &policy, 1_000).expect("plan");
    run_batch(&mut c, &statements);
    assert_eq!(balance(&c, "ada"), 0);
}
