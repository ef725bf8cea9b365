//! The paywall against a ledger stand-in.

use super::*;
use serde_json::json;

#[path = "object_tests.rs"]
mod object_tests;
#[path = "replica_tests.rs"]
mod replica_tests;
#[cfg(feature = "tasks")]
#[path = "task_billing_tests.rs"]
mod task_billing_tests;
#[cfg(feature = "tasks")]
#[path = "task_tests.rs"]
mod task_tests;
use std::cell::Cell;

/// A SQLite database with every kit migration applied, in order, as D1 local has them.
pub(crate) fn test_db() -> rusqlite::Connection {
    let c = rusqlite::Connection::open_in_memory().expect("sqlite");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../mkit/migrations");
    let mut names: Vec<_> = std::fs::read_dir(dir).expect("migrations").flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names {
        c.execute_batch(&std::fs::read_to_string(&p).expect("sql")).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    c
}

/// A ledger stand-in that counts its reads.
struct Fake<'c> {
    keys: Result<&'static [&'static str], StoreError>,
    reads: &'c Cell<usize>,
}

impl LedgerReader for Fake<'_> {
    async fn entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        assert_eq!(sub, "u1");
        self.reads.set(self.reads.get() + 1);
        self.keys.map(|k| k.iter().map(|s| (*s).to_owned()).collect())
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn entitled_callers_pass_and_the_ledger_is_read_once() {
    let reads = Cell::new(0);
    let p = Paywall::new(Fake { keys: Ok(&["pro", "team"]), reads: &reads }, "u1", Offer::default());
    assert_eq!(block_on(p.require("text_stats", "pro")), Ok(()));
    assert_eq!(block_on(p.require("text_stats", "team")), Ok(()));
    assert_eq!(block_on(p.keys()), Ok(vec!["pro".to_owned(), "team".to_owned()]));
    assert_eq!(reads.get(), 1);
}

#[test]
fn payment_required_names_the_entitlement_and_where_to_pay() {
    let reads = Cell::new(0);
    let offer = Offer { upgrade_url: Some("https://example.com/upgrade"), links: None, credit_pack: None };
    let p = Paywall::new(Fake { keys: Ok(&["team"]), reads: &reads }, "u1", offer);
    let Err(Denial::PaymentRequired { result: e, pay: None }) = block_on(p.require("text_stats", "pro")) else {
        panic!("not entitled, and no pay link without the pay pages");
    };
    assert_eq!(
        e.structured,
        Some(json!({"error": "payment_required", "entitlement": "pro",
            "upgrade_url": "https://example.com/upgrade", "checkout_url": null}))
    );
    assert!(e.message.contains("\"pro\"") && e.message.contains("/upgrade"));
    let p = Paywall::new(Fake { keys: Ok(&[]), reads: &reads }, "u1", Offer::default());
    let Err(Denial::PaymentRequired { result: e, .. }) = block_on(p.require("text_stats", "pro")) else {
        panic!("not entitled");
    };
    assert_eq!(e.structured.as_ref().map(|s| s["upgrade_url"].clone()), Some(serde_json::Value::Null));
    assert_eq!(Entitlements::manage_url(&p), None);
}

#[test]
fn with_pay_pages_the_caller_gets_their_own_checkout_link() {
    let reads = Cell::new(0);
    let links =
        LinkMint { key: [9; 32], base_url: "https://mkit.example", issuer: "https://iss/", now_secs: 1_800_000_000 };
    let offer = Offer { upgrade_url: Some("https://example.com/upgrade"), links: Some(links), credit_pack: None };
    let p = Paywall::new(Fake { keys: Ok(&[]), reads: &reads }, "u1", offer);
    let Err(Denial::PaymentRequired { result, pay: Some(pay) }) = block_on(p.require("text_stats", "pro")) else {
        panic!("a pay link");
    };
    assert!(pay.url.starts_with("https://mkit.example/billing/checkout?t="));
    let token = pay.url.split_once("?t=").map(|(_, t)| t).unwrap_or_default();
    let link = crate::paylink::open(&[[9; 32]], "https://iss/", "u1", Kind::Checkout, token, 1_800_000_001);
    assert_eq!(link.map(|l| (l.entitlement, l.nonce)), Ok(("pro".to_owned(), pay.id.clone())));
    let s = result.structured.expect("structured");
    assert_eq!(
        (s["checkout_url"].as_str(), s["upgrade_url"].as_str()),
        (Some(pay.url.as_str()), Some("https://example.com/upgrade"))
    );
    assert!(result.message.contains(&pay.url));
    assert!(Entitlements::manage_url(&p).is_some_and(|u| u.starts_with("https://mkit.example/billing/portal?t=")));
}

