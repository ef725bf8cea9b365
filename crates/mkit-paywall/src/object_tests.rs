//! The paywall with a caller's counters object: every counter moves there, none at D1.

use super::*;
use mkit_billing::counters::{CallerCounters, Reserve};
use std::cell::{Cell, RefCell};

/// The object's own counters behind the interface, failing the next `fail` calls.
struct Object {
    counters: RefCell<CallerCounters>,
    calls: Cell<usize>,
    fail: Cell<usize>,
}

impl Object {
    fn funded(balance: i64) -> Object {
        let mut counters = CallerCounters::default();
        counters.import(Vec::new(), Some(balance));
        Object { counters: RefCell::new(counters), calls: Cell::new(0), fail: Cell::new(0) }
    }

    fn call<T>(&self, f: impl FnOnce(&mut CallerCounters) -> T) -> Result<T, StoreError> {
        self.calls.set(self.calls.get() + 1);
        if self.fail.get() > 0 {
            self.fail.set(self.fail.get() - 1);
            return Err(StoreError::Query);
        }
        Ok(f(&mut self.counters.borrow_mut()))
    }
}

impl CounterObject for Object {
    fn take<'a>(&'a self, key: &'a str, start: i64, limit: u32) -> mkit_mcp::LocalFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { self.call(|c| c.take(key, start, limit)) })
    }
    fn give_back<'a>(&'a self, key: &'a str, start: i64) -> mkit_mcp::LocalFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.call(|c| c.give_back(key, start)) })
    }
    fn reserve<'a>(
        &'a self,
        id: &'a str,
        tool: &'a str,
        n: u32,
    ) -> mkit_mcp::LocalFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { self.call(|c| c.reserve(id, tool, n, 100) == Reserve::Reserved) })
    }
    fn settle<'a>(
        &'a self,
        debit: Option<&'a str>,
        usage: Option<(&'a str, MeterUsage<'a>)>,
    ) -> mkit_mcp::LocalFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.call(|c| {
                debit.inspect(|d| c.settle(d));
                usage.map(|(id, u)| c.record_usage(id, u.event_name, u.value, 100));
            })
        })
    }
    fn refund<'a>(&'a self, debit: &'a str) -> mkit_mcp::LocalFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.call(|c| c.refund(debit)) })
    }
    fn standing(&self, since: i64, _balance: bool) -> mkit_mcp::LocalFuture<'_, Result<Counted, StoreError>> {
        Box::pin(async move { self.call(|c| (c.usage(since), c.available())) })
    }
}

/// A ledger that holds keys and has an object: any D1 write or counter read fails the test.
struct WithObject<'o>(&'o Object, Cell<usize>);

impl LedgerReader for WithObject<'_> {
    async fn entitlement_keys(&self, _sub: &str) -> Result<Vec<String>, StoreError> {
        Ok(vec!["pro".to_owned()])
    }
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<usize>, StoreError> {
        panic!("a counter reached D1: {}", statements[0].sql)
    }
    async fn counters(&self, _: Statement) -> Result<Vec<(String, i64, i64)>, StoreError> {
        panic!("counters were read from D1")
    }
    fn new_id(&self) -> Option<String> {
        self.1.set(self.1.get() + 1);
        Some(format!("id{}", self.1.get()))
    }
    async fn read_together(&self, _sub: &str, reads: Vec<Statement>) -> Result<crate::Together, StoreError> {
        assert!(reads.is_empty(), "only the keys come from D1");
        Ok((vec!["pro".to_owned()], Vec::new()))
    }
    fn counter_object(&self) -> Option<&dyn CounterObject> {
        Some(self.0)
    }
}

const DAY: i64 = 86_400;

#[test]
fn quotas_credits_and_meters_are_counted_in_the_callers_object() {
    let object = Object::funded(5);
    let quota = FreeQuota { calls: 2, window: quota::Window::Day, group: None };
    let p = Paywall::new(WithObject(&object, Cell::new(0)), "u1", Offer::default())
        .with_quotas(vec![("q", quota)], 3 * DAY + 5);
    assert_eq!(block_on(p.take_free_call("q", &quota)), Ok(3 * DAY));
    assert_eq!(block_on(p.take_free_call("q", &quota)), Ok(3 * DAY));
    assert!(matches!(block_on(p.take_free_call("q", &quota)), Err(Denial::QuotaExceeded(_))));
    block_on(p.give_back_free_call("q", &quota, 3 * DAY));
    let ok = block_on(p.reserve_credits("search", 2)).expect("reserved");
    let failed = block_on(p.reserve_credits("search", 3)).expect("reserved");
    assert!(matches!(block_on(p.reserve_credits("search", 1)), Err(Denial::PaymentRequired { .. })));
    object.fail.set(1);
    block_on(p.settle_call(Some(&ok), Some(MeterUsage { event_name: "units", value: 7 })));
    block_on(p.refund_credits(&failed));
    let standing = block_on(p.standing(None)).expect("standing");
    assert_eq!((standing.keys, standing.credits), (vec!["pro".to_owned()], Some(3)));
    assert_eq!((standing.quotas[0].used, standing.quotas[0].remaining), (1, 1));
    assert_eq!(block_on(p.credit_balance()), Ok(Some(3)));
    assert_eq!(block_on(p.quota_usage()).map(|q| q[0].used), Ok(1));
    let c = object.counters.borrow();
    assert!(c.dirty(), "the settled debit and the usage row wait for D1");
    let flush = c.flush("u1");
    assert!(flush.statements.iter().any(|s| s.sql.contains("meter_outbox")), "the usage row was kept after one error");
}

#[test]
fn an_object_that_cannot_be_reached_fails_paid_calls_closed() {
    let object = Object::funded(5);
    object.fail.set(2);
    let quota = FreeQuota { calls: 2, window: quota::Window::Day, group: None };
    let p = Paywall::new(WithObject(&object, Cell::new(0)), "u1", Offer::default()).with_quotas(vec![("q", quota)], 5);
    assert!(matches!(block_on(p.take_free_call("q", &quota)), Err(Denial::Unavailable(_))));
    assert!(matches!(block_on(p.reserve_credits("search", 1)), Err(Denial::Unavailable(_))));
    assert_eq!(object.counters.borrow().available(), 5);
}
