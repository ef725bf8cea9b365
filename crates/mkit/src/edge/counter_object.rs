//! `McpCounters`: one Durable Object per caller holding that caller's free-quota windows, credit
//! reservations and metered usage (`billing::counters`), where the operator binds `MKIT_COUNTERS`;
//! the same class, named by a payer, holds that payer's machine payments (`payer_object.rs`).
//! The object runs one request at a time, so no count passes its limit however many calls race,
//! and it answers from its own storage: a paid call waits on no D1 write. Its alarm writes what
//! moved to the D1 ledger, once each (`CallerCounters::flush`), and reads back the balance.
//!
//! D1 is read from here only when the object first serves the caller (their windows and balance
//! carry over) and when a reservation falls short (a grant written since counts; a refusal is
//! confirmed against D1). Only the Worker reaches it, through its binding (`counters.rs`).

use std::cell::RefCell;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{console_log, durable_object, DurableObject, Env, Request, Response, Result, State};

use super::d1::batch_rows;
use super::object_storage::{get_json, put_json};
use crate::billing::counters::{CallerCounters, Reserve};
use crate::billing::payer::{PayerPayments, PaymentRow};
use crate::billing::usage::{counter_row as counter, first_number};
use crate::billing::StoreError;

/// How long after a failed flush the alarm tries again.
const RETRY_MS: u64 = 30_000;
/// How long counts wait before they are written to D1: the calls of a burst share one batch.
const FLUSH_DELAY_MS: u64 = 1_000;

/// What the object keeps: whose counters they are, and the counters.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct Stored {
    sub: String,
    counters: CallerCounters,
    /// A payer's object: their machine payments (a caller's object holds none).
    #[serde(default)]
    pub(super) payments: PayerPayments,
}

#[durable_object]
pub struct McpCounters {
    state: State,
    pub(super) env: Env,
    pub(super) kept: RefCell<Option<Stored>>,
}

/// What the Worker sends (`counters.rs`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Op {
    sub: String,
    pub(super) key: String,
    start: i64,
    limit: u32,
    id: String,
    tool: String,
    credits: u32,
    debit: Option<String>,
    usage: Option<UsageOp>,
    since: i64,
    balance: bool,
    /// A payer's object: the payment to claim, or one's outcome.
    pub(super) row: Option<PaymentRow>,
    pub(super) outcome: String,
    pub(super) tx: String,
    pub(super) reason: String,
}

#[derive(Deserialize)]
struct UsageOp {
    id: String,
    event_name: String,
    value: i64,
}

pub(super) fn now_secs() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

impl DurableObject for McpCounters {
    fn new(state: State, env: Env) -> Self {
        McpCounters { state, env, kept: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: Op = req.json().await.unwrap_or_default();
        if op.sub.is_empty() {
            return Response::error("no caller", 400);
        }
        let path = req.path();
        let answer = match self.payment_op(&path, &op).await {
            Some(answer) => answer,
            None => match self.counter_op(&path, &op).await {
                Ok(answer) => answer,
                Err(reply) => return reply,
            },
        };
        self.save().await?;
        Response::from_json(&answer)
    }

    /// Writes what moved to D1; on failure, tries again later (nothing is dropped).
    async fn alarm(&self) -> Result<Response> {
        if self.load().await.is_none() {
            return Response::ok("empty");
        }
        self.with(|c| c.sweep(now_secs()));
        self.with_payments(|p| p.sweep(now_secs()));
        match self.write_back().await {
            Ok(()) => self.save().await?,
            Err(e) => {
                console_log!("{{\"event\":\"counters_flush\",\"error\":\"{}\"}}", e.code());
                self.state.storage().set_alarm(Duration::from_millis(RETRY_MS)).await?;
            }
        }
        Response::ok("flushed")
    }
}

impl McpCounters {
    /// A caller's counters operation (`counters.rs` sends them): its answer, or the error reply.
    async fn counter_op(&self, path: &str, op: &Op) -> std::result::Result<Value, Result<Response>> {
        let unavailable = |e: StoreError| Response::error(e.code(), 503);
        self.ready(&op.sub).await.map_err(unavailable)?;
        Ok(match path {
            "/take" => json!({ "ok": self.with(|c| c.take(&op.key, op.start, op.limit)) }),
            "/give-back" => {
                self.with(|c| c.give_back(&op.key, op.start));
                json!({ "ok": true })
            }
            "/reserve" => json!({ "ok": self.reserve(op).await.map_err(unavailable)? }),
            "/settle" => json!({ "ok": self.settle(op) }),
            "/refund" => {
                self.with(|c| op.debit.as_deref().inspect(|d| c.refund(d)));
                json!({ "ok": true })
            }
            "/standing" => {
                // A pack paid since the last read shows at once (a replica may answer).
                if op.balance {
                    self.rebalance(&op.sub, true).await.map_err(unavailable)?;
                }
                let (counters, balance) = self.with(|c| (c.usage(op.since), c.available()));
                json!({ "counters": counters, "balance": balance })
            }
            _ => return Err(Response::error("unknown operation", 400)),
        })
    }

    /// A finished call's debit settled and its usage recorded; `false` when the outbox is full.
    fn settle(&self, op: &Op) -> bool {
        let kept = self.with(|c| {
            op.debit.as_deref().inspect(|d| c.settle(d));
            op.usage.as_ref().is_none_or(|u| c.record_usage(&u.id, &u.event_name, u.value, now_secs()))
        });
        if !kept {
            console_log!("{{\"event\":\"counters\",\"error\":\"outbox_full\"}}");
        }
        kept
    }

