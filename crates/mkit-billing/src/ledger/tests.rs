//! The ledger's SQL run natively against SQLite (what D1 is), with the real migrations.

use super::*;
use crate::reference::client_reference;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rusqlite::{params_from_iter, Connection};
use serde_json::{json, Value};

/// The reference key of the test deployment.
const KEY: [u8; 32] = [9; 32];
/// The test clock (s): before the fixtures' period end, `END`.
const NOW: i64 = 1_800_000_000;
const END: i64 = 1_900_000_000;
const DAY: i64 = 86_400;

/// A deployment whose mode cannot be known (both apply), without Connect.
fn policy() -> LedgerPolicy {
    LedgerPolicy { reference_keys: vec![KEY], ..LedgerPolicy::default() }
}

fn sql_params(params: &[SqlValue]) -> Vec<rusqlite::types::Value> {
    mkit_kernel::sql::sqlite_values(params)
}

struct Db(Connection);

impl Db {
    fn new() -> Db {
        Db(crate::test_db())
    }

    /// Plans under `policy` and runs the plan in one transaction, as a D1 batch does: the
    /// disposition, the summary the webhook answers and the `changes` of each statement, or the
    /// error after rolling everything back.
    fn run(
        &mut self,
        policy: &LedgerPolicy,
        event: &Value,
    ) -> Result<(Disposition, Summary, Vec<usize>), rusqlite::Error> {
        let event = Event::parse(event.to_string().as_bytes()).expect("event");
        let (disposition, statements) = plan(&event, policy, 1_000).expect("plan");
        let tx = self.0.transaction()?;
        let mut changes = Vec::new();
        for s in &statements {
            changes.push(tx.execute(s.sql, params_from_iter(sql_params(&s.params)))?);
        }
        tx.commit()?;
        Ok((disposition, summarize(&statements, &changes), changes))
    }

    fn apply(&mut self, event: &Value) -> Result<Vec<usize>, rusqlite::Error> {
        self.run(&policy(), event).map(|(_, _, changes)| changes)
    }

    /// Applies and says whether this delivery was new (the dedupe row was written).
    fn deliver(&mut self, event: &Value) -> bool {
        *self.apply(event).expect("apply").last().expect("dedupe row") == 1
    }

    fn entitlements(&self, sub: &str) -> Vec<String> {
        self.entitlements_at(sub, NOW, 3 * DAY)
    }

