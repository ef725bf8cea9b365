//! Prices, as a seller declares them: one more line in a tool's `info()`. A price is an
//! extension of the tool's description (`mcp::ToolExtension`): the protocol core lists it in
//! `_meta` and sends every call of a priced tool to the caller's gate, the paywall, which knows the
//! admission order (`paywall::admission`). The core itself holds no price.
//!
//! ```
//! use mkit_mcp::ToolInfo; // `mkit::mcp::ToolInfo` in a seller's crate
//! use mkit_paywall::price::{Priced, Window}; // `mkit::price::{Priced, Window}`
//!
//! let report = ToolInfo::new("report", "A monthly report.").entitlement("pro");
//! let search = ToolInfo::new("search", "Searches.").free_quota(50, Window::Day).quota_group("search");
//! let render = ToolInfo::new("render", "Renders a page.").credits(2);
//! let api = ToolInfo::new("api", "Calls the API.").entitlement("pro").meter("api_calls");
//! assert_eq!(render.price().and_then(|p| p.credits), Some(2));
//! # let _ = (report, search, api);
//! ```

use serde::Serialize;
use serde_json::{json, Map, Value};
use std::any::Any;

use mkit_mcp::{Registry, ToolContext, ToolError, ToolExtension, ToolInfo};

pub use crate::quota::{FreeQuota, Meter, QuotaUsage, Window};

/// What one call of a tool costs, and who may make it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    /// The entitlement key a caller must hold (a paid tool), if any.
    pub entitlement: Option<&'static str>,
    /// Calls a caller may make without the entitlement (or at all, for a tool without one).
    pub free_quota: Option<FreeQuota>,
    /// Credits one call costs from the caller's prepaid balance, past the entitlement and the
    /// free quota.
    pub credits: Option<u32>,
    /// The Stripe meter a call under the entitlement reports to (postpaid usage).
    pub meter: Option<Meter>,
    /// The kit's `buy_credits`: a call's machine payment buys credits instead of running it.
    #[doc(hidden)]
    pub buys_credits: bool,
}

impl ToolExtension for Price {
    /// The price, so a client can show it: the entitlement, the free quota, the credits per call
    /// and the usage meter.
    fn list_meta(&self, tool: &str, meta: &mut Map<String, Value>) {
        if let Some(key) = self.entitlement {
            meta.insert("mkit/entitlement".into(), key.into());
        }
        if let Some(q) = &self.free_quota {
            let quota = json!({ "calls": q.calls, "window": q.window.as_str(), "quota": q.key(tool) });
            meta.insert("mkit/free_quota".into(), quota);
        }
        if let Some(credits) = self.credits {
            meta.insert("mkit/credits".into(), credits.into());
        }
        if let Some(meter) = &self.meter {
            meta.insert("mkit/meter".into(), meter.event_name.into());
        }
    }
    fn gated(&self) -> bool {
        self.entitlement.is_some() || self.free_quota.is_some() || self.credits.is_some() || self.meter.is_some()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same(&self, other: &dyn ToolExtension) -> bool {
        other.as_any().downcast_ref::<Price>() == Some(self)
    }
}

/// The price builders on `ToolInfo`: `use mkit::price::Priced;` in a priced tool's file.
pub trait Priced: Sized {
    /// The tool's price, if it has one.
    fn price(&self) -> Option<&Price>;
    /// Changes the price with `change`.
    #[doc(hidden)]
    fn priced(self, change: impl FnOnce(&mut Price)) -> Self;

