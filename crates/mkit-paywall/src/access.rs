//! The caller's paid access, as the paywall asks the ledger about it: entitlements, free quotas,
//! credits and metered usage. `Paywall` answers from the D1 ledger, tests from a fixed list; the
//! admission order (`admission`) is written against this interface only.

use crate::quota::{FreeQuota, QuotaUsage};
use mkit_kernel::sql::Statement;
use mkit_mcp::{LocalFuture, ToolError};
use serde_json::Value;

/// The caller's paid access.
#[allow(async_fn_in_trait)]
pub trait Entitlements {
    /// The caller's entitlement keys; an error result (fail closed) when they cannot be read now.
    async fn keys(&self) -> Result<Vec<String>, ToolError>;
    /// `Ok` when the caller holds `entitlement`; otherwise why a call of `tool` does not run.
    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), Denial>;
    /// Where the caller manages what they pay for (a billing portal), if anywhere.
    fn manage_url(&self) -> Option<String> {
        None
    }
    /// Takes one call of the caller's free quota `key`: the start (Unix seconds) of the window it
    /// was taken from when one was left, else `Denial::QuotaExceeded` (saying when it resets).
    /// Without counters, nothing is free.
    async fn take_free_call(&self, _key: &str, _quota: &FreeQuota) -> Result<i64, Denial> {
        Err(Denial::Unavailable(ToolError::new("free quotas are not counted here")))
    }
    /// Gives back a call taken for a run that failed, to the window it was taken from
    /// (`window_start`, as `take_free_call` answered): never to a later one, and not at all once
    /// that window has ended.
    async fn give_back_free_call(&self, _key: &str, _quota: &FreeQuota, _window_start: i64) {}
    /// The caller's standing on every declared free quota.
    async fn quota_usage(&self) -> Result<Vec<QuotaUsage>, ToolError> {
        Ok(Vec::new())
    }
    /// Reserves `credits` of the caller's prepaid balance for one call of `tool`: the debit's id,
    /// or `Denial::PaymentRequired` when the balance is short. Without a balance, nothing is paid.
    async fn reserve_credits(&self, _tool: &str, _credits: u32) -> Result<String, Denial> {
        Err(Denial::Unavailable(ToolError::new("credits are not kept here")))
    }
    /// After a run that succeeded: settles the debit and records the metered usage, together.
    async fn settle_call(&self, _debit: Option<&str>, _usage: Option<MeterUsage<'_>>) {}
    /// After a run that failed: the reserved credits go back.
    async fn refund_credits(&self, _debit: &str) {}
    /// Everything `whoami` shows at once: keys, quota standing, balance, and the rows `extra`
    /// selects (`None` where they were not read with the rest: the caller reads them itself).
    /// Read one by one unless the ledger reads them in one round trip.
    async fn standing(&self, _extra: Option<Statement>) -> Result<Standing, ToolError> {
        let (keys, quotas, credits) = (self.keys().await?, self.quota_usage().await?, self.credit_balance().await?);
        Ok(Standing { keys, quotas, credits, extra: None })
    }
    /// The caller's prepaid balance, if credits are kept.
    async fn credit_balance(&self) -> Result<Option<i64>, ToolError> {
        Ok(None)
    }
}

/// One successful metered call: the Stripe meter's event name and the value to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterUsage<'a> {
    /// The Stripe meter's event name.
    pub event_name: &'a str,
    /// The value to report for this call.
    pub value: i64,
}

/// Why a paid tool did not run.
#[derive(Debug, Clone, PartialEq)]
pub enum Denial {
    /// The caller lacks the entitlement. `result` is the tool error every client can read;
    /// `pay` is a link to pay that proves who opens it, offered as a URL-mode elicitation to
    /// clients that declare one.
    PaymentRequired {
        /// The `payment_required` tool error.
        result: ToolError,
        /// A link to pay, for clients that take URL elicitations.
        pay: Option<PayLink>,
    },
    /// The ledger cannot be read now: fail closed.
    Unavailable(ToolError),
    /// A tool without an entitlement, past its free quota: the result says when it resets.
    QuotaExceeded(ToolError),
}

/// A pay link: the URL, and a unique id for it (2025-11-25's `elicitationId`).
#[derive(Debug, Clone, PartialEq)]
pub struct PayLink {
    /// The link the caller opens to pay.
    pub url: String,
    /// A unique id for it (the `elicitationId`).
    pub id: String,
}