    /// Writes what moved to D1 in one batch: the payer's payments, then the caller's counters
    /// (whose last two statements read back the balance).
    pub(super) async fn write_back(&self) -> std::result::Result<(), StoreError> {
        let (payments, counters) = {
            let kept = self.kept.borrow();
            let Some(k) = kept.as_ref() else { return Ok(()) };
            let payments = k.payments.dirty().then(|| k.payments.flush());
            (payments, k.counters.dirty().then(|| k.counters.flush(&k.sub)))
        };
        let mut statements = payments.as_ref().map(|p| p.statements.clone()).unwrap_or_default();
        statements.extend(counters.iter().flat_map(|c| c.statements.iter().cloned()));
        if statements.is_empty() {
            return Ok(());
        }
        let rows = batch_rows(&self.env, &statements, false).await?;
        if let Some(flush) = &counters {
            let (balance, recorded) = balance_and_recorded(&rows[rows.len().saturating_sub(2)..]);
            self.with(|c| c.flushed(flush, balance, &recorded));
        }
        if let Some(flush) = &payments {
            self.with_payments(|p| p.flushed(flush));
        }
        Ok(())
    }

    fn with<T>(&self, f: impl FnOnce(&mut CallerCounters) -> T) -> T {
        let mut kept = self.kept.borrow_mut();
        f(&mut kept.get_or_insert_with(Stored::default).counters)
    }

    /// The kept counters, from storage the first time.
    pub(super) async fn load(&self) -> Option<()> {
        if self.kept.borrow().is_none() {
            let stored: Option<Stored> = get_json(&self.state.storage(), "counters").await;
            let mut kept = self.kept.borrow_mut();
            if kept.is_none() {
                *kept = stored;
            }
        }
        self.kept.borrow().as_ref().map(|_| ())
    }

    /// Loaded, and D1's windows and balance read in once.
    async fn ready(&self, sub: &str) -> std::result::Result<(), StoreError> {
        self.load().await;
        if self.kept.borrow().as_ref().is_some_and(|k| k.counters.imported) {
            return Ok(());
        }
        let rows = batch_rows(&self.env, &CallerCounters::import_reads(sub, now_secs()), false).await?;
        let counters = rows.first().map(|r| r.iter().filter_map(counter).collect()).unwrap_or_default();
        let balance = rows.get(1).and_then(|r| r.first()).and_then(first_number);
        let mut kept = self.kept.borrow_mut();
        let kept = kept.get_or_insert_with(Stored::default);
        if !kept.counters.imported {
            kept.sub = sub.to_owned();
            kept.counters.import(counters, balance);
        }
        Ok(())
    }

    /// A reservation; a shortfall is confirmed against D1's balance first.
    async fn reserve(&self, op: &Op) -> std::result::Result<bool, StoreError> {
        match self.with(|c| c.reserve(&op.id, &op.tool, op.credits, now_secs())) {
            Reserve::Reserved => return Ok(true),
            Reserve::Full => return Err(StoreError::Query),
            Reserve::Short => {}
        }
        self.rebalance(&op.sub, false).await?;
        Ok(self.with(|c| c.reserve(&op.id, &op.tool, op.credits, now_secs()) == Reserve::Reserved))
    }

    /// Reads D1's balance again (and which held debits it records): at the primary to confirm a
    /// shortfall, anywhere for display (one snapshot either way).
    async fn rebalance(&self, sub: &str, replica: bool) -> std::result::Result<(), StoreError> {
        let reads = self.with(|c| c.balance_reads(sub));
        let rows = batch_rows(&self.env, &reads, replica).await?;
        let (balance, recorded) = balance_and_recorded(&rows);
        self.with(|c| c.rebalance(balance, &recorded));
        Ok(())
    }

    /// Stores the counters and wakes the alarm when anything waits for D1.
    async fn save(&self) -> Result<()> {
        let (stored, next) = {
            let kept = self.kept.borrow();
            let Some(k) = kept.as_ref() else { return Ok(()) };
            let now = now_secs();
            let next = [k.counters.next_alarm(now), k.payments.next_alarm(now)].into_iter().flatten().min();
            (serde_json::to_value(k)?, next)
        };
        put_json(&self.state.storage(), "counters", &stored).await?;
        if let Some(at) = next {
            // Absolute times, as `get_alarm` answers; `set_alarm` takes an offset from now.
            let now = worker::Date::now().as_millis() as i64;
            let at = (at * 1000).max(now + FLUSH_DELAY_MS as i64);
            let storage = self.state.storage();
            let set = storage.get_alarm().await.ok().flatten();
            if set.is_none_or(|s| s > at) {
                storage.set_alarm(Duration::from_millis(u64::try_from(at - now).unwrap_or(0))).await?;
            }
        }
        Ok(())
    }
}

/// The flush's or shortfall's two reads: the balance, and the debit ids D1 records.
fn balance_and_recorded(rows: &[Vec<Value>]) -> (Option<i64>, Vec<String>) {
    let balance = rows.first().and_then(|r| r.first()).and_then(first_number);
    let recorded = rows
        .get(1)
        .map(|r| r.iter().filter_map(|row| row.get("id")?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    (balance, recorded)
}
