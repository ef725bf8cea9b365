//! Whether a `tools/call` runs: a paid tool's entitlement first (holders are never counted),
//! then its free quota; a free call whose run fails is given back.

use super::context::{Denial, ToolContext};
use super::tool::ToolInfo;

/// Why a call was let through: the log's billing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Neither paid nor metered.
    Free,
    /// The caller holds the entitlement.
    Granted,
    /// One call of the free quota was taken.
    FreeQuota,
}

impl Admission {
    pub fn as_str(self) -> &'static str {
        match self {
            Admission::Free => "free",
            Admission::Granted => "granted",
            Admission::FreeQuota => "free_quota",
        }
    }
}

/// The decision for `info`, taking a free call when that is what lets the call run.
pub async fn admit(ctx: &ToolContext<'_>, info: &ToolInfo) -> Result<Admission, Denial> {
    let name = info.name;
    match (info.entitlement, &info.free_quota) {
        (None, None) => Ok(Admission::Free),
        (None, Some(q)) => ctx.entitlements.take_free_call_boxed(q.key(name), q).await.map(|()| Admission::FreeQuota),
        (Some(key), quota) => match (ctx.entitlements.require_boxed(name, key).await, quota) {
            (Ok(()), _) => Ok(Admission::Granted),
            (Err(pay @ Denial::PaymentRequired { .. }), Some(q)) => {
                match ctx.entitlements.take_free_call_boxed(q.key(name), q).await {
                    Ok(()) => Ok(Admission::FreeQuota),
                    // Past the free calls, a paid tool still offers to pay.
                    Err(Denial::QuotaExceeded(_)) => Err(pay),
                    Err(other) => Err(other),
                }
            }
            (Err(d), _) => Err(d),
        },
    }
}

/// After the run: a free call whose run failed is given back.
pub async fn settle(ctx: &ToolContext<'_>, info: &ToolInfo, admission: Admission, failed: bool) {
    if let (Admission::FreeQuota, true, Some(q)) = (admission, failed, &info.free_quota) {
        ctx.entitlements.give_back_free_call_boxed(q.key(info.name), q).await;
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
