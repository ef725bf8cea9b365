//! The ledger's SQL run natively against SQLite (what D1 is), with the real migrations.

use super::*;
use rusqlite::{params_from_iter, Connection};
use serde_json::json;

const MIGRATIONS: [&str; 4] = [
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_notes.sql"),
    include_str!("../../../migrations/0003_processed_events.sql"),
    include_str!("../../../migrations/0004_ledger.sql"),
];

struct Db(Connection);

impl Db {
    fn new() -> Db {
        let c = Connection::open_in_memory().expect("sqlite");
        for m in MIGRATIONS {
            c.execute_batch(m).expect("migration");
        }
        Db(c)
    }

    /// Runs the plan in one transaction, as a D1 batch does: the `changes` of each statement, or
    /// the error after rolling everything back.
    fn apply(&mut self, event: &Value) -> Result<Vec<usize>, rusqlite::Error> {
        let event = Event::parse(event.to_string().as_bytes()).expect("event");
        let (_, statements) = plan(&event, 1_000).expect("plan");
        let tx = self.0.transaction()?;
        let mut changes = Vec::new();
        for s in &statements {
            let params = s.params.iter().map(|p| match p {
                SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
                SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
                SqlValue::Null => rusqlite::types::Value::Null,
            });
            changes.push(tx.execute(s.sql, params_from_iter(params))?);
        }
        tx.commit()?;
        Ok(changes)
    }

    /// Applies and says whether this delivery was new (the dedupe row was written).
    fn deliver(&mut self, event: &Value) -> bool {
        *self.apply(event).expect("apply").last().expect("dedupe row") == 1
    }

    fn entitlements(&self, sub: &str) -> Vec<String> {
        let mut q = self.0.prepare(ENTITLEMENTS_SQL).expect("prepare");
        let rows = q.query_map([sub], |r| r.get::<_, String>(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    fn one(&self, sql: &str) -> Option<String> {
        self.0.query_row(sql, [], |r| r.get::<_, Option<String>>(0)).ok().flatten()
    }
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({ "id": id, "object": "event", "api_version": "2026-10-28.endive", "created": created,
            "livemode": false, "pending_webhooks": 1, "type": kind, "data": { "object": object } })
}

fn checkout(id: &str, created: i64, customer: &str, user: &str) -> Value {
    event(
        id,
        "checkout.session.completed",
        created,
        json!({
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "status": "complete",
        "client_reference_id": user, "customer": customer, "subscription": "sub_1", "metadata": {} }),
    )
}

/// A subscription in the 2025-03-31+ shape: the period on the items.
fn subscription(id: &str, created: i64, kind: &str, status: &str, keys: &[Option<&str>]) -> Value {
    let items: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({ "id": "si_1", "object": "subscription_item", "current_period_end": 1_900_000_000,
                         "price": { "id": "price_1", "object": "price", "lookup_key": k } })
        })
        .collect();
    event(
        id,
        kind,
        created,
        json!({ "id": "sub_1", "object": "subscription", "customer": "cus_1",
        "status": status, "metadata": {}, "items": { "object": "list", "data": items } }),
    )
}

fn summary(id: &str, created: i64, customer: &str, keys: &[&str]) -> Value {
    let data: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "id": "ent_1", "object": "entitlements.active_entitlement", "feature": "feat_1", "lookup_key": k }))
        .collect();
    event(
        id,
        "entitlements.active_entitlement_summary.updated",
        created,
        json!({
        "object": "entitlements.active_entitlement_summary", "customer": customer,
        "entitlements": { "object": "list", "data": data, "has_more": false } }),
    )
}

fn invoice(id: &str, kind: &str, created: i64) -> Value {
    event(
        id,
        kind,
        created,
        json!({ "id": "in_1", "object": "invoice", "customer": "cus_1",
        "parent": { "type": "subscription_details",
                    "subscription_details": { "subscription": "sub_1", "metadata": { "mkit_user": "alice" } } } }),
    )
}

