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

use super::context::{Denial, DynEntitlements, MeterUsage, ToolContext};
use super::tool::{ToolInfo, ToolOutcome};

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
    FreeQuota { window_start: i64 },
    /// Credits were reserved under this debit id.
    Credits(String),
}

impl Admission {
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
pub async fn admit(ctx: &ToolContext<'_>, info: &ToolInfo) -> Result<Admission, Denial> {
    let name = info.name;
    let gate = ctx.entitlements;
    let mut denial = None;
    if let Some(key) = info.entitlement {
        match gate.require_boxed(name, key).await {
            Ok(()) => return Ok(Admission::Granted),
            Err(pay @ Denial::PaymentRequired { .. }) => denial = Some(pay),
            Err(other) => return Err(other),
        }
    }
    if let Some(q) = &info.free_quota {
        match gate.take_free_call_boxed(q.key(name), q).await {
            Ok(window_start) => return Ok(Admission::FreeQuota { window_start }),
            Err(used_up @ Denial::QuotaExceeded(_)) => denial = denial.or(Some(used_up)),
            Err(other) => return Err(other),
        }
    }
    if let Some(credits) = info.credits {
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

/// A raw tool's 2026-07-28 `input_required` round.
pub fn asks_for_input(outcome: &ToolOutcome) -> bool {
    matches!(outcome, ToolOutcome::Raw(r) if r.get("resultType").and_then(Value::as_str) == Some("input_required"))
}

/// The output of a run that finished (a typed tool's value, a raw tool's `structuredContent` or
/// whole result), or `None` for one that failed or waits for input.
pub(super) fn finished(outcome: &ToolOutcome) -> Option<&Value> {
    if asks_for_input(outcome) {
        return None;
    }
    match outcome {
        ToolOutcome::Ok(v) => Some(v),
        ToolOutcome::Raw(r) if r.get("isError") == Some(&Value::Bool(true)) => None,
        ToolOutcome::Raw(r) => Some(r.get("structuredContent").unwrap_or(r)),
        _ => None,
    }
}

/// After the run: give back what an unfinished call took; settle and meter a finished one.
pub async fn settle(ctx: &ToolContext<'_>, info: &ToolInfo, admission: &Admission, outcome: &ToolOutcome) {
    let gate = ctx.entitlements;
    let result = finished(outcome);
    match (admission, result) {
        (_, None) => give_back(gate, info, admission).await,
        (Admission::Credits(debit), Some(_)) => gate.settle_call_boxed(Some(debit), None).await,
        (Admission::Granted, Some(result)) => {
            let usage =
                info.meter.and_then(|m| Some(MeterUsage { event_name: m.event_name, value: m.value_of(result)? }));
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
            if let Some(q) = &info.free_quota {
                gate.give_back_free_call_boxed(q.key(info.name), q, *window_start).await;
            }
        }
        Admission::Credits(debit) => gate.refund_credits_boxed(debit).await,
        Admission::Free | Admission::Granted => {}
    }
}

/// A stored task's admission (`Task::admission`). A task stored before free calls named their
/// window holds a bare `"FreeQuota"`: it reads as taken from a window long ended, so giving it back
/// changes nothing rather than credit whichever window is current.
pub fn stored<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Admission>, D::Error> {
    use serde::Deserialize;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "FreeQuota" => Ok(Some(Admission::FreeQuota { window_start: 0 })),
        Some(v) => serde_json::from_value(v).map(Some).map_err(serde::de::Error::custom),
    }
}

/// The log's word for a denial.
pub fn denial_label(d: &Denial) -> &'static str {
    match d {
        Denial::Unavailable(_) => "unavailable",
        Denial::PaymentRequired { .. } => "payment_required",
        Denial::QuotaExceeded(_) => "quota_exceeded",
    }
}