/// `Entitlements` behind a reference: `async fn` in traits is not object safe, so the boxing
/// lives here once instead of in every implementation.
pub trait DynEntitlements {
    /// `Entitlements::keys`, boxed.
    fn keys_boxed(&self) -> LocalFuture<'_, Result<Vec<String>, ToolError>>;
    /// `Entitlements::require`, boxed.
    fn require_boxed<'a>(&'a self, tool: &'a str, entitlement: &'a str) -> LocalFuture<'a, Result<(), Denial>>;
    /// `Entitlements::manage_url`.
    fn manage_url_dyn(&self) -> Option<String>;
    /// `Entitlements::take_free_call`, boxed.
    fn take_free_call_boxed<'a>(&'a self, key: &'a str, quota: &'a FreeQuota) -> LocalFuture<'a, Result<i64, Denial>>;
    /// `Entitlements::give_back_free_call`, boxed.
    fn give_back_free_call_boxed<'a>(
        &'a self,
        key: &'a str,
        quota: &'a FreeQuota,
        window_start: i64,
    ) -> LocalFuture<'a, ()>;
    /// `Entitlements::quota_usage`, boxed.
    fn quota_usage_boxed(&self) -> LocalFuture<'_, Result<Vec<QuotaUsage>, ToolError>>;
    /// `Entitlements::reserve_credits`, boxed.
    fn reserve_credits_boxed<'a>(&'a self, tool: &'a str, credits: u32) -> LocalFuture<'a, Result<String, Denial>>;
    /// `Entitlements::settle_call`, boxed.
    fn settle_call_boxed<'a>(&'a self, debit: Option<&'a str>, usage: Option<MeterUsage<'a>>) -> LocalFuture<'a, ()>;
    /// `Entitlements::refund_credits`, boxed.
    fn refund_credits_boxed<'a>(&'a self, debit: &'a str) -> LocalFuture<'a, ()>;
    /// `Entitlements::credit_balance`, boxed.
    fn credit_balance_boxed(&self) -> LocalFuture<'_, Result<Option<i64>, ToolError>>;
    /// `Entitlements::standing`, boxed.
    fn standing_boxed(&self, extra: Option<Statement>) -> LocalFuture<'_, Result<Standing, ToolError>>;
}

impl<T: Entitlements> DynEntitlements for T {
    fn keys_boxed(&self) -> LocalFuture<'_, Result<Vec<String>, ToolError>> {
        Box::pin(self.keys())
    }
    fn require_boxed<'a>(&'a self, tool: &'a str, entitlement: &'a str) -> LocalFuture<'a, Result<(), Denial>> {
        Box::pin(self.require(tool, entitlement))
    }
    fn manage_url_dyn(&self) -> Option<String> {
        Entitlements::manage_url(self)
    }
    fn take_free_call_boxed<'a>(&'a self, key: &'a str, quota: &'a FreeQuota) -> LocalFuture<'a, Result<i64, Denial>> {
        Box::pin(self.take_free_call(key, quota))
    }
    fn give_back_free_call_boxed<'a>(
        &'a self,
        key: &'a str,
        quota: &'a FreeQuota,
        window_start: i64,
    ) -> LocalFuture<'a, ()> {
        Box::pin(self.give_back_free_call(key, quota, window_start))
    }
    fn quota_usage_boxed(&self) -> LocalFuture<'_, Result<Vec<QuotaUsage>, ToolError>> {
        Box::pin(self.quota_usage())
    }
    fn reserve_credits_boxed<'a>(&'a self, tool: &'a str, credits: u32) -> LocalFuture<'a, Result<String, Denial>> {
        Box::pin(self.reserve_credits(tool, credits))
    }
    fn settle_call_boxed<'a>(&'a self, debit: Option<&'a str>, usage: Option<MeterUsage<'a>>) -> LocalFuture<'a, ()> {
        Box::pin(self.settle_call(debit, usage))
    }
    fn refund_credits_boxed<'a>(&'a self, debit: &'a str) -> LocalFuture<'a, ()> {
        Box::pin(self.refund_credits(debit))
    }
    fn credit_balance_boxed(&self) -> LocalFuture<'_, Result<Option<i64>, ToolError>> {
        Box::pin(self.credit_balance())
    }
    fn standing_boxed(&self, extra: Option<Statement>) -> LocalFuture<'_, Result<Standing, ToolError>> {
        Box::pin(self.standing(extra))
    }
}

/// A caller's standing, read together (`Entitlements::standing`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standing {
    /// Entitlement keys.
    pub keys: Vec<String>,
    /// Every declared free quota's standing.
    pub quotas: Vec<QuotaUsage>,
    /// The prepaid balance, where credits are kept.
    pub credits: Option<i64>,
    /// The rows the extra statement selected, where it was read with the rest.
    pub extra: Option<Vec<Value>>,
}
