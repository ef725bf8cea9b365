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
pub mod gate;
mod offer;
#[doc(hidden)]
pub mod paylink;
pub mod price;
pub mod quota;
pub mod refusal;
mod standing;
pub mod x402;

pub use access::{Denial, DynEntitlements, Entitlements, MeterUsage, PayLink, Standing};
pub use gate::Gatekeeper;
pub use offer::{LinkMint, Offer};

use serde_json::json;
use std::cell::OnceCell;

use crate::paylink::Kind;
use crate::quota::{rfc3339, FreeQuota, QuotaUsage};
use mkit_billing::credits::{self, Debit};
use mkit_billing::meter::Usage;
use mkit_billing::usage::{self, Counter};
use mkit_billing::{ledger, StoreError};
use mkit_kernel::sql::Statement;
use mkit_mcp::ToolError;

/// Reads a caller's entitlement keys (`ledger::ENTITLEMENTS_SQL`) and keeps the free-quota
/// counters (`billing::usage`).
#[allow(async_fn_in_trait)]
pub trait LedgerReader {
    /// The caller's keys, possibly from a read replica a little behind the primary
    /// (`reads_replicas`): enough to let a paid call run, never alone to refuse one.
    async fn entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError>;
    /// The caller's keys at the primary, where every webhook writes: what a refusal is confirmed
    /// against, so a payment counts at once and an outage still fails closed.
    async fn primary_entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        self.entitlement_keys(sub).await
    }
    /// Whether `entitlement_keys` may be answered by a replica (then refusals are confirmed).
    fn reads_replicas(&self) -> bool {
        false
    }
    /// Runs `statements` as one batch (one transaction): the rows each changed.
    async fn batch(&self, _statements: Vec<Statement>) -> Result<Vec<usize>, StoreError> {
        Err(StoreError::Unbound)
    }
    /// Runs one statement: the rows it changed.
    async fn count(&self, statement: Statement) -> Result<usize, StoreError> {
        self.batch(vec![statement]).await.map(|changed| changed.first().copied().unwrap_or(0))
    }
    /// The integer in the first column of the first row `statement` selects, if any.
    async fn number(&self, _statement: Statement) -> Result<Option<i64>, StoreError> {
        Err(StoreError::Unbound)
    }
    /// The caller's keys as this isolate read them moments ago, if still fresh: enough to let a
    /// paid call run, never to refuse one.
    fn recent_keys(&self, _sub: &str) -> Option<Vec<String>> {
        None
    }
    /// A fresh unique id (a debit's, a meter event's); `None` when no randomness is at hand.
    fn new_id(&self) -> Option<String> {
        None
    }
    /// The counters `statement` (`usage::usage`) selects: (quota, window start, used).
    async fn counters(&self, _statement: Statement) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Err(StoreError::Unbound)
    }
    /// The caller's keys and the rows each of `reads` selects, in one round trip a replica may
    /// answer (what `whoami` shows); `Unbound` where the ledger cannot batch reads.
    async fn read_together(&self, _sub: &str, _reads: Vec<Statement>) -> Result<Together, StoreError> {
        Err(StoreError::Unbound)
    }
}