    fn entitlements_at(&self, sub: &str, now: i64, grace: i64) -> Vec<String> {
        let mut q = self.0.prepare(ENTITLEMENTS_SQL).expect("prepare");
        let params = sql_params(&entitlements_params(sub, now, grace));
        let rows = q.query_map(params_from_iter(params), |r| r.get::<_, String>(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    fn one(&self, sql: &str) -> Option<String> {
        self.0.query_row(sql, [], |r| r.get::<_, Option<String>>(0)).ok().flatten()
    }

    fn count(&self, table: &str) -> usize {
        let n: i64 = self.0.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).expect("count");
        usize::try_from(n).expect("count")
    }

    fn user_of(&self, customer: &str) -> Option<String> {
        self.one(&format!("SELECT user_sub FROM customers WHERE customer_id = '{customer}'"))
    }

    /// The conflicts recorded, one line each.
    fn conflicts(&self) -> Vec<String> {
        let mut q = self
            .0
            .prepare(
                "SELECT customer_id || ' ' || IFNULL(subscription_id, '-') || ' ' || bound_user || ' ' || claimed_user \
                 || ' ' || source || ' ' || event_id || ' ' || event_created || ' ' || recorded_at FROM binding_conflicts ORDER BY id",
            )
            .expect("prepare");
        let rows = q.query_map([], |r| r.get::<_, String>(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    }
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({ "id": id, "object": "event", "api_version": "2026-10-28.endive", "created": created,
            "livemode": false, "pending_webhooks": 1, "type": kind, "data": { "object": object } })
}

/// A Checkout Session whose server set `metadata.mkit_user`.
fn checkout(id: &str, created: i64, customer: &str, user: &str) -> Value {
    let mut e = checkout_ref(id, created, customer, Value::Null);
    e["data"]["object"]["metadata"] = json!({ "mkit_user": user });
    e
}

/// A Checkout Session carrying only a `client_reference_id`.
fn checkout_ref(id: &str, created: i64, customer: &str, reference: impl Into<Value>) -> Value {
    event(
        id,
        "checkout.session.completed",
        created,
        json!({
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "status": "complete",
        "client_reference_id": reference.into(), "customer": customer, "subscription": "sub_1", "metadata": {} }),
    )
}

/// `event` (a subscription) as subscription `id`, naming `user` in its own metadata.
fn owned(mut event: Value, id: &str, user: Option<&str>) -> Value {
    event["data"]["object"]["id"] = json!(id);
    event["data"]["object"]["metadata"] = user.map_or(json!({}), |u| json!({ "mkit_user": u }));
    event
}

/// A subscription in the 2025-03-31+ shape: the period on the items.
fn subscription(id: &str, created: i64, kind: &str, status: &str, keys: &[Option<&str>]) -> Value {
    let items: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({ "id": "si_1", "object": "subscription_item", "current_period_end": END,
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
    assert!(db.deliver(&checkout("evt_1", 100, "cus_1", "alice")));
    let first = subscription("evt_2", 101, "customer.subscription.updated", "active", &[Some("pro")]);
    assert!(db.deliver(&first));
    // A later event at the same second moves the subscription to past_due ...
    assert!(db.deliver(&subscription("evt_3", 101, "customer.subscription.updated", "past_due", &[Some("pro")])));
    // ... and a redelivery of the first, though not older, is a duplicate and changes nothing.
    let changes = db.apply(&first).expect("apply");
    assert!(changes.iter().all(|c| *c == 0), "{changes:?}");
    assert_eq!(db.one("SELECT status FROM subscriptions").as_deref(), Some("past_due"));
    assert!(db.entitlements("alice").is_empty());
    assert_eq!(db.count("processed_events"), 3);
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
    // Bindings never move, older or not.
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
    assert_eq!(db.count("customers"), 0);
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
    assert_eq!(db.count("customers"), 0, "the binding rolled back");
    assert_eq!(db.count("processed_events"), 0);
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
    assert_eq!(db.one("SELECT outcome || IFNULL(reason, '') FROM processed_events").as_deref(), Some("ignored"));
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
    assert_eq!(db.count("customers"), 0);
    // metadata.mkit_user binds without any client_reference_id.
    db.deliver(&checkout("evt_3", 100, "cus_1", "dave"));
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
        assert!(plan(&e, &policy(), 0).is_err(), "{kind} {object}");
    }
    // A deleted subscription needs no status: the event says it.
    let e = Event::parse(
        event("evt_1", "customer.subscription.deleted", 1, json!({ "id": "sub_1", "customer": "cus_1" }))
            .to_string()
            .as_bytes(),
    )
    .expect("event");
    assert!(plan(&e, &policy(), 0).is_ok());
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
    for kind in crate::event::HANDLED_TYPES {
        let e = Event::parse(event("evt_1", kind, 1, json!({})).to_string().as_bytes()).expect("event");
        assert!(!matches!(plan(&e, &policy(), 0).map(|p| p.0), Ok(Disposition::Ignored(_))), "{kind}");
    }
    let e = Event::parse(event("evt_1", "customer.deleted", 1, json!({})).to_string().as_bytes()).expect("event");
    assert_eq!(plan(&e, &policy(), 0).map(|p| p.0), Ok(Disposition::Ignored(None)));
}

// Binding only what the merchant signed (issue 12).

#[test]
fn server_set_metadata_binds() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&event("evt_2", "customer.created", 100, json!({ "id": "cus_2", "metadata": { "mkit_user": "bob" } })));
    let sub = subscription("evt_3", 100, "customer.subscription.created", "active", &[Some("pro")]);
    let mut sub = owned(sub, "sub_3", Some("carol"));
    sub["data"]["object"]["customer"] = json!("cus_3");
    db.deliver(&sub);
    db.deliver(&event(
        "evt_4",
        "invoice.paid",
        100,
        json!({ "id": "in_4", "customer": "cus_4",
                "parent": { "subscription_details": { "subscription": "sub_4", "metadata": { "mkit_user": "dave" } } } }),
    ));
    let bound: Vec<Option<String>> = ["cus_1", "cus_2", "cus_3", "cus_4"].iter().map(|c| db.user_of(c)).collect();
    assert_eq!(bound, [Some("alice"), Some("bob"), Some("carol"), Some("dave")].map(|u| u.map(str::to_owned)));
    // Before API version 2025-03-31 the subscription details sat on the invoice itself.
    db.deliver(&event(
        "evt_6",
        "invoice.paid",
        100,
        json!({ "id": "in_6", "customer": "cus_6", "subscription": "sub_6",
                "subscription_details": { "metadata": { "mkit_user": "frank" } } }),
    ));
    assert_eq!(db.user_of("cus_6").as_deref(), Some("frank"));
    // The invoice's own metadata is not one of the sources.
    db.deliver(&event(
        "evt_5",
        "invoice.paid",
        100,
        json!({ "id": "in_5", "customer": "cus_5", "subscription": "sub_5", "metadata": { "mkit_user": "eve" } }),
    ));
    assert_eq!(db.user_of("cus_5"), None);
}

#[test]
fn a_bare_client_reference_id_binds_nothing() {
    let mut db = Db::new();
    db.deliver(&checkout_ref("evt_1", 100, "cus_1", "alice"));
    // Nor does a well-formed reference minted under a key this deployment does not hold.
    db.deliver(&checkout_ref("evt_2", 100, "cus_1", client_reference(&[1; 32], "alice").expect("mint")));
    assert_eq!(db.count("customers"), 0);
    assert_eq!(db.count("binding_conflicts"), 0);
    assert_eq!(db.one("SELECT group_concat(outcome) FROM processed_events").as_deref(), Some("applied,applied"));
}

#[test]
fn a_minted_reference_binds_and_the_metadata_comes_first() {
    let mut db = Db::new();
    let reference = client_reference(&KEY, "alice").expect("mint");
    db.deliver(&checkout_ref("evt_1", 100, "cus_1", reference.as_str()));
    assert_eq!(db.user_of("cus_1").as_deref(), Some("alice"));
    // After a rotation, a reference minted under a key still configured binds.
    let rotated = LedgerPolicy { reference_keys: vec![[2; 32], KEY], ..policy() };
    db.run(&rotated, &checkout_ref("evt_2", 100, "cus_2", reference.as_str())).expect("apply");
    assert_eq!(db.user_of("cus_2").as_deref(), Some("alice"));
    // Metadata set by the server that created the session wins over a reference.
    let mut both = checkout("evt_3", 100, "cus_3", "carol");
    both["data"]["object"]["client_reference_id"] = json!(client_reference(&KEY, "dave"));
    db.deliver(&both);
    assert_eq!(db.user_of("cus_3").as_deref(), Some("carol"));
    assert_eq!(db.one("SELECT COUNT(*) || '' FROM binding_conflicts").as_deref(), Some("0"));
}

#[test]
fn a_forged_or_altered_reference_binds_nothing() {
    let reference = client_reference(&KEY, "alice").expect("mint");
    let tag = &reference[reference.len() - 22..];
    let mut altered = reference.clone().into_bytes();
    altered[8] = if altered[8] == b'A' { b'B' } else { b'A' };
    let forged = [
        // Another sub under alice's tag.
        format!("mkit1_{}_{tag}", URL_SAFE_NO_PAD.encode("mallory")),
        // A changed character in the sub's encoding.
        String::from_utf8(altered).expect("ascii"),
        // A tag of the right shape but made up.
        format!("mkit1_{}_{}", URL_SAFE_NO_PAD.encode("mallory"), "A".repeat(22)),
        // Alice's reference cut short, or lengthened.
        reference[..reference.len() - 1].to_owned(),
        format!("{reference}A"),
    ];
    let mut db = Db::new();
    for (n, value) in forged.iter().enumerate() {
        assert!(db.deliver(&checkout_ref(&format!("evt_{n}"), 100, "cus_1", value.as_str())), "{value}");
    }
    assert_eq!(db.count("customers"), 0);
}

#[test]
fn the_first_binding_wins_and_a_conflict_is_recorded_once() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&subscription("evt_2", 101, "customer.subscription.created", "active", &[Some("pro")]));
    let claim =
        event("evt_3", "customer.updated", 200, json!({ "id": "cus_1", "metadata": { "mkit_user": "mallory" } }));
    let (disposition, summary, _) = db.run(&policy(), &claim).expect("apply");
    assert_eq!(disposition, Disposition::Applied, "recorded, so applied");
    assert_eq!(summary, Summary { duplicate: false, changes: 0, conflicts: 1 });
    assert_eq!(db.user_of("cus_1").as_deref(), Some("alice"));
    assert_eq!(db.entitlements("alice"), ["pro"]);
    assert!(db.entitlements("mallory").is_empty());
    assert_eq!(db.conflicts(), ["cus_1 - alice mallory customer_metadata evt_3 200 1000"]);
    // The redelivery records nothing twice.
    let (_, summary, changes) = db.run(&policy(), &claim).expect("apply");
    assert!(changes.iter().all(|c| *c == 0), "{changes:?}");
    assert_eq!(summary, Summary { duplicate: true, changes: 0, conflicts: 0 });
    assert_eq!(db.count("binding_conflicts"), 1);
    // A claim for the bound user is no conflict; a minted reference for another user is one.
    db.deliver(&checkout("evt_4", 300, "cus_1", "alice"));
    db.deliver(&checkout_ref("evt_5", 300, "cus_1", client_reference(&KEY, "mallory").expect("mint")));
    assert_eq!(db.count("binding_conflicts"), 2);
    assert_eq!(db.one("SELECT source FROM binding_conflicts WHERE id = 2").as_deref(), Some("checkout_reference"));
    assert_eq!(db.user_of("cus_1").as_deref(), Some("alice"));
}

#[test]
fn a_subscription_grants_to_its_own_user() {
    let mut db = Db::new();
    let sub = |id: &str, created, keys| subscription(id, created, "customer.subscription.created", "active", keys);
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&owned(sub("evt_2", 101, &[Some("pro")]), "sub_1", Some("alice")));
    db.deliver(&owned(sub("evt_3", 102, &[Some("team")]), "sub_2", Some("bob")));
    db.deliver(&owned(sub("evt_4", 103, &[Some("search")]), "sub_3", None));
    // Two users on one customer; a subscription that names nobody follows the customer's user.
    assert_eq!(db.entitlements("alice"), ["pro", "search"]);
    assert_eq!(db.entitlements("bob"), ["team"]);
    assert_eq!(db.user_of("cus_1").as_deref(), Some("alice"));
    assert_eq!(db.count("binding_conflicts"), 0, "bob's own subscription is no claim on alice's customer");
    // The first user named keeps the subscription; later claims are recorded, by event or invoice.
    let mut moved = owned(sub("evt_5", 200, &[Some("team")]), "sub_2", Some("mallory"));
    moved["type"] = json!("customer.subscription.updated");
    db.deliver(&moved);
    db.deliver(&event(
        "evt_6",
        "invoice.paid",
        201,
        json!({ "id": "in_1", "customer": "cus_1",
                "parent": { "subscription_details": { "subscription": "sub_2", "metadata": { "mkit_user": "trent" } } } }),
    ));
    assert!(!db.deliver(&moved), "a redelivery records nothing twice");
    assert_eq!(db.entitlements("bob"), ["team"]);
    assert!(db.entitlements("mallory").is_empty() && db.entitlements("trent").is_empty());
    assert_eq!(
        db.conflicts(),
        [
            "cus_1 sub_2 bob mallory subscription_metadata evt_5 200 1000",
            "cus_1 sub_2 bob trent invoice_metadata evt_6 201 1000"
        ]
    );
    // A subscription first seen through its invoice keeps the invoice's user.
    db.deliver(&event(
        "evt_7",
        "invoice.paid",
        300,
        json!({ "id": "in_2", "customer": "cus_1",
                "parent": { "subscription_details": { "subscription": "sub_4", "metadata": { "mkit_user": "carol" } } } }),
    ));
    db.deliver(&owned(sub("evt_8", 301, &[Some("export")]), "sub_4", None));
    assert_eq!(db.entitlements("carol"), ["export"]);
    assert_eq!(db.entitlements("alice"), ["pro", "search"]);
}

