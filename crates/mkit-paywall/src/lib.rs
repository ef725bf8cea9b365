//! mKit's paywall: prices as a seller declares them (`price`), and the protocol core's gate
//! (`gate::Gatekeeper`), which admits each call in the pricing order (`admission`) against the
//! caller's paid access (`access::Entitlements`), answered here from the billing ledger; pay
//! links (`paylink`) and free-quota windows (`quota`). Pure: the ledger is read through
//! `LedgerReader`, which the Workers binding implements with D1, so neither `mkit-mcp` nor
//! `mkit-billing` knows the other, and the protocol core holds no price. The `mkit` crate
//! re-exports it as `mkit::paywall`, `mkit::price`, `mkit::quota` and `mkit::paylink`.

#![deny(missing_docs)]

pub mod access;
pub mod admission;
pub mod counted;
pub mod gate;
mod offer;
#[doc(hidden)]
pub mod paylink;
pub mod price;
pub mod quota;
mod reader;
pub mod refusal;
mod standing;
mod wording;
pub mod x402;

pub use access::{Denial, DynEntitlements, Entitlements, MeterUsage, PayLink, Standing};
pub use counted::{Counted, CounterObject};
pub use gate::Gatekeeper;
pub use offer::{LinkMint, Offer};
pub use reader::{LedgerReader, Together};

use std::cell::OnceCell;
use wording::{credits_required, payment_required, quota_exceeded, unavailable};

use crate::paylink::Kind;
use crate::quota::{rfc3339, FreeQuota, QuotaUsage};
use mkit_billing::credits::{self, Debit};
use mkit_billing::meter::Usage;
use mkit_billing::usage::{self, Counter};
use mkit_billing::{ledger, StoreError};
use mkit_kernel::sql::Statement;
use mkit_mcp::ToolError;

/// One request's view of the ledger: read at most once per HTTP request (a batch of paid calls
/// included), and only when a paid tool or a tool that reports entitlements asks.
pub struct Paywall<'a, R> {
    reader: R,
    sub: &'a str,
    offer: Offer<'a>,
    loaded: OnceCell<Result<Vec<String>, StoreError>>,
    /// The keys at the primary, read only to confirm a refusal.
    confirmed: OnceCell<Result<Vec<String>, StoreError>>,
    /// Every free quota the server declares, by counter key, and the clock its windows use.
    quotas: Vec<(&'static str, FreeQuota)>,
    now_secs: i64,
    /// Whether the server prices any tool in credits: else no balance is read.
    credits: bool,
}

impl<'a, R: LedgerReader> Paywall<'a, R> {
    /// The paywall of caller `sub`, reading the ledger through `reader`, paid for as `offer` says.
    pub fn new(reader: R, sub: &'a str, offer: Offer<'a>) -> Self {
        let (loaded, confirmed) = (OnceCell::new(), OnceCell::new());
        Paywall { reader, sub, offer, loaded, confirmed, quotas: Vec::new(), now_secs: 0, credits: true }
    }