#[test]
fn the_journey_grants_then_revokes() {
    let mut db = Db::new();
    assert!(db.entitlements("alice").is_empty());
    assert!(db.deliver(&checkout("evt_1", 100, "cus_1", "alice")));
    assert!(db.entitlements("alice").is_empty(), "a checkout alone grants nothing");
    assert!(db.deliver(&subscription("evt_2", 101, "customer.subscription.created", "active", &[Some("pro")])));
    assert_eq!(db.entitlements("alice"), ["pro"]);
    assert!(db.entitlements("bob").is_empty());
    assert!(db.deliver(&subscription("evt_3", 200, "customer.subscription.deleted", "canceled", &[Some("pro")])));
    assert!(db.entitlements("alice").is_empty());
    assert_eq!(db.one("SELECT status FROM subscriptions").as_deref(), Some("canceled"));
}

#[test]
fn order_of_binding_and_subscription_does_not_matter() {
    let mut db = Db::new();
    db.deliver(&subscription("evt_2", 101, "customer.subscription.created", "active", &[Some("pro")]));
    assert!(db.entitlements("alice").is_empty());
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    assert_eq!(db.entitlements("alice"), ["pro"]);
}

#[test]
fn a_redelivered_event_is_applied_once() {
    let mut db = Db::new();
    let first = checkout("evt_1", 100, "cus_1", "alice");
    assert!(db.deliver(&first));
    // A later binding at the same second moves the customer to bob ...
    assert!(db.deliver(&checkout("evt_2", 100, "cus_1", "bob")));
    // ... and a redelivery of the first, though not older, is a duplicate and changes nothing.
    let changes = db.apply(&first).expect("apply");
    assert!(changes.iter().all(|c| *c == 0), "{changes:?}");
    assert_eq!(db.one("SELECT user_sub FROM customers").as_deref(), Some("bob"));
    assert_eq!(db.one("SELECT COUNT(*) || '' FROM processed_events").as_deref(), Some("2"));
}

#[test]
fn an_older_event_changes_nothing() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&subscription("evt_3", 300, "customer.subscription.updated", "past_due", &[Some("pro")]));
    let changes = db.apply(&subscription("evt_2", 200, "customer.subscription.updated", "active", &[Some("pro")]));
    assert_eq!(changes.expect("apply"), [0, 1], "only the dedupe row is written");
    assert!(db.entitlements("alice").is_empty());
    assert_eq!(db.one("SELECT status FROM subscriptions").as_deref(), Some("past_due"));
    // Bindings are ordered too.
    db.deliver(&checkout("evt_4", 50, "cus_1", "mallory"));
    assert_eq!(db.one("SELECT user_sub FROM customers").as_deref(), Some("alice"));
}

#[test]
fn a_canceled_subscription_is_never_regranted() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&subscription("evt_2", 200, "customer.subscription.deleted", "canceled", &[Some("pro")]));
    // Same second, delivered after: the timestamp alone would let it through.
    db.deliver(&subscription("evt_3", 200, "customer.subscription.updated", "active", &[Some("pro")]));
    db.deliver(&subscription("evt_4", 300, "customer.subscription.resumed", "active", &[Some("pro")]));
    assert!(db.entitlements("alice").is_empty());
}

#[test]
fn only_active_and_trialing_grant() {
    for (status, granted) in [
        ("active", true),
        ("trialing", true),
        ("past_due", false),
        ("unpaid", false),
        ("paused", false),
        ("incomplete", false),
        ("incomplete_expired", false),
        ("canceled", false),
    ] {
        let mut db = Db::new();
        db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
        db.deliver(&subscription("evt_2", 101, "customer.subscription.updated", status, &[Some("pro"), None]));
        assert_eq!(!db.entitlements("alice").is_empty(), granted, "{status}");
    }
}

#[test]
fn paused_and_resumed_follow_the_status() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&subscription("evt_2", 101, "customer.subscription.created", "active", &[Some("pro")]));
    db.deliver(&subscription("evt_3", 102, "customer.subscription.paused", "paused", &[Some("pro")]));
    assert!(db.entitlements("alice").is_empty());
    db.deliver(&subscription("evt_4", 103, "customer.subscription.resumed", "active", &[Some("pro")]));
    assert_eq!(db.entitlements("alice"), ["pro"]);
}