#[test]
fn an_unreadable_ledger_fails_closed_once_per_request() {
    let reads = Cell::new(0);
    let p = Paywall::new(Fake { keys: Err(StoreError::Query), reads: &reads }, "u1", Offer::default());
    for _ in 0..3 {
        let Err(Denial::Unavailable(e)) = block_on(p.require("text_stats", "pro")) else { panic!("fails closed") };
        assert_eq!(e.structured, Some(json!({"error": "entitlements_unavailable"})));
        assert!(e.message.contains("storage_failed"));
    }
    assert!(block_on(p.keys()).is_err());
    assert_eq!(reads.get(), 1);
}

/// The real SQL on SQLite, failing the next `fail` batches.
struct Sqlite {
    c: std::cell::RefCell<rusqlite::Connection>,
    fail: Cell<usize>,
    batches: Cell<usize>,
    ids: Cell<u32>,
}

impl Sqlite {
    fn funded(balance: i64) -> Sqlite {
        let c = crate::tests::test_db();
        c.execute("INSERT INTO credit_balances (user_sub, balance) VALUES ('u1', ?1)", [balance]).expect("fund");
        Sqlite { c: c.into(), fail: Cell::new(0), batches: Cell::new(0), ids: Cell::new(0) }
    }

    fn query(&self, sql: &str) -> i64 {
        self.c.borrow().query_row(sql, [], |r| r.get(0)).expect(sql)
    }
}

impl LedgerReader for &Sqlite {
    async fn entitlement_keys(&self, _sub: &str) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<usize>, StoreError> {
        self.batches.set(self.batches.get() + 1);
        if self.fail.get() > 0 {
            self.fail.set(self.fail.get() - 1);
            return Err(StoreError::Query);
        }
        Ok(mkit_kernel::sql::run_batch(&mut self.c.borrow_mut(), &statements))
    }

    async fn number(&self, s: Statement) -> Result<Option<i64>, StoreError> {
        let c = self.c.borrow();
        let mut q = c.prepare(s.sql).map_err(|_| StoreError::Statement)?;
        let mut rows = q
            .query(rusqlite::params_from_iter(mkit_kernel::sql::sqlite_values(&s.params)))
            .map_err(|_| StoreError::Query)?;
        Ok(rows.next().ok().flatten().and_then(|r| r.get(0).ok()))
    }

    fn new_id(&self) -> Option<String> {
        self.ids.set(self.ids.get() + 1);
        Some(format!("d{}", self.ids.get()))
    }
}

