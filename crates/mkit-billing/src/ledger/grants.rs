//! Credit packs: how many credits a paid Checkout Session or subscription invoice grants, read
//! from `metadata.mkit_credits` (docs/configuration.md "Pricing").
//!
//! - A Checkout Session in `payment` mode grants its own `metadata.mkit_credits` once paid
//!   (`payment_status: paid`, or `checkout.session.async_payment_succeeded` later). mKit's pay
//!   pages copy the price's value there when they open Checkout for a pack.
//! - A paid subscription invoice grants its subscription's `metadata.mkit_credits` (Stripe
//!   snapshots it into `parent.subscription_details`), else each line's
//!   `price.metadata.mkit_credits` times its quantity (API versions that embed the price).
//! - Nothing else grants: a one-off invoice that a Checkout Session made would count twice.

use serde_json::Value;

use super::PlanError;

/// The most one grant may add: far above any real pack, far below `i64` overflow.
pub const MAX_GRANT: i64 = 1_000_000_000;

/// `metadata.mkit_credits` of `o`: `None` when absent, an error when not a whole number in
/// 1..=MAX_GRANT (a typo must show in Stripe's dashboard, not vanish).
pub(super) fn metadata_credits(o: &Value) -> Result<Option<i64>, PlanError> {
    let Some(v) = o.pointer("/metadata/mkit_credits") else { return Ok(None) };
    let n = match v {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    n.filter(|n| (1..=MAX_GRANT).contains(n)).map(Some).ok_or(PlanError::Credits)
}

/// The credits a Checkout Session grants with this event, if any.
pub(super) fn checkout_credits(kind: &str, o: &Value) -> Result<Option<i64>, PlanError> {
    let paid = kind == "checkout.session.async_payment_succeeded"
        || o.get("payment_status").and_then(Value::as_str) == Some("paid");
    if o.get("mode").and_then(Value::as_str) != Some("payment") || !paid {
        return Ok(None);
    }
    metadata_credits(o)
}

/// The credits a paid subscription invoice grants, if any.
pub(super) fn invoice_credits(o: &Value, details: Option<&Value>) -> Result<Option<i64>, PlanError> {
    if let Some(n) = details.map(metadata_credits).transpose()?.flatten() {
        return Ok(Some(n));
    }
    let lines = o.pointer("/lines/data").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut total: i64 = 0;
    for line in lines {
        let Some(price) = line.get("price").filter(|p| p.is_object()) else { continue };
        if let Some(per_unit) = metadata_credits(price)? {
            let quantity = line.get("quantity").and_then(Value::as_i64).unwrap_or(1).max(0);
            total = total.saturating_add(per_unit.saturating_mul(quantity));
        }
    }
    match total {
        0 => Ok(None),
        n if n > MAX_GRANT => Err(PlanError::Credits),
        n => Ok(Some(n)),
    }
}
