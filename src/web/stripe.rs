//! The Stripe API calls the pay pages make, as data: method, path, form parameters, and how to
//! read the answer. The edge sends them with the secret key, the pinned `Stripe-Version` and an
//! idempotency key; tests compare each with stripe-node's own request for the same call.

use serde_json::Value;

/// The API version mKit speaks (the one the pinned `stripe` package sends, and whose event
/// shapes the ledger reads).
pub const STRIPE_VERSION: &str = "2026-10-28.endive";
pub const API_BASE: &str = "https://api.stripe.com";

/// One API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: &'static str,
    /// The path and, for GETs, the query.
    pub path: String,
    pub form: Vec<(String, String)>,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The active price whose lookup key is `entitlement`.
pub fn find_price(entitlement: &str) -> ApiRequest {
    let query = super::form::encode(&pairs(&[("lookup_keys[]", entitlement), ("active", "true"), ("limit", "1")]));
    ApiRequest { method: "GET", path: format!("/v1/prices?{query}"), form: Vec::new() }
}

/// What a Checkout Session for one entitlement needs.
pub struct Checkout<'a> {
    pub price: &'a str,
    pub sub: &'a str,
    /// A `client_reference_id` mKit minted and can verify (`billing::reference`).
    pub client_reference: Option<&'a str>,
    /// The customer already bound to `sub`, reused so one user has one customer.
    pub customer: Option<&'a str>,
    /// The worker's origin, for the success and cancel pages.
    pub origin: &'a str,
}

/// A subscription Checkout Session. The user binding is set here, server-side, on the session
/// and on the subscription it creates: nothing the payer can edit.
pub fn checkout_session(c: &Checkout<'_>) -> ApiRequest {
    let success = format!("{}/billing/success", c.origin);
    let cancel = format!("{}/billing/cancel", c.origin);
    let mut form = pairs(&[
        ("mode", "subscription"),
        ("line_items[0][price]", c.price),
        ("line_items[0][quantity]", "1"),
        ("success_url", &success),
        ("cancel_url", &cancel),
        ("metadata[mkit_user]", c.sub),
        ("subscription_data[metadata][mkit_user]", c.sub),
    ]);
    if let Some(r) = c.client_reference {
        form.extend(pairs(&[("client_reference_id", r)]));
    }
    if let Some(customer) = c.customer {
        form.extend(pairs(&[("customer", customer)]));
    }
    ApiRequest { method: "POST", path: "/v1/checkout/sessions".into(), form }
}

/// A billing portal session for `customer`, returning to mKit's "done" page.
pub fn portal_session(customer: &str, origin: &str) -> ApiRequest {
    let back = format!("{origin}/billing/done");
    ApiRequest {
        method: "POST",
        path: "/v1/billing_portal/sessions".into(),
        form: pairs(&[("customer", customer), ("return_url", &back)]),
    }
}

/// Why a Stripe call did not give what the page needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeError {
    /// No active price sells this entitlement.
    NoPrice,
    /// Stripe answered an error status.
    Refused(u16),
    /// The answer was not what the API documents.
    Unexpected,
}

impl StripeError {
    pub fn code(self) -> &'static str {
        match self {
            StripeError::NoPrice => "stripe_no_price",
            StripeError::Refused(_) => "stripe_refused",
            StripeError::Unexpected => "stripe_unexpected",
        }
    }
}

fn json(status: u16, body: &[u8]) -> Result<Value, StripeError> {
    if !(200..300).contains(&status) {
        return Err(StripeError::Refused(status));
    }
    serde_json::from_slice(body).map_err(|_| StripeError::Unexpected)
}

/// The id of the first price in a price list.
pub fn price_id(status: u16, body: &[u8]) -> Result<String, StripeError> {
    let v = json(status, body)?;
    let first = v.get("data").and_then(Value::as_array).ok_or(StripeError::Unexpected)?.first();
    first.and_then(|p| p.get("id")).and_then(Value::as_str).map(str::to_owned).ok_or(StripeError::NoPrice)
}

/// The `url` of a created session (Checkout or billing portal), if it is an https URL (or http
/// on loopback, for local tests).
pub fn session_url(status: u16, body: &[u8]) -> Result<String, StripeError> {
    let v = json(status, body)?;
    let url = v.get("url").and_then(Value::as_str).ok_or(StripeError::Unexpected)?;
    crate::config::validate_url(url).map_err(|_| StripeError::Unexpected)?;
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_binds_the_user_server_side() {
        let c = Checkout {
            price: "price_1",
            sub: "alice",
            client_reference: Some("mkit1_x_y"),
            customer: Some("cus_1"),
            origin: "https://mkit.example",
        };
        let r = checkout_session(&c);
        assert_eq!((r.method, r.path.as_str()), ("POST", "/v1/checkout/sessions"));
        let get = |k: &str| r.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("metadata[mkit_user]"), Some("alice"));
        assert_eq!(get("subscription_data[metadata][mkit_user]"), Some("alice"));
        assert_eq!((get("customer"), get("client_reference_id")), (Some("cus_1"), Some("mkit1_x_y")));
        assert_eq!(get("success_url"), Some("https://mkit.example/billing/success"));
        let bare = checkout_session(&Checkout { customer: None, client_reference: None, ..c });
        assert!(!bare.form.iter().any(|(k, _)| k == "customer" || k == "client_reference_id"));
        assert_eq!(find_price("pro").path, "/v1/prices?lookup_keys%5B%5D=pro&active=true&limit=1");
    }

    #[test]
    fn answers() {
        assert_eq!(price_id(200, br#"{"data":[{"id":"price_9"}]}"#), Ok("price_9".into()));
        assert_eq!(price_id(200, br#"{"data":[]}"#), Err(StripeError::NoPrice));
        assert_eq!(price_id(401, b"{}"), Err(StripeError::Refused(401)));
        assert_eq!(
            session_url(200, br#"{"url":"https://checkout.stripe.com/c/pay/cs_1"}"#).as_deref(),
            Ok("https://checkout.stripe.com/c/pay/cs_1")
        );
        assert_eq!(session_url(200, br#"{"url":"javascript:alert(1)"}"#), Err(StripeError::Unexpected));
        assert_eq!(session_url(200, b"not json"), Err(StripeError::Unexpected));
    }
}