#[test]
fn entitlements_are_the_union_of_features_and_prices_over_all_customers() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&subscription("evt_2", 101, "customer.subscription.created", "active", &[Some("pro"), Some("team")]));
    db.deliver(&summary("evt_3", 102, "cus_2", &["pro", "search"]));
    assert_eq!(db.entitlements("alice"), ["pro", "team"], "cus_2 is not alice's yet");
    // A second customer for the same user, bound through its metadata.
    db.deliver(&event(
        "evt_4",
        "customer.created",
        103,
        json!({ "id": "cus_2", "object": "customer", "metadata": { "mkit_user": "alice" } }),
    ));
    assert_eq!(db.entitlements("alice"), ["pro", "search", "team"]);
    // The latest summary replaces the previous one; an older one is ignored.
    db.deliver(&summary("evt_5", 104, "cus_2", &["export"]));
    db.deliver(&summary("evt_6", 90, "cus_2", &["legacy"]));
    assert_eq!(db.entitlements("alice"), ["export", "pro", "team"]);
    db.deliver(&summary("evt_7", 105, "cus_2", &[]));
    assert_eq!(db.entitlements("alice"), ["pro", "team"]);
}

#[test]
fn customer_and_subscription_metadata_bind_the_user() {
    let mut db = Db::new();
    db.deliver(&event(
        "evt_1",
        "customer.updated",
        100,
        json!({ "id": "cus_1", "object": "customer", "metadata": {} }),
    ));
    assert_eq!(db.one("SELECT COUNT(*) || '' FROM customers").as_deref(), Some("0"));
    let mut sub = subscription("evt_2", 101, "customer.subscription.created", "trialing", &[Some("pro")]);
    sub["data"]["object"]["metadata"] = json!({ "mkit_user": "carol" });
    // An expanded customer object is read by its id.
    sub["data"]["object"]["customer"] = json!({ "id": "cus_1", "object": "customer" });
    db.deliver(&sub);
    assert_eq!(db.entitlements("carol"), ["pro"]);
}

#[test]
fn an_invoice_before_its_subscription_is_kept_and_grants_nothing() {
    let mut db = Db::new();
    db.deliver(&invoice("evt_1", "invoice.paid", 100));
    assert!(db.entitlements("alice").is_empty());
    assert_eq!(
        db.one("SELECT status || ' ' || latest_invoice_status FROM subscriptions").as_deref(),
        Some("unknown paid")
    );
    db.deliver(&subscription("evt_2", 99, "customer.subscription.created", "active", &[Some("pro")]));
    assert_eq!(db.entitlements("alice"), ["pro"]);
    db.deliver(&invoice("evt_3", "invoice.payment_failed", 200));
    db.deliver(&invoice("evt_4", "invoice.paid", 150));
    assert_eq!(db.one("SELECT latest_invoice_status FROM subscriptions").as_deref(), Some("payment_failed"));
    assert_eq!(db.entitlements("alice"), ["pro"], "status comes from subscription events");
}

#[test]
fn older_api_shapes_are_read() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    let mut sub = subscription("evt_2", 101, "customer.subscription.created", "active", &[Some("pro")]);
    sub["data"]["object"]["current_period_end"] = json!(1_800_000_000);
    db.deliver(&sub);
    assert_eq!(db.one("SELECT current_period_end || '' FROM subscriptions").as_deref(), Some("1800000000"));
    db.deliver(&event(
        "evt_3",
        "invoice.payment_failed",
        102,
        json!({ "id": "in_1", "object": "invoice", "customer": "cus_1", "subscription": "sub_1" }),
    ));
    assert_eq!(db.one("SELECT latest_invoice_status FROM subscriptions").as_deref(), Some("payment_failed"));
}

#[test]
fn the_period_end_is_the_latest_item_period() {
    let mut db = Db::new();
    let mut sub = subscription("evt_1", 101, "customer.subscription.created", "active", &[Some("a"), Some("b")]);
    sub["data"]["object"]["items"]["data"][1]["current_period_end"] = json!(1_950_000_000);
    db.deliver(&sub);
    assert_eq!(db.one("SELECT current_period_end || '' FROM subscriptions").as_deref(), Some("1950000000"));
}