#[test]
fn an_event_of_the_other_mode_is_ignored_with_its_reason() {
    let live = LedgerPolicy { livemode: Some(true), ..policy() };
    let mut db = Db::new();
    let sub = owned(
        subscription("evt_1", 100, "customer.subscription.created", "active", &[Some("pro")]),
        "sub_1",
        Some("alice"),
    );
    let (disposition, summary, changes) = db.run(&live, &sub).expect("apply");
    assert_eq!(disposition, Disposition::Ignored(Some(IgnoreReason::LivemodeMismatch)));
    assert_eq!((disposition.as_str(), disposition.reason()), ("ignored", Some("livemode_mismatch")));
    assert_eq!((changes, summary.changes), (vec![1], 0), "only the event is recorded");
    assert_eq!((db.count("customers"), db.count("subscriptions")), (0, 0));
    assert_eq!(
        db.one("SELECT outcome || ' ' || reason FROM processed_events").as_deref(),
        Some("ignored livemode_mismatch")
    );
    // An event that does not say its mode is refused when the mode is known.
    let mut silent = sub.clone();
    silent["id"] = json!("evt_2");
    silent.as_object_mut().expect("object").remove("livemode");
    assert_eq!(db.run(&live, &silent).expect("apply").0, Disposition::Ignored(Some(IgnoreReason::LivemodeMismatch)));
    // A handled type the ledger could not read is recorded too (200), not refused (400).
    let broken = Event::parse(event("evt_3", "customer.subscription.updated", 1, json!({})).to_string().as_bytes());
    let planned = plan(&broken.expect("event"), &live, 0).map(|p| p.0);
    assert_eq!(planned, Ok(Disposition::Ignored(Some(IgnoreReason::LivemodeMismatch))));
    assert!(db.entitlements("alice").is_empty());
    // The same event under a test-mode (or unknown-mode) policy applies.
    let mut again = sub.clone();
    again["id"] = json!("evt_4");
    let test = LedgerPolicy { livemode: Some(false), ..policy() };
    assert_eq!(db.run(&test, &again).expect("apply").0, Disposition::Applied);
    assert_eq!(db.entitlements("alice"), ["pro"]);
}