    /// Sold by subscription: a caller must hold entitlement `key`.
    fn entitlement(self, key: &'static str) -> Self {
        self.priced(|p| p.entitlement = Some(key))
    }
    /// `calls` free calls per caller per `window` (UTC calendar windows). With an entitlement,
    /// holders are not counted and others get these calls before being asked to pay; without
    /// one, a caller past the quota gets `quota_exceeded` until the window resets.
    fn free_quota(self, calls: u32, window: Window) -> Self {
        self.priced(|p| p.free_quota = Some(FreeQuota { calls, window, group: p.free_quota.and_then(|q| q.group) }))
    }
    /// Shares the free quota with every tool naming the same group (one counter for all).
    fn quota_group(self, group: &'static str) -> Self {
        self.priced(|p| {
            if let Some(q) = &mut p.free_quota {
                q.group = Some(group);
            }
        })
    }
    /// `credits` (at least 1) per call from the caller's prepaid balance, reserved before the run
    /// and refunded if it fails. Holders of the entitlement pay nothing; free calls come first.
    fn credits(self, credits: u32) -> Self {
        self.priced(|p| p.credits = Some(credits.max(1)))
    }
    /// Reports each successful call under the entitlement to the Stripe meter whose event name is
    /// `event_name`, with value 1 (or what `meter_value` computes).
    fn meter(self, event_name: &'static str) -> Self {
        self.priced(|p| p.meter = Some(Meter { event_name, value: None }))
    }
    /// The meter value of a call, from its result (e.g. units processed); `None` or 0 records
    /// nothing.
    fn meter_value(self, value: fn(&Value) -> Option<u64>) -> Self {
        self.priced(|p| {
            if let Some(m) = &mut p.meter {
                m.value = Some(value);
            }
        })
    }
}

impl Priced for ToolInfo {
    fn price(&self) -> Option<&Price> {
        self.extension::<Price>()
    }
    fn priced(self, change: impl FnOnce(&mut Price)) -> Self {
        let mut price = self.price().copied().unwrap_or_default();
        change(&mut price);
        self.with(price)
    }
}

/// Every free quota the registry's tools declare, once per counter (a group counts once).
pub fn free_quotas(registry: &Registry) -> Vec<(&'static str, FreeQuota)> {
    let mut out: Vec<(&'static str, FreeQuota)> = Vec::new();
    for t in &registry.tools {
        if let Some(q) = t.info.price().and_then(|p| p.free_quota) {
            let key = q.group.unwrap_or(t.info.name);
            if !out.iter().any(|(k, _)| *k == key) {
                out.push((key, q));
            }
        }
    }
    out
}

/// Whether any tool costs credits (then callers have a balance worth reading).
pub fn prices_in_credits(registry: &Registry) -> bool {
    registry.tools.iter().any(|t| t.info.price().is_some_and(|p| p.credits.is_some()))
}

/// Whether a caller can pay for anything here: a tool behind an entitlement, or priced in credits
/// (packs are bought through the pay link). A free quota alone sells nothing.
pub fn sells(registry: &Registry) -> bool {
    registry.tools.iter().any(|t| t.info.price().is_some_and(|p| p.entitlement.is_some() || p.credits.is_some()))
}

/// What a caller has and has paid, as the paywall reports it (`ToolContext::account`): what
/// `whoami` and `mkit://billing/usage` show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Account {
    /// Entitlement keys from the billing ledger.
    pub entitlements: Vec<String>,
    /// Free quotas: used and remaining calls in the current window, and when it resets.
    pub quotas: Vec<QuotaUsage>,
    /// Prepaid credits left; `None` when this server keeps no credits.
    pub credits: Option<i64>,
    /// Calls paid per call in machine payments (x402), and their sum; `None` when this server
    /// takes none.
    pub machine_payments: Option<MachinePaid>,
    /// Where the caller manages their subscription; `None` when this server does not sell access.
    pub manage_url: Option<String>,
}

/// The caller's account (`whoami`'s billing half): their entitlements, free quotas, credits and
/// machine payments, read from the ledger at most once per request.
///
/// ```
/// use mkit_mcp::{ToolContext, ToolError}; // `mkit::mcp::…` in a seller's crate
///
/// async fn is_subscriber(ctx: &ToolContext<'_>) -> Result<bool, ToolError> {
///     let account = mkit_paywall::price::account(ctx).await?; // `mkit::price::account`
///     Ok(account.entitlements.iter().any(|e| e == "pro"))
/// }
/// ```
pub async fn account(ctx: &ToolContext<'_>) -> Result<Account, ToolError> {
    match ctx.account().await? {
        None => Ok(Account::default()),
        Some(account) => account
            .downcast::<Account>()
            .map(|a| *a)
            .map_err(|_| ToolError::new("the caller's gate keeps no account this tool can read")),
    }
}

/// What a caller has paid in settled machine payments (`whoami`, `mkit://billing/usage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MachinePaid {
    /// Paid calls settled.
    pub calls: u64,
    /// Their sum, in the asset's smallest units (decimal text: it can outgrow JSON's integers).
    pub amount: String,
    /// The asset (token contract) paid in.
    pub asset: String,
    /// The network, as a CAIP-2 id.
    pub network: String,
}