#[test]
fn a_failed_batch_leaves_nothing_and_the_retry_applies() {
    let mut db = Db::new();
    db.0.execute_batch(
        "CREATE TRIGGER fail BEFORE INSERT ON subscriptions BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .expect("trigger");
    let mut sub = subscription("evt_1", 101, "customer.subscription.created", "active", &[Some("pro")]);
    sub["data"]["object"]["metadata"] = json!({ "mkit_user": "alice" });
    assert!(db.apply(&sub).is_err());
    assert_eq!(db.one("SELECT COUNT(*) || '' FROM customers").as_deref(), Some("0"), "the binding rolled back");
    assert_eq!(db.one("SELECT COUNT(*) || '' FROM processed_events").as_deref(), Some("0"));
    db.0.execute_batch("DROP TRIGGER fail;").expect("drop");
    assert!(db.deliver(&sub));
    assert_eq!(db.entitlements("alice"), ["pro"]);
}

#[test]
fn unhandled_types_are_recorded_as_ignored() {
    let mut db = Db::new();
    let e = event("evt_1", "charge.refunded", 100, json!({ "id": "ch_1" }));
    assert!(db.deliver(&e));
    assert!(!db.deliver(&e));
    assert_eq!(db.one("SELECT outcome FROM processed_events").as_deref(), Some("ignored"));
    db.deliver(&checkout("evt_2", 100, "cus_1", "alice"));
    assert_eq!(db.one("SELECT outcome FROM processed_events WHERE id = 'evt_2'").as_deref(), Some("applied"));
}

#[test]
fn checkouts_without_a_customer_or_user_bind_nothing() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", ""));
    let mut guest = checkout("evt_2", 100, "cus_1", "alice");
    guest["data"]["object"]["customer"] = Value::Null;
    db.deliver(&guest);
    assert_eq!(db.one("SELECT COUNT(*) || '' FROM customers").as_deref(), Some("0"));
    // metadata.mkit_user stands in for a missing client_reference_id.
    let mut meta = checkout("evt_3", 100, "cus_1", "");
    meta["data"]["object"]["client_reference_id"] = Value::Null;
    meta["data"]["object"]["metadata"] = json!({ "mkit_user": "dave" });
    db.deliver(&meta);
    assert_eq!(db.one("SELECT user_sub FROM customers").as_deref(), Some("dave"));
}

#[test]
fn handled_events_missing_what_the_ledger_needs_are_refused() {
    for (kind, object) in [
        ("customer.updated", json!({ "id": "sub_1" })),
        ("customer.subscription.updated", json!({ "id": "cus_1", "customer": "cus_1", "status": "active" })),
        ("customer.subscription.updated", json!({ "id": "sub_1", "status": "active" })),
        ("customer.subscription.created", json!({ "id": "sub_1", "customer": "cus_1" })),
        ("invoice.paid", json!({ "id": "in_1", "subscription": "sub_1" })),
        ("entitlements.active_entitlement_summary.updated", json!({ "customer": "cus_1" })),
        ("entitlements.active_entitlement_summary.updated", json!({ "entitlements": { "data": [] } })),
    ] {
        let e = Event::parse(event("evt_1", kind, 1, object.clone()).to_string().as_bytes()).expect("event");
        assert!(plan(&e, 0).is_err(), "{kind} {object}");
    }
    // A deleted subscription needs no status: the event says it.
    let e = Event::parse(
        event("evt_1", "customer.subscription.deleted", 1, json!({ "id": "sub_1", "customer": "cus_1" }))
            .to_string()
            .as_bytes(),
    )
    .expect("event");
    assert!(plan(&e, 0).is_ok());
}

#[test]
fn one_off_invoices_change_nothing() {
    let mut db = Db::new();
    let changes = db.apply(&event("evt_1", "invoice.paid", 1, json!({ "id": "in_1", "customer": "cus_1" })));
    assert_eq!(changes.expect("apply"), [1]);
}

#[test]
fn grants_is_an_exact_match() {
    let held = vec!["pro".to_owned(), "team".to_owned()];
    assert!(grants(&held, "pro"));
    assert!(!grants(&held, "Pro"));
    assert!(!grants(&held, "pr"));
    assert!(!grants(&[], "pro"));
}

#[test]
fn every_handled_type_is_planned_and_no_other() {
    for kind in crate::billing::event::HANDLED_TYPES {
        let e = Event::parse(event("evt_1", kind, 1, json!({})).to_string().as_bytes()).expect("event");
        assert_ne!(plan(&e, 0).map(|p| p.0), Ok(Disposition::Ignored), "{kind}");
    }
    let e = Event::parse(event("evt_1", "customer.deleted", 1, json!({})).to_string().as_bytes()).expect("event");
    assert_eq!(plan(&e, 0).map(|p| p.0), Ok(Disposition::Ignored));
}
