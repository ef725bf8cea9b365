//! Paid tools: the protocol core's `Entitlements`, answered from the billing ledger. Pure: the
//! ledger is read through `LedgerReader`, which the edge implements with D1, so neither `mcp`
//! nor `billing` knows the other.

use serde_json::json;
use std::cell::OnceCell;

use crate::billing::{ledger, StoreError};
use crate::mcp::{Entitlements, ToolError};

/// Reads a caller's entitlement keys (`ledger::ENTITLEMENTS_SQL`).
#[allow(async_fn_in_trait)]
pub trait LedgerReader {
    async fn entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError>;
}

/// One request's view of the ledger: read at most once per HTTP request (a batch of paid calls
/// included), and only when a paid tool or a tool that reports entitlements asks.
pub struct Paywall<'a, R> {
    reader: R,
    sub: &'a str,
    /// Where a caller without the entitlement can pay (`MKIT_UPGRADE_URL`).
    upgrade_url: Option<&'a str>,
    loaded: OnceCell<Result<Vec<String>, StoreError>>,
}

impl<'a, R: LedgerReader> Paywall<'a, R> {
    pub fn new(reader: R, sub: &'a str, upgrade_url: Option<&'a str>) -> Self {
        Paywall { reader, sub, upgrade_url, loaded: OnceCell::new() }
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

    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), ToolError> {
        let held = self.load().await.map_err(unavailable)?;
        if ledger::grants(held, entitlement) {
            return Ok(());
        }
        Err(payment_required(tool, entitlement, self.upgrade_url))
    }
}

/// Fail closed, and say it is worth retrying.
fn unavailable(e: StoreError) -> ToolError {
    ToolError::new(format!("the billing ledger cannot be read now ({}); try again", e.code()))
        .with_structured(json!({ "error": "entitlements_unavailable" }))
}

/// Not a 403 (re-authorizing cannot fix a missing payment) but a result the model can act on,
/// naming the entitlement and where to get it.
fn payment_required(tool: &str, key: &str, upgrade_url: Option<&str>) -> ToolError {
    let mut text = format!("The tool {tool} needs the \"{key}\" entitlement, which this account does not have.");
    if let Some(url) = upgrade_url {
        text.push_str(&format!(" Upgrade at {url}"));
    }
    ToolError::new(text)
        .with_structured(json!({ "error": "payment_required", "entitlement": key, "upgrade_url": upgrade_url }))
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
        let p = Paywall::new(Fake { keys: Ok(&["pro", "team"]), reads: &reads }, "u1", None);
        assert_eq!(block_on(p.require("text_stats", "pro")), Ok(()));
        assert_eq!(block_on(p.require("text_stats", "team")), Ok(()));
        assert_eq!(block_on(p.keys()), Ok(vec!["pro".to_owned(), "team".to_owned()]));
        assert_eq!(reads.get(), 1);
    }

    #[test]
    fn payment_required_names_the_entitlement_and_where_to_pay() {
        let reads = Cell::new(0);
        let p = Paywall::new(Fake { keys: Ok(&["team"]), reads: &reads }, "u1", Some("https://example.com/upgrade"));
        let e = block_on(p.require("text_stats", "pro")).expect_err("not entitled");
        assert_eq!(
            e.structured,
            Some(
                json!({"error": "payment_required", "entitlement": "pro", "upgrade_url": "https://example.com/upgrade"})
            )
        );
        assert!(e.message.contains("\"pro\"") && e.message.contains("/upgrade"));
        let p = Paywall::new(Fake { keys: Ok(&[]), reads: &reads }, "u1", None);
        let e = block_on(p.require("text_stats", "pro")).expect_err("not entitled");
        assert_eq!(e.structured.as_ref().map(|s| s["upgrade_url"].clone()), Some(serde_json::Value::Null));
    }

    #[test]
    fn an_unreadable_ledger_fails_closed_once_per_request() {
        let reads = Cell::new(0);
        let p = Paywall::new(Fake { keys: Err(StoreError::Query), reads: &reads }, "u1", None);
        for _ in 0..3 {
            let e = block_on(p.require("text_stats", "pro")).expect_err("fails closed");
            assert_eq!(e.structured, Some(json!({"error": "entitlements_unavailable"})));
            assert!(e.message.contains("storage_failed"));
        }
        assert!(block_on(p.keys()).is_err());
        assert_eq!(reads.get(), 1);
    }
}
