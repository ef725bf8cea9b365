//! Paid tools: the protocol core's `Entitlements`, answered from the billing ledger. Pure: the
//! ledger is read through `LedgerReader`, which the edge implements with D1, so neither `mcp`
//! nor `billing` knows the other.

use serde_json::json;
use std::cell::OnceCell;

use crate::billing::usage::{self, Counter};
use crate::billing::{ledger, StoreError};
use crate::mcp::{Denial, Entitlements, PayLink, ToolError};
use crate::paylink::{self, Kind};
use crate::quota::{rfc3339, FreeQuota, QuotaUsage};
use crate::sql::Statement;

/// Reads a caller's entitlement keys (`ledger::ENTITLEMENTS_SQL`) and keeps the free-quota
/// counters (`billing::usage`).
#[allow(async_fn_in_trait)]
pub trait LedgerReader {
    async fn entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError>;
    /// Runs one counter statement: the rows it changed.
    async fn count(&self, _statement: Statement) -> Result<usize, StoreError> {
        Err(StoreError::Unbound)
    }
    /// The counters `statement` (`usage::usage`) selects: (quota, window start, used).
    async fn counters(&self, _statement: Statement) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Err(StoreError::Unbound)
    }
}

/// Where a caller without an entitlement can pay.
#[derive(Default)]
pub struct Offer<'a> {
    /// A static page (`MKIT_UPGRADE_URL`): the fallback when mKit's own pay pages are not set up.
    pub upgrade_url: Option<&'a str>,
    /// mKit's own pay pages, when Stripe and the web client are configured.
    pub links: Option<LinkMint<'a>>,
}

/// What minting this caller's pay links needs.
pub struct LinkMint<'a> {
    pub key: [u8; 32],
    /// The worker's origin, e.g. `https://mkit.example.com`.
    pub base_url: &'a str,
    pub issuer: &'a str,
    pub now_secs: u64,
}

/// One request's view of the ledger: read at most once per HTTP request (a batch of paid calls
/// included), and only when a paid tool or a tool that reports entitlements asks.
pub struct Paywall<'a, R> {
    reader: R,
    sub: &'a str,
    offer: Offer<'a>,
    loaded: OnceCell<Result<Vec<String>, StoreError>>,
    /// Every free quota the server declares, by counter key, and the clock its windows use.
    quotas: Vec<(&'static str, FreeQuota)>,
    now_secs: i64,
}

impl<'a, R: LedgerReader> Paywall<'a, R> {
    pub fn new(reader: R, sub: &'a str, offer: Offer<'a>) -> Self {
        Paywall { reader, sub, offer, loaded: OnceCell::new(), quotas: Vec::new(), now_secs: 0 }
    }

    /// Counts the free quotas `quotas` (counter key, quota) in the windows around `now_secs`.
    pub fn with_quotas(mut self, quotas: Vec<(&'static str, FreeQuota)>, now_secs: i64) -> Self {
        self.quotas = quotas;
        self.now_secs = now_secs;
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

    async fn load(&self) -> Result<&[String], StoreError> {
        if self.loaded.get().is_none() {
            let keys = self.reader.entitlement_keys(self.sub).await;
            let _ = self.loaded.set(keys);
        }
        match self.loaded.get() {
            Some(Ok(keys)) => Ok(keys),
            Some(Err(e)) => Err(*e),
            None => Err(StoreError::Query),
        }
    }
}

impl<R: LedgerReader> Entitlements for Paywall<'_, R> {
    async fn keys(&self) -> Result<Vec<String>, ToolError> {
        self.load().await.map(<[String]>::to_vec).map_err(unavailable)
    }

    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), Denial> {
        let held = self.load().await.map_err(|e| Denial::Unavailable(unavailable(e)))?;
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

    async fn take_free_call(&self, key: &str, quota: &FreeQuota) -> Result<(), Denial> {
        match self.reader.count(self.counter(key, quota).take(quota.calls)).await {
            Ok(1) => Ok(()),
            Ok(_) => Err(Denial::QuotaExceeded(quota_exceeded(key, quota, self.now_secs))),
            Err(e) => Err(Denial::Unavailable(unavailable(e))),
        }
    }

    async fn give_back_free_call(&self, key: &str, quota: &FreeQuota) {
        // Best effort: a lost give-back costs the caller one free call, never lets one too many run.
        let _ = self.reader.count(self.counter(key, quota).give_back()).await;
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

/// Not a 403 (re-authorizing cannot fix a missing payment) but a result the model can act on,
/// naming the entitlement and where to get it: the caller's own checkout link when mKit sells
/// it, else the static upgrade page.
fn payment_required(tool: &str, key: &str, upgrade_url: Option<&str>, checkout_url: Option<&str>) -> ToolError {
    let mut text = format!("The tool {tool} needs the \"{key}\" entitlement, which this account does not have.");
    match (checkout_url, upgrade_url) {
        (Some(url), _) => {
            text.push_str(&format!(" Open {url} to pay (sign in as yourself), then call the tool again."))
        }
        (None, Some(url)) => text.push_str(&format!(" Upgrade at {url}")),
        (None, None) => {}
    }
    ToolError::new(text).with_structured(json!({ "error": "payment_required", "entitlement": key,
        "upgrade_url": upgrade_url, "checkout_url": checkout_url }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

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
        let offer = Offer { upgrade_url: Some("https://example.com/upgrade"), links: None };
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
        let links = LinkMint {
            key: [9; 32],
            base_url: "https://mkit.example",
            issuer: "https://iss/",
            now_secs: 1_800_000_000,
        };
        let offer = Offer { upgrade_url: Some("https://example.com/upgrade"), links: Some(links) };
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
}