#[test]
fn an_event_of_an_unexpected_account_is_ignored() {
    let connect = |a: Option<&str>| LedgerPolicy { account: a.map(str::to_owned), ..policy() };
    for (configured, carried, applied) in [
        (None, Some("acct_1"), false),
        (Some("acct_1"), Some("acct_2"), false),
        (Some("acct_1"), Some("acct_1"), true),
        (Some("acct_1"), None, true),
        (None, None, true),
    ] {
        let mut db = Db::new();
        let mut e = checkout("evt_1", 100, "cus_1", "alice");
        if let Some(a) = carried {
            e["account"] = json!(a);
        }
        let (disposition, _, _) = db.run(&connect(configured), &e).expect("apply");
        let expected =
            if applied { Disposition::Applied } else { Disposition::Ignored(Some(IgnoreReason::UnexpectedAccount)) };
        assert_eq!(disposition, expected, "{configured:?} {carried:?}");
        assert_eq!(db.count("customers"), usize::from(applied), "{configured:?} {carried:?}");
        let reason = db.one("SELECT IFNULL(reason, '-') FROM processed_events");
        assert_eq!(reason.as_deref(), Some(if applied { "-" } else { "unexpected_account" }));
    }
}

#[test]
fn a_subscription_lapses_after_its_period_end_and_the_grace() {
    let mut db = Db::new();
    db.deliver(&checkout("evt_1", 100, "cus_1", "alice"));
    db.deliver(&subscription("evt_2", 101, "customer.subscription.created", "active", &[Some("pro")]));
    let own = subscription("evt_3", 102, "customer.subscription.created", "trialing", &[Some("team")]);
    db.deliver(&owned(own, "sub_2", Some("bob")));
    for (user, key) in [("alice", "pro"), ("bob", "team")] {
        // Through the customer's user and through the subscription's own.
        assert_eq!(db.entitlements_at(user, END - 1, 0), [key], "{user}");
        assert!(db.entitlements_at(user, END, 0).is_empty(), "{user}: no grace");
        assert_eq!(db.entitlements_at(user, END + 3 * DAY - 1, 3 * DAY), [key], "{user}");
        assert!(db.entitlements_at(user, END + 3 * DAY, 3 * DAY).is_empty(), "{user}: the grace is over");
    }
    // The renewal's event carries the next period and grants again.
    let mut renewed = subscription("evt_4", 200, "customer.subscription.updated", "active", &[Some("pro")]);
    renewed["data"]["object"]["items"]["data"][0]["current_period_end"] = json!(END + 30 * DAY);
    db.deliver(&renewed);
    assert_eq!(db.entitlements_at("alice", END + 3 * DAY, 3 * DAY), ["pro"]);
    // Without a period end (older events), the status alone grants.
    let mut open = subscription("evt_5", 300, "customer.subscription.created", "active", &[Some("export")]);
    open["data"]["object"]["items"]["data"][0].as_object_mut().expect("item").remove("current_period_end");
    db.deliver(&owned(open, "sub_3", Some("carol")));
    assert_eq!(
        db.one("SELECT IFNULL(current_period_end, 'null') FROM subscriptions WHERE id = 'sub_3'").as_deref(),
        Some("null")
    );
    assert_eq!(db.entitlements_at("carol", i64::MAX / 2, 0), ["export"]);
}