fn selling_packs(pack: Option<&'static str>) -> Offer<'static> {
    let links =
        LinkMint { key: [9; 32], base_url: "https://mkit.example", issuer: "https://iss/", now_secs: 1_800_000_000 };
    Offer { upgrade_url: None, links: Some(links), credit_pack: pack }
}

#[test]
fn credits_are_reserved_then_settled_or_refunded_and_the_balance_shows_it() {
    let db = Sqlite::funded(5);
    let p = Paywall::new(&db, "u1", Offer::default()).with_quotas(Vec::new(), 100);
    assert_eq!(block_on(p.credit_balance()), Ok(Some(5)));
    let ok = block_on(p.reserve_credits("search", 2)).expect("reserved");
    let failed = block_on(p.reserve_credits("search", 2)).expect("reserved");
    assert_eq!(block_on(p.credit_balance()), Ok(Some(1)));
    block_on(p.settle_call(Some(&ok), None));
    block_on(p.refund_credits(&failed));
    assert_eq!(block_on(p.credit_balance()), Ok(Some(3)));
    assert_eq!(db.query("SELECT COUNT(*) FROM meter_outbox"), 0, "no meter, no usage row");
}

#[test]
fn a_short_balance_is_asked_to_buy_the_pack() {
    let db = Sqlite::funded(1);
    let p = Paywall::new(&db, "u1", selling_packs(Some("credits_100")));
    let Err(Denial::PaymentRequired { result, pay: Some(pay) }) = block_on(p.reserve_credits("search", 2)) else {
        panic!("asked to pay");
    };
    let token = pay.url.split_once("?t=").map(|(_, t)| t).unwrap_or_default();
    let link = crate::paylink::open(&[[9; 32]], "https://iss/", "u1", Kind::Checkout, token, 1_800_000_001);
    assert_eq!(link.map(|l| l.entitlement), Ok("credits_100".to_owned()), "the link sells the pack");
    assert_eq!(result.structured.as_ref().map(|s| s["credits"].clone()), Some(json!(2)));
    assert!(result.message.contains("costs 2 credits") && result.message.contains(&pay.url));
    let p = Paywall::new(&db, "u1", selling_packs(None));
    let Err(Denial::PaymentRequired { pay: None, .. }) = block_on(p.reserve_credits("search", 2)) else {
        panic!("no pack on sale, no link");
    };
    assert_eq!(block_on(p.credit_balance()), Ok(Some(1)), "nothing was taken");
}

#[test]
fn a_metered_settle_writes_its_usage_with_the_debit_and_survives_one_store_error() {
    let db = Sqlite::funded(5);
    let p = Paywall::new(&db, "u1", Offer::default()).with_quotas(Vec::new(), 100);
    let debit = block_on(p.reserve_credits("search", 1)).expect("reserved");
    db.fail.set(1);
    block_on(p.settle_call(Some(&debit), Some(MeterUsage { event_name: "units", value: 7 })));
    assert_eq!(db.query("SELECT value FROM meter_outbox WHERE id = 'd1'"), 7, "the debit id is the meter identifier");
    assert_eq!(db.query("SELECT COUNT(*) FROM credit_debits WHERE state = 'settled'"), 1);
    block_on(p.settle_call(None, Some(MeterUsage { event_name: "units", value: 2 })));
    assert_eq!(db.query("SELECT COUNT(*) FROM meter_outbox"), 2, "a granted call gets its own id");
    let refunded = block_on(p.reserve_credits("search", 1)).expect("reserved");
    db.fail.set(1);
    block_on(p.refund_credits(&refunded));
    assert_eq!(block_on(p.credit_balance()), Ok(Some(4)), "the refund was retried once");
}

#[test]
fn a_store_that_fails_refuses_paid_calls() {
    let db = Sqlite::funded(5);
    db.fail.set(1);
    let p = Paywall::new(&db, "u1", Offer::default());
    let Err(Denial::Unavailable(e)) = block_on(p.reserve_credits("search", 1)) else { panic!("fails closed") };
    assert!(e.message.contains("storage_failed"));
}

/// A reader with keys read moments ago by another request of this isolate.
struct Recent<'c> {
    recent: Option<&'static [&'static str]>,
    now: &'static [&'static str],
    reads: &'c Cell<usize>,
}

impl LedgerReader for Recent<'_> {
    async fn entitlement_keys(&self, _sub: &str) -> Result<Vec<String>, StoreError> {
        self.reads.set(self.reads.get() + 1);
        Ok(self.now.iter().map(|s| (*s).to_owned()).collect())
    }
    fn recent_keys(&self, _sub: &str) -> Option<Vec<String>> {
        self.recent.map(|k| k.iter().map(|s| (*s).to_owned()).collect())
    }
}

#[test]
fn recent_keys_let_a_paid_call_run_without_a_read_but_never_refuse_one() {
    let reads = Cell::new(0);
    let p = Paywall::new(Recent { recent: Some(&["pro"]), now: &[], reads: &reads }, "u1", Offer::default());
    assert_eq!(block_on(p.require("text_stats", "pro")), Ok(()), "granted from this isolate's recent read");
    assert_eq!(reads.get(), 0);
    // Bought "team" a moment ago: the recent keys lack it, so the ledger is read and decides.
    let p =
        Paywall::new(Recent { recent: Some(&["pro"]), now: &["pro", "team"], reads: &reads }, "u1", Offer::default());
    assert_eq!(block_on(p.require("text_stats", "team")), Ok(()));
    assert_eq!(reads.get(), 1);
    let p = Paywall::new(Recent { recent: None, now: &[], reads: &reads }, "u1", Offer::default());
    assert!(matches!(block_on(p.require("text_stats", "pro")), Err(Denial::PaymentRequired { .. })));
    assert_eq!(reads.get(), 2, "nothing recent: read");
    // whoami's keys are always read.
    let p = Paywall::new(Recent { recent: Some(&["pro"]), now: &[], reads: &reads }, "u1", Offer::default());
    assert_eq!(block_on(p.keys()), Ok(Vec::new()));
}

