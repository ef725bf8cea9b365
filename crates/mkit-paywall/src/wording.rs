//! What a refused paid call tells the caller: the tool error for a used-up quota, a missing
//! entitlement, a short balance or an unreadable ledger, naming where to pay.

use serde_json::json;

use crate::quota::{rfc3339, FreeQuota};
use mkit_billing::StoreError;
use mkit_mcp::ToolError;

/// A free tool past its quota: not a payment question, a wait.
pub(crate) fn quota_exceeded(key: &str, q: &FreeQuota, now: i64) -> ToolError {
    let resets_at = rfc3339(q.window.resets_at(now));
    ToolError::new(format!(
        "The free quota \"{key}\" ({} calls per {}) is used up; it resets at {resets_at}.",
        q.calls,
        q.window.as_str()
    ))
    .with_structured(json!({ "error": "quota_exceeded", "quota": key, "resets_at": resets_at }))
}

/// Fail closed, and say it is worth retrying.
pub(crate) fn unavailable(e: StoreError) -> ToolError {
    ToolError::new(format!("the billing ledger cannot be read now ({}); try again", e.code()))
        .with_structured(json!({ "error": "entitlements_unavailable" }))
}

/// A priced call the balance does not cover: where to buy credits.
pub(crate) fn credits_required(
    tool: &str,
    credits: u32,
    upgrade_url: Option<&str>,
    checkout_url: Option<&str>,
) -> ToolError {
    let what = format!("The tool {tool} costs {credits} credits per call, more than this account's balance.");
    let where_ = WhereToPay { checkout_url, upgrade_url, open_to: "buy credits", static_page: "Buy credits at" };
    ToolError::new(where_.told(what)).with_structured(json!({ "error": "payment_required", "credits": credits,
        "upgrade_url": upgrade_url, "checkout_url": checkout_url }))
}

/// Not a 403 (re-authorizing cannot fix a missing payment) but a result the model can act on,
/// naming the entitlement and where to get it: the caller's own checkout link when mKit sells
/// it, else the static upgrade page.
pub(crate) fn payment_required(
    tool: &str,
    key: &str,
    upgrade_url: Option<&str>,
    checkout_url: Option<&str>,
) -> ToolError {
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