/// The highest `?N` placeholder in a statement.
fn max_placeholder(sql: &str) -> usize {
    let mut max = 0;
    for (i, _) in sql.match_indices('?') {
        let digits: String = sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
        max = max.max(digits.parse().unwrap_or(0));
    }
    max
}

#[test]
fn every_statement_binds_what_its_sql_names() {
    let reference = client_reference(&KEY, "alice").expect("mint");
    let own =
        owned(subscription("evt_1", 1, "customer.subscription.created", "active", &[Some("pro")]), "sub_1", Some("a"));
    for e in [
        checkout("evt_1", 1, "cus_1", "alice"),
        checkout_ref("evt_1", 1, "cus_1", reference.as_str()),
        own,
        invoice("evt_1", "invoice.paid", 1),
        summary("evt_1", 1, "cus_1", &["pro"]),
        event("evt_1", "customer.created", 1, json!({ "id": "cus_1", "metadata": { "mkit_user": "a" } })),
        event("evt_1", "charge.refunded", 1, json!({})),
    ] {
        let e = Event::parse(e.to_string().as_bytes()).expect("event");
        for s in plan(&e, &policy(), 0).expect("plan").1 {
            assert_eq!(max_placeholder(s.sql), s.params.len(), "{}", s.sql);
        }
    }
    assert_eq!(max_placeholder(ENTITLEMENTS_SQL), entitlements_params("a", 1, 2).len());
    assert_eq!(entitlements_params("a", 1, 2), [SqlValue::Text("a".into()), SqlValue::Int(1), SqlValue::Int(2)]);
}

#[test]
fn the_entitlements_query_scans_no_table() {
    let db = Db::new();
    let mut q = db.0.prepare(&format!("EXPLAIN QUERY PLAN {ENTITLEMENTS_SQL}")).expect("prepare");
    let params = sql_params(&entitlements_params("alice", NOW, 0));
    let rows = q.query_map(params_from_iter(params), |r| r.get::<_, String>(3)).expect("query");
    let plan: Vec<String> = rows.map(|r| r.expect("row")).collect();
    let scans: Vec<&String> = plan.iter().filter(|l| l.starts_with("SCAN") && !l.contains("VIRTUAL TABLE")).collect();
    assert!(scans.is_empty(), "{plan:#?}");
}

#[test]
fn summarize_reads_the_batch() {
    assert_eq!(summarize(&[], &[]), Summary { duplicate: true, changes: 0, conflicts: 0 });
}