#[test]
fn without_credit_priced_tools_no_balance_is_read() {
    let db = Sqlite::funded(5);
    let p = Paywall::new(&db, "u1", Offer::default()).with_credits(false);
    assert_eq!(block_on(p.credit_balance()), Ok(None));
    assert_eq!(block_on(Paywall::new(&db, "u1", Offer::default()).with_credits(true).credit_balance()), Ok(Some(5)));
}

#[test]
fn a_free_call_goes_back_to_the_window_it_was_taken_from_and_not_once_that_window_ended() {
    // #28 item 10: the give-back names its window; the current one is never credited instead.
    let db = Sqlite::funded(0);
    let q = FreeQuota { calls: 2, window: crate::quota::Window::Hour, group: None };
    let used =
        |start: i64| db.query(&format!("SELECT COALESCE(SUM(used), 0) FROM quota_usage WHERE window_start = {start}"));
    let (hour_1, hour_2) = (1_800_000_000, 1_800_003_600);
    let at = |now| Paywall::new(&db, "u1", Offer::default()).with_quotas(vec![("search", q)], now);
    assert_eq!(block_on(at(hour_2 - 1).take_free_call("search", &q)), Ok(hour_1), "the window it was taken from");
    let now = at(hour_2 + 5);
    assert_eq!(block_on(now.take_free_call("search", &q)), Ok(hour_2));
    block_on(now.give_back_free_call("search", &q, hour_1));
    assert_eq!((used(hour_1), used(hour_2)), (1, 1), "hour 1 has ended: nothing moves, hour 2 keeps its call");
    block_on(now.give_back_free_call("search", &q, hour_2));
    assert_eq!(used(hour_2), 0, "within its window a call goes back");
}

/// A task keeps its admission as the paywall's ticket; every ticket ever stored still reads.
#[test]
fn a_task_ticket_stored_before_free_calls_named_their_window_still_reads() {
    use super::admission::{from_ticket, ticket, Admission};
    let old = from_ticket(&json!("FreeQuota"));
    assert_eq!(old, Some(Admission::FreeQuota { window_start: 0 }), "an ended window: nothing goes back");
    for admission in [
        Admission::Free,
        Admission::Granted,
        Admission::FreeQuota { window_start: 1_800_000_000 },
        Admission::Credits("d1".into()),
    ] {
        assert_eq!(from_ticket(&ticket(&admission)), Some(admission));
    }
    assert_eq!(from_ticket(&serde_json::Value::Null), Some(Admission::Free), "a free tool's task keeps no ticket");
    assert_eq!(from_ticket(&json!({ "Credits": 7 })), None, "a ticket that cannot be read is not a free call");
    // The tickets of tasks stored before the gate moved out of the protocol core.
    assert_eq!(from_ticket(&json!({ "Credits": "d1" })), Some(Admission::Credits("d1".into())));
    assert_eq!(from_ticket(&json!("Granted")), Some(Admission::Granted));
}

/// Each row `s` selects on SQLite, as D1 hands rows over: a JSON object by column name.
fn json_rows(c: &rusqlite::Connection, s: &Statement) -> Vec<serde_json::Value> {
    let mut q = c.prepare(s.sql).expect("sql");
    let names: Vec<String> = q.column_names().map(str::to_owned).collect();
    let mut rows = q.query(rusqlite::params_from_iter(mkit_kernel::sql::sqlite_values(&s.params))).expect("query");
    let mut out = Vec::new();
    while let Ok(Some(r)) = rows.next() {
        let mut o = serde_json::Map::new();
        for (i, n) in names.iter().enumerate() {
            let v = match r.get_ref(i).expect("column") {
                rusqlite::types::ValueRef::Integer(n) => json!(n),
                rusqlite::types::ValueRef::Real(n) => json!(n),
                rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                _ => serde_json::Value::Null,
            };
            o.insert(n.clone(), v);
        }
        out.push(serde_json::Value::Object(o));
    }
    out
}

