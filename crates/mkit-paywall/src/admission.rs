//! Whether a `tools/call` runs, and what it costs. The order (docs/configuration.md "Pricing"):
//!
//! 1. the tool's entitlement: holders run it, uncounted (and a meter records the call);
//! 2. its free quota: one call is taken;
//! 3. its price in credits: the cost is reserved from the prepaid balance;
//! 4. else a denial: pay for the entitlement if the tool has one, else buy credits if it costs
//!    any, else wait for the quota to reset.
//!
//! After the run, a failed or unfinished call (an `input_required` round) gives back its free
//! call or its credits; a finished one settles its debit and records its metered usage.

use serde_json::Value;

use super::access::{Denial, DynEntitlements, MeterUsage};
use crate::price::{Price, Priced};
use mkit_mcp::{ToolInfo, ToolOutcome};

/// Why a call was let through: the log's billing decision, and what a task carries from its
/// creation to its run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Admission {
    /// Not priced at all.
    Free,
    /// The caller holds the entitlement.
    Granted,
    /// One call of the free quota was taken, from the window starting at `window_start` (Unix
    /// seconds): a give-back names that window, so a task that fails or is cancelled after the
    /// window rolled over never credits the current one (#28 item 10).
    FreeQuota {
        /// The window's start, in Unix seconds.
        window_start: i64,
    },
    /// Credits were reserved under this debit id.
    Credits(String),
}

impl Admission {
    /// The log's word for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Admission::Free => "free",
            Admission::Granted => "granted",
            Admission::FreeQuota { .. } => "free_quota",
            Admission::Credits(_) => "credits",
        }
    }
}

/// The decision for `info`, taking a free call or reserving credits when that lets it run.
pub async fn admit(gate: &dyn DynEntitlements, info: &ToolInfo) -> Result<Admission, Denial> {
    let name = info.name;
    let Some(price) = info.price() else { return Ok(Admission::Free) };
    let mut denial = None;
    if let Some(key) = price.entitlement {
        match gate.require_boxed(name, key).await {
            Ok(()) => return Ok(Admission::Granted),
            Err(pay @ Denial::PaymentRequired { .. }) => denial = Some(pay),
            Err(other) => return Err(other),
        }
    }
    if let Some(q) = &price.free_quota {
        match gate.take_free_call_boxed(q.key(name), q).await {
            Ok(window_start) => return Ok(Admission::FreeQuota { window_start }),
            Err(used_up @ Denial::QuotaExceeded(_)) => denial = denial.or(Some(used_up)),
            Err(other) => return Err(other),
        }
    }
    if let Some(credits) = price.credits {
        match gate.reserve_credits_boxed(name, credits).await {
            Ok(debit) => return Ok(Admission::Credits(debit)),
            // Buying credits helps now; a quota only helps later.
            Err(short @ Denial::PaymentRequired { .. }) if !matches!(denial, Some(Denial::PaymentRequired { .. })) => {
                denial = Some(short)
            }
            Err(Denial::PaymentRequired { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    denial.map_or(Ok(Admission::Free), Err)
}

/// After the run: give back what an unfinished call took; settle and meter a finished one.
pub async fn settle(gate: &dyn DynEntitlements, info: &ToolInfo, admission: &Admission, outcome: &ToolOutcome) {
    let result = outcome.finished();
    let price = info.price().copied().unwrap_or_default();
    match (admission, result) {
        (_, None) => give_back(gate, info, admission).await,
        (Admission::Credits(debit), Some(_)) => gate.settle_call_boxed(Some(debit), None).await,
        (Admission::Granted, Some(result)) => {
            let usage =
                price.meter.and_then(|m| Some(MeterUsage { event_name: m.event_name, value: m.value_of(result)? }));
            if usage.is_some() {
                gate.settle_call_boxed(None, usage).await;
            }
        }
        _ => {}
    }
}

/// Gives back what a call that did not finish took: its free call, to the window it was taken
/// from (nothing once that window has ended), or its reserved credits (also for a cancelled task,
/// whose run never settles, and a task failed by its attempt cap).
pub async fn give_back(gate: &dyn DynEntitlements, info: &ToolInfo, admission: &Admission) {
    match admission {
        Admission::FreeQuota { window_start } => {
            if let Some(q) = info.price().and_then(|p: &Price| p.free_quota.as_ref()) {
                gate.give_back_free_call_boxed(q.key(info.name), q, *window_start).await;
            }
        }
        Admission::Credits(debit) => gate.refund_credits_boxed(debit).await,
        Admission::Free | Admission::Granted => {}
    }
}

/// A task's ticket (`Task::admission`, kept by `paywall::gate` at its creation): `None` when it
/// cannot be read. A task stored before free calls named their window holds a bare
/// `"FreeQuota"`: it reads as taken from a window long ended, so giving it back changes nothing
/// rather than credit whichever window is current.
pub fn from_ticket(ticket: &Value) -> Option<Admission> {
    match ticket {
        Value::Null => Some(Admission::Free),
        Value::String(s) if s == "FreeQuota" => Some(Admission::FreeQuota { window_start: 0 }),
        v => serde_json::from_value(v.clone()).ok(),
    }
}

/// The ticket a task keeps for `admission`.
pub fn ticket(admission: &Admission) -> Value {
    serde_json::to_value(admission).unwrap_or(Value::Null)
}

/// The log's word for a denial.
pub fn denial_label(d: &Denial) -> &'static str {
    match d {
        Denial::Unavailable(_) => "unavailable",
        Denial::PaymentRequired { .. } => "payment_required",
        Denial::QuotaExceeded(_) => "quota_exceeded",
    }
}
