//! The caller's `McpCounters` object (`counter_object.rs`) as the paywall's `CounterObject`:
//! used where the operator binds `MKIT_COUNTERS`, else the paywall counts in D1 as before; and a
//! payer's, for their machine payments (`payer_object.rs`).

use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use serde_json::{json, Value};
use worker::{Delay, Env, Headers, Method, Stub};

use crate::billing::payer::{Claim, PaymentRow};
use crate::billing::StoreError;
use crate::bindings::Binding;
use crate::mcp::LocalFuture;
use crate::paywall::{Counted, CounterObject, MeterUsage};

/// An answer from the caller's object ends within this, or the paid call fails closed.
const DEADLINE: Duration = Duration::from_secs(5);

/// One account holder's `McpCounters` object: a caller's counters, or a payer's payments.
pub struct Counters {
    stub: Rc<Stub>,
    sub: String,
}

impl Counters {
    /// The object of caller `sub` (named by a public hash of issuer and subject), if the
    /// deployment binds `MKIT_COUNTERS`.
    pub fn for_caller(env: &Env, issuer: &str, sub: &str) -> Option<Counters> {
        Self::named(env, issuer, sub.to_owned())
    }

    /// The object of payer `payer` (an EVM address, named by a public hash of it) that holds
    /// their machine payments, if the deployment binds `MKIT_COUNTERS`.
    pub fn for_payer(env: &Env, payer: &str) -> Option<Counters> {
        // "x402" is no issuer (those are https URLs), so no caller's object shares the name.
        Self::named(env, "x402", payer.to_ascii_lowercase())
    }

    fn named(env: &Env, issuer: &str, sub: String) -> Option<Counters> {
        let name = Binding::Counters.name();
        let ns = env.durable_object(name).ok()?;
        let stub = ns.id_from_name(&crate::mac::object_name(name, issuer, &sub)).ok()?.get_stub().ok()?;
        Some(Counters { stub: Rc::new(stub), sub })
    }

    /// Claims payment `row` in its payer's object.
    pub async fn claim(&self, row: &PaymentRow) -> Result<Claim, StoreError> {
        match self.call("claim", json!({ "row": row })).await?.get("claim").and_then(Value::as_str) {
            Some("claimed") => Ok(Claim::Claimed),
            Some("used") => Ok(Claim::Used),
            Some("full") => Ok(Claim::Full),
            Some("unavailable") => Err(StoreError::Query),
            _ => Err(StoreError::Rows),
        }
    }

    /// Records how payment `key` ended (`settled` in `tx`, `failed` or `unconfirmed` for
    /// `reason`, or `released`).
    pub async fn payment_outcome(&self, key: &str, outcome: &str, tx: &str, reason: &str) -> Result<(), StoreError> {
        let body = json!({ "key": key, "outcome": outcome, "tx": tx, "reason": reason });
        match self.ok("payment", body).await? {
            true => Ok(()),
            false => Err(StoreError::Rows),
        }
    }

    async fn call(&self, op: &str, body: Value) -> Result<Value, StoreError> {
        exchange(&self.stub, &self.sub, op, body).await
    }

    async fn ok(&self, op: &str, body: Value) -> Result<bool, StoreError> {
        answered_ok(self.call(op, body).await)
    }
}

/// One operation `op` on the object behind `stub`, for caller `sub`: its JSON answer.
async fn exchange(stub: &Stub, sub: &str, op: &str, mut body: Value) -> Result<Value, StoreError> {
    body["sub"] = json!(sub);
    let url = format!("https://mkit-object/{op}");
    let req = super::fetch::new_request(&url, Method::Post, &Headers::new(), Some(&body.to_string()), true)
        .map_err(|_| StoreError::Statement)?;
    let exchange = Box::pin(async {
        let mut resp = stub.fetch_with_request(req).await.ok()?;
        let ok = resp.status_code() == 200;
        let text = resp.text().await.ok()?;
        ok.then(|| serde_json::from_str::<Value>(&text).ok()).flatten()
    });
    match select(exchange, Box::pin(Delay::from(DEADLINE))).await {
        Either::Left((Some(answer), _)) => Ok(answer),
        _ => Err(StoreError::Query),
    }
}

fn answered_ok(answer: Result<Value, StoreError>) -> Result<bool, StoreError> {
    answer?.get("ok").and_then(Value::as_bool).ok_or(StoreError::Rows)
}

impl CounterObject for Counters {
    fn take<'a>(&'a self, key: &'a str, start: i64, limit: u32) -> LocalFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.ok("take", json!({ "key": key, "start": start, "limit": limit })))
    }

    fn give_back<'a>(&'a self, key: &'a str, start: i64) -> LocalFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.ok("give-back", json!({ "key": key, "start": start })).await.map(drop) })
    }

    fn reserve<'a>(&'a self, id: &'a str, tool: &'a str, credits: u32) -> LocalFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.ok("reserve", json!({ "id": id, "tool": tool, "credits": credits })))
    }

    fn settle<'a>(
        &'a self,
        debit: Option<&'a str>,
        usage: Option<(&'a str, MeterUsage<'a>)>,
    ) -> LocalFuture<'a, Result<(), StoreError>> {
        if let (Some(debit), None) = (debit, usage) {
            // A credit call's settle is not waited for: the run succeeded, and its reservation
            // already counts against the balance, so the answer can go now. Were the settle lost
            // with the isolate, the object's sweep settles the reservation an hour on, as it does
            // for a run that ended mid-way (`CallerCounters::sweep`): the same outcome, later.
            let (stub, sub, body) = (Rc::clone(&self.stub), self.sub.clone(), json!({ "debit": debit }));
            super::after_response::defer(async move {
                for _ in 0..2 {
                    if answered_ok(exchange(&stub, &sub, "settle", body.clone()).await) == Ok(true) {
                        return;
                    }
                }
            });
            return Box::pin(async { Ok(()) });
        }
        let usage = usage.map(|(id, u)| json!({ "id": id, "event_name": u.event_name, "value": u.value }));
        Box::pin(async move {
            match self.ok("settle", json!({ "debit": debit, "usage": usage })).await? {
                true => Ok(()),
                false => Err(StoreError::Query),
            }
        })
    }

    fn refund<'a>(&'a self, debit: &'a str) -> LocalFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.ok("refund", json!({ "debit": debit })).await.map(drop) })
    }

    fn standing(&self, since: i64, balance: bool) -> LocalFuture<'_, Result<Counted, StoreError>> {
        Box::pin(async move {
            let answer = self.call("standing", json!({ "since": since, "balance": balance })).await?;
            let counters = serde_json::from_value(answer["counters"].clone()).map_err(|_| StoreError::Rows)?;
            Ok((counters, answer["balance"].as_i64().ok_or(StoreError::Rows)?))
        })
    }
}