    /// Counts the free quotas `quotas` (counter key, quota) in the windows around `now_secs`.
    pub fn with_quotas(mut self, quotas: Vec<(&'static str, FreeQuota)>, now_secs: i64) -> Self {
        self.quotas = quotas;
        self.now_secs = now_secs;
        self
    }

    /// Reads balances only if `priced` (some tool costs credits): a server without credits shows
    /// `credits: null` and spends no D1 read on it.
    pub fn with_credits(mut self, priced: bool) -> Self {
        self.credits = priced;
        self
    }

    fn counter<'k>(&'k self, key: &'k str, quota: &FreeQuota) -> Counter<'k> {
        Counter { sub: self.sub, key, window_start: quota.window.start(self.now_secs) }
    }

    fn link(&self, kind: Kind, entitlement: &str) -> Option<PayLink> {
        let m = self.offer.links.as_ref()?;
        let (url, id) = paylink::mint(&m.key, m.base_url, m.issuer, self.sub, kind, entitlement, m.now_secs);
        Some(PayLink { url, id })
    }

    /// Runs a batch whose every statement is guarded by its row's state, retrying once: a settle,
    /// refund or usage record lost to a passing store error would cost the caller or the merchant.
    async fn twice(&self, statements: Vec<Statement>) {
        if statements.is_empty() || self.reader.batch(statements.clone()).await.is_ok() {
            return;
        }
        let _ = self.reader.batch(statements).await;
    }

    async fn load(&self) -> Result<&[String], StoreError> {
        if self.loaded.get().is_none() {
            let keys = self.reader.entitlement_keys(self.sub).await;
            let _ = self.loaded.set(keys);
        }
        read(&self.loaded)
    }

    /// The keys at the primary: a replica's "no" (or its failure) is not the answer yet.
    async fn confirm(&self) -> Result<&[String], StoreError> {
        if !self.reader.reads_replicas() {
            return self.load().await;
        }
        if self.confirmed.get().is_none() {
            let keys = self.reader.primary_entitlement_keys(self.sub).await;
            let _ = self.confirmed.set(keys);
        }
        read(&self.confirmed)
    }
}

/// What a read kept in `cell` gave.
fn read(cell: &OnceCell<Result<Vec<String>, StoreError>>) -> Result<&[String], StoreError> {
    match cell.get() {
        Some(Ok(keys)) => Ok(keys),
        Some(Err(e)) => Err(*e),
        None => Err(StoreError::Query),
    }
}

impl<R: LedgerReader> Entitlements for Paywall<'_, R> {
    async fn keys(&self) -> Result<Vec<String>, ToolError> {
        self.load().await.map(<[String]>::to_vec).map_err(unavailable)
    }

    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), Denial> {
        if self.loaded.get().is_none()
            && self.reader.recent_keys(self.sub).is_some_and(|k| ledger::grants(&k, entitlement))
        {
            return Ok(());
        }
        if self.load().await.is_ok_and(|held| ledger::grants(held, entitlement)) {
            return Ok(());
        }
        let held = self.confirm().await.map_err(|e| Denial::Unavailable(unavailable(e)))?;
        if ledger::grants(held, entitlement) {
            return Ok(());
        }
        let pay = self.link(Kind::Checkout, entitlement);
        let result = payment_required(tool, entitlement, self.offer.upgrade_url, pay.as_ref().map(|p| p.url.as_str()));
        Err(Denial::PaymentRequired { result, pay })
    }

    fn manage_url(&self) -> Option<String> {
        self.link(Kind::Portal, "").map(|l| l.url)
    }

    async fn take_free_call(&self, key: &str, quota: &FreeQuota) -> Result<i64, Denial> {
        let counter = self.counter(key, quota);
        let taken = match self.reader.counter_object() {
            Some(object) => object.take(key, counter.window_start, quota.calls).await.map(usize::from),
            None => self.reader.count(counter.take(quota.calls)).await,
        };
        match taken {
            Ok(1) => Ok(counter.window_start),
            Ok(_) => Err(Denial::QuotaExceeded(quota_exceeded(key, quota, self.now_secs))),
            Err(e) => Err(Denial::Unavailable(unavailable(e))),
        }
    }

    async fn give_back_free_call(&self, key: &str, quota: &FreeQuota, window_start: i64) {
        // The window the call was taken from, never the current one: a task that fails or is
        // cancelled after a roll-over would otherwise hand the new window a call it never gave.
        // An ended window's count limits nothing any more, so its give-back is skipped.
        if quota.window.resets_at(window_start) <= self.now_secs {
            return;
        }
        // Best effort: a lost give-back costs the caller one free call, never lets one too many run.
        if let Some(object) = self.reader.counter_object() {
            let _ = object.give_back(key, window_start).await;
            return;
        }
        let counter = Counter { sub: self.sub, key, window_start };
        let _ = self.reader.count(counter.give_back()).await;
    }

    async fn reserve_credits(&self, tool: &str, credits: u32) -> Result<String, Denial> {
        let id = self.reader.new_id().ok_or_else(|| Denial::Unavailable(unavailable(StoreError::Statement)))?;
        let debit = Debit { id: &id, sub: self.sub, tool, credits };
        let reserved = match self.reader.counter_object() {
            Some(object) => object.reserve(&id, tool, credits).await,
            None => self.reader.batch(debit.reserve(self.now_secs)).await.map(|changed| changed.first() == Some(&1)),
        };
        match reserved {
            Ok(true) => Ok(id),
            Ok(false) => {
                let pay = self.offer.credit_pack.and_then(|pack| self.link(Kind::Checkout, pack));
                let url = pay.as_ref().map(|p| p.url.as_str());
                Err(Denial::PaymentRequired {
                    result: credits_required(tool, credits, self.offer.upgrade_url, url),
                    pay,
                })
            }
            Err(e) => Err(Denial::Unavailable(unavailable(e))),
        }
    }

    async fn settle_call(&self, debit: Option<&str>, usage: Option<MeterUsage<'_>>) {
        if let Some(object) = self.reader.counter_object() {
            let id = debit.map(str::to_owned).or_else(|| usage.and_then(|_| self.reader.new_id()));
            let usage = usage.zip(id.as_deref()).map(|(u, id)| (id, u));
            // Retried once, as the D1 batch is: the object keeps each debit and usage id once.
            if object.settle(debit, usage).await.is_err() {
                let _ = object.settle(debit, usage).await;
            }
            return;
        }
        let mut statements = debit.map(|d| credits::settle(d, self.now_secs)).unwrap_or_default();
        let id = debit.map(str::to_owned).or_else(|| self.reader.new_id());
        if let (Some(u), Some(id)) = (usage, &id) {
            let usage = Usage { id, sub: self.sub, event_name: u.event_name, value: u.value };
            statements.push(usage.record(self.now_secs));
        }
        self.twice(statements).await;
    }

    async fn refund_credits(&self, debit: &str) {
        if let Some(object) = self.reader.counter_object() {
            if object.refund(debit).await.is_err() {
                let _ = object.refund(debit).await;
            }
            return;
        }
        self.twice(credits::refund(debit, self.now_secs)).await;
    }

    async fn standing(&self, extra: Option<Statement>) -> Result<Standing, ToolError> {
        self.read_standing(extra).await
    }

    async fn credit_balance(&self) -> Result<Option<i64>, ToolError> {
        if !self.credits {
            return Ok(None);
        }
        if let Some(object) = self.reader.counter_object() {
            return object.standing(self.now_secs, true).await.map(|(_, balance)| Some(balance)).map_err(unavailable);
        }
        let n = self.reader.number(credits::balance(self.sub)).await.map_err(unavailable)?;
        Ok(Some(n.unwrap_or(0)))
    }

    async fn quota_usage(&self) -> Result<Vec<QuotaUsage>, ToolError> {
        let Some(since) = self.quotas.iter().map(|(_, q)| q.window.start(self.now_secs)).min() else {
            return Ok(Vec::new());
        };
        let rows = match self.reader.counter_object() {
            Some(object) => object.standing(since, false).await.map(|(rows, _)| rows),
            None => self.reader.counters(usage::usage(self.sub, since)).await,
        };
        let rows = rows.map_err(unavailable)?;
        Ok(self.quotas.iter().map(|(key, q)| standing(key, q, &rows, self.now_secs)).collect())
    }
}

/// One quota's standing from the caller's counters.
fn standing(key: &str, q: &FreeQuota, rows: &[(String, i64, i64)], now: i64) -> QuotaUsage {
    let start = q.window.start(now);
    let used = rows.iter().find(|(k, s, _)| k == key && *s == start).map_or(0, |(_, _, u)| *u);
    let used = u32::try_from(used.max(0)).unwrap_or(u32::MAX).min(q.calls);
    QuotaUsage {
        quota: key.to_owned(),
        calls: q.calls,
        window: q.window,
        used,
        remaining: q.calls - used,
        resets_at: rfc3339(q.window.resets_at(now)),
    }
}

#[cfg(test)]
mod tests;