/// What `LedgerReader::read_together` read: the keys, and each statement's rows.
pub type Together = (Vec<String>, Vec<Vec<serde_json::Value>>);

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
        match self.reader.count(counter.take(quota.calls)).await {
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
        let counter = Counter { sub: self.sub, key, window_start };
        // Best effort: a lost give-back costs the caller one free call, never lets one too many run.
        let _ = self.reader.count(counter.give_back()).await;
    }

    async fn reserve_credits(&self, tool: &str, credits: u32) -> Result<String, Denial> {
        let id = self.reader.new_id().ok_or_else(|| Denial::Unavailable(unavailable(StoreError::Statement)))?;
        let debit = Debit { id: &id, sub: self.sub, tool, credits };
        match self.reader.batch(debit.reserve(self.now_secs)).await {
            Ok(changed) if changed.first() == Some(&1) => Ok(id),
            Ok(_) => {
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
        let mut statements = debit.map(|d| credits::settle(d, self.now_secs)).unwrap_or_default();
        let id = debit.map(str::to_owned).or_else(|| self.reader.new_id());
        if let (Some(u), Some(id)) = (usage, &id) {
            let usage = Usage { id, sub: self.sub, event_name: u.event_name, value: u.value };
            statements.push(usage.record(self.now_secs));
        }
        self.twice(statements).await;
    }

    async fn refund_credits(&self, debit: &str) {
        self.twice(credits::refund(debit, self.now_secs)).await;
    }

    async fn standing(&self, extra: Option<Statement>) -> Result<Standing, ToolError> {
        self.read_standing(extra).await
    }

    async fn credit_balance(&self) -> Result<Option<i64>, ToolError> {
        if !self.credits {
            return Ok(None);
        }
        let n = self.reader.number(credits::balance(self.sub)).await.map_err(unavailable)?;
        Ok(Some(n.unwrap_or(0)))
    }

    async fn quota_usage(&self) -> Result<Vec<QuotaUsage>, ToolError> {
        let Some(since) = self.quotas.iter().map(|(_, q)| q.window.start(self.now_secs)).min() else {
            return Ok(Vec::new());
        };
        let rows = self.reader.counters(usage::usage(self.sub, since)).await.map_err(unavailable)?;
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

/// A free tool past its quota: not a payment question, a wait.
fn quota_exceeded(key: &str, q: &FreeQuota, now: i64) -> ToolError {
    let resets_at = rfc3339(q.window.resets_at(now));
    ToolError::new(format!(
        "The free quota \"{key}\" ({} calls per {}) is used up; it resets at {resets_at}.",
        q.calls,
        q.window.as_str()
    ))
    .with_structured(json!({ "error": "quota_exceeded", "quota": key, "resets_at": resets_at }))
}

/// Fail closed, and say it is worth retrying.
fn unavailable(e: StoreError) -> ToolError {
    ToolError::new(format!("the billing ledger cannot be read now ({}); try again", e.code()))
        .with_structured(json!({ "error": "entitlements_unavailable" }))
}

/// A priced call the balance does not cover: where to buy credits.
fn credits_required(tool: &str, credits: u32, upgrade_url: Option<&str>, checkout_url: Option<&str>) -> ToolError {
    let what = format!("The tool {tool} costs {credits} credits per call, more than this account's balance.");
    let where_ = WhereToPay { checkout_url, upgrade_url, open_to: "buy credits", static_page: "Buy credits at" };
    ToolError::new(where_.told(what)).with_structured(json!({ "error": "payment_required", "credits": credits,
        "upgrade_url": upgrade_url, "checkout_url": checkout_url }))
}

/// Not a 403 (re-authorizing cannot fix a missing payment) but a result the model can act on,
/// naming the entitlement and where to get it: the caller's own checkout link when mKit sells
/// it, else the static upgrade page.
fn payment_required(tool: &str, key: &str, upgrade_url: Option<&str>, checkout_url: Option<&str>) -> ToolError {
    let what = format!("The tool {tool} needs the \"{key}\" entitlement, which this account does not have.");
    let where_ = WhereToPay { checkout_url, upgrade_url, open_to: "pay", static_page: "Upgrade at" };
    ToolError::new(where_.told(what)).with_structured(json!({ "error": "payment_required", "entitlement": key,
        "upgrade_url": upgrade_url, "checkout_url": checkout_url }))
}

/// The sentence a denial ends with: the caller's own pay link first, else the static page.
struct WhereToPay<'a> {
    checkout_url: Option<&'a str>,
    upgrade_url: Option<&'a str>,
    open_to: &'a str,
    static_page: &'a str,
}

impl WhereToPay<'_> {
    fn told(&self, mut text: String) -> String {
        match (self.checkout_url, self.upgrade_url) {
            (Some(url), _) => text
                .push_str(&format!(" Open {url} to {} (sign in as yourself), then call the tool again.", self.open_to)),
            (None, Some(url)) => text.push_str(&format!(" {} {url}", self.static_page)),
            (None, None) => {}
        }
        text
    }
}

#[cfg(test)]
mod tests;