/// The SQLite ledger that reads together (as D1's session batch does), counting its round trips.
struct Together<'a>(&'a Sqlite, Cell<usize>);

impl LedgerReader for &Together<'_> {
    async fn entitlement_keys(&self, _sub: &str) -> Result<Vec<String>, StoreError> {
        self.1.set(self.1.get() + 1);
        Ok(vec!["pro".into()])
    }
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<usize>, StoreError> {
        (&self.0).batch(statements).await
    }
    async fn number(&self, s: Statement) -> Result<Option<i64>, StoreError> {
        self.1.set(self.1.get() + 1);
        (&self.0).number(s).await
    }
    async fn counters(&self, s: Statement) -> Result<Vec<(String, i64, i64)>, StoreError> {
        self.1.set(self.1.get() + 1);
        let rows = json_rows(&self.0.c.borrow(), &s);
        let n = |r: &serde_json::Value, k: &str| r[k].as_i64().unwrap_or_default();
        Ok(rows
            .iter()
            .map(|r| (r["quota_key"].as_str().unwrap_or_default().to_owned(), n(r, "window_start"), n(r, "used")))
            .collect())
    }
    async fn read_together(&self, _sub: &str, reads: Vec<Statement>) -> Result<super::Together, StoreError> {
        self.1.set(self.1.get() + 1);
        Ok((vec!["pro".into()], reads.iter().map(|s| json_rows(&self.0.c.borrow(), s)).collect()))
    }
}

/// What `whoami` shows is read in one round trip where the ledger batches reads, and is what the
/// reads one by one show: keys, each quota's standing, the balance, and the extra rows.
#[test]
fn the_standing_is_read_in_one_round_trip_and_matches_the_reads_one_by_one() {
    let db = Sqlite::funded(7);
    let quota = FreeQuota { calls: 5, window: crate::quota::Window::Day, group: None };
    let now = 1_800_000_000;
    let paywall = |reader| Paywall::new(reader, "u1", Offer::default()).with_quotas(vec![("search", quota)], now);
    let together = Together(&db, Cell::new(0));
    let p = paywall(&together);
    for _ in 0..2 {
        block_on(p.take_free_call("search", &quota)).expect("a free call");
    }
    let extra = Statement {
        sql: "SELECT balance * 2 AS doubled FROM credit_balances WHERE user_sub = ?1",
        params: vec![mkit_kernel::sql::SqlValue::Text("u1".into())],
    };
    let at_once = block_on(p.standing(Some(extra))).expect("read");
    assert_eq!(together.1.get(), 1, "one round trip");
    assert_eq!((at_once.keys.clone(), at_once.credits), (vec!["pro".to_owned()], Some(7)));
    assert_eq!((at_once.quotas[0].used, at_once.quotas[0].remaining), (2, 3));
    assert_eq!(at_once.extra, Some(vec![json!({ "doubled": 14 })]));
    assert_eq!(block_on(p.keys()), Ok(vec!["pro".to_owned()]), "the keys read together are kept for the request");
    assert_eq!(together.1.get(), 1);
    // One by one (a ledger that cannot batch): the same standing, three round trips, no extra.
    let one_by_one = Together(&db, Cell::new(0));
    let q = paywall(&one_by_one);
    let each = block_on(Entitlements::standing(&QuietlyAlone(&q), None)).expect("read");
    assert_eq!(
        (each.keys, each.quotas, each.credits, each.extra),
        (at_once.keys, at_once.quotas, at_once.credits, None)
    );
    assert_eq!(one_by_one.1.get(), 3);
}

/// A paywall seen only through the trait's default `standing` (one read each).
struct QuietlyAlone<'a, R>(&'a Paywall<'a, R>);

impl<R: LedgerReader> Entitlements for QuietlyAlone<'_, R> {
    async fn keys(&self) -> Result<Vec<String>, ToolError> {
        self.0.keys().await
    }
    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), Denial> {
        self.0.require(tool, entitlement).await
    }
    async fn quota_usage(&self) -> Result<Vec<QuotaUsage>, ToolError> {
        self.0.quota_usage().await
    }
    async fn credit_balance(&self) -> Result<Option<i64>, ToolError> {
        self.0.credit_balance().await
    }
}
