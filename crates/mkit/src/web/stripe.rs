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

/// A price by id (`MKIT_PRICES`), for a credit pack's `metadata.mkit_credits`.
pub fn retrieve_price(id: &str) -> ApiRequest {
    let id: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    ApiRequest { method: "GET", path: format!("/v1/prices/{id}"), form: Vec::new() }
}

/// What a Checkout Session sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sale {
    /// An entitlement: a subscription.
    Subscription,
    /// A credit pack of this many credits: a one-time payment.
    Credits(i64),
}

/// What a Checkout Session for one entitlement or pack needs.
pub struct Checkout<'a> {
    pub sale: Sale,
    pub price: &'a str,
    pub sub: &'a str,
    /// A `client_reference_id` mKit minted and can verify (`billing::reference`).
    pub client_reference: Option<&'a str>,
    /// The customer already bound to `sub`, reused so one user has one customer.
    pub customer: Option<&'a str>,
    /// The worker's origin, for the success and cancel pages.
    pub origin: &'a str,
}

/// A Checkout Session. The user binding is set here, server-side, on the session and on the
/// subscription it creates, and so is a pack's credit count: nothing the payer can edit.
pub fn checkout_session(c: &Checkout<'_>) -> ApiRequest {
    let success = format!("{}/billing/success", c.origin);
    let cancel = format!("{}/billing/cancel", c.origin);
    let mode = match c.sale {
        Sale::Subscription => "subscription",
        Sale::Credits(_) => "payment",
    };
    let mut form = pairs(&[
        ("mode", mode),
        ("line_items[0][price]", c.price),
        ("line_items[0][quantity]", "1"),
        ("success_url", &success),
        ("cancel_url", &cancel),
        ("metadata[mkit_user]", c.sub),
    ]);
    match c.sale {
        Sale::Subscription => form.extend(pairs(&[("subscription_data[metadata][mkit_user]", c.sub)])),
        Sale::Credits(n) => form.extend(pairs(&[("metadata[mkit_credits]", &n.to_string())])),
    }
    if let Some(r) = c.client_reference {
        form.extend(pairs(&[("client_reference_id", r)]));
    }
    match (c.customer, c.sale) {
        (Some(customer), _) => form.extend(pairs(&[("customer", customer)])),
        // A payment makes no customer unless asked; one is needed for the next pack and receipts.
        (None, Sale::Credits(_)) => form.extend(pairs(&[("customer_creation", "always")])),
        (None, Sale::Subscription) => {}
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

/// One Billing meter event. `identifier` (the outbox row id) is what Stripe dedupes on; the
/// `timestamp` is the call's own time, so usage lands in the period it happened in.
pub fn meter_event(row: &crate::billing::meter::Pending, customer: &str) -> ApiRequest {
    let value = row.value.to_string();
    let timestamp = row.created_at.to_string();
    ApiRequest {
        method: "POST",
        path: "/v1/billing/meter_events".into(),
        form: pairs(&[
            ("event_name", &row.event_name),
            ("payload[stripe_customer_id]", customer),
            ("payload[value]", &value),
            ("identifier", &row.id),
            ("timestamp", &timestamp),
        ]),
    }
}

/// A settled machine payment as a crypto PaymentIntent Stripe verifies against the chain (Stripe's
/// x402 sample's call, `crate::billing::x402_stripe`), sent with `STRIPE_CRYPTO_VERSION`.
pub fn crypto_payment_intent(row: &crate::billing::x402_stripe::Unrecorded, cents: u64, network: &str) -> ApiRequest {
    let amount = cents.to_string();
    ApiRequest {
        method: "POST",
        path: "/v1/payment_intents".into(),
        form: pairs(&[
            ("amount", &amount),
            ("currency", "usd"),
            ("confirm", "true"),
            ("payment_method_data[type]", "crypto"),
            ("payment_method_types[0]", "crypto"),
            ("payment_method_options[crypto][mode]", "transaction_verification"),
            ("payment_method_options[crypto][transaction_verification_options][network]", network),
            ("payment_method_options[crypto][transaction_verification_options][transaction_hash]", &row.tx),
            ("metadata[mkit_payment]", &row.id),
            ("metadata[mkit_user]", &row.user_sub),
            ("metadata[mkit_tool]", &row.tool),
        ]),
    }
}

/// Why a Stripe call did not give what the page needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeError {
    /// No active price sells this entitlement.
    NoPrice,
    /// The credit pack's price has no valid `metadata.mkit_credits`.
    NotAPack,
    /// Stripe answered an error status.
    Refused(u16),
    /// The answer was not what the API documents.
    Unexpected,
}

impl StripeError {
    pub fn code(self) -> &'static str {
        match self {
            StripeError::NoPrice => "stripe_no_price",
            StripeError::NotAPack => "stripe_not_a_pack",
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

/// A credit pack's price from a price list (`find_price`) or a price (`retrieve_price`): its id
/// and `metadata.mkit_credits`. A price without a valid count is not a pack.
pub fn pack_price(status: u16, body: &[u8]) -> Result<(String, i64), StripeError> {
    let v = json(status, body)?;
    let price = match v.get("data").and_then(Value::as_array) {
        Some(list) => list.first().cloned().ok_or(StripeError::NoPrice)?,
        None => v,
    };
    let id = price.get("id").and_then(Value::as_str).ok_or(StripeError::Unexpected)?;
    let credits =
        price.pointer("/metadata/mkit_credits").and_then(Value::as_str).and_then(|c| c.trim().parse::<i64>().ok());
    let credits =
        credits.filter(|n| (1..=crate::billing::ledger::MAX_GRANT).contains(n)).ok_or(StripeError::NotAPack)?;
    Ok((id.to_owned(), credits))
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
            sale: Sale::Subscription,
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
    fn a_pack_is_a_payment_with_its_credits_and_a_customer() {
        let c = Checkout {
            sale: Sale::Credits(100),
            price: "price_p",
            sub: "alice",
            client_reference: None,
            customer: None,
            origin: "https://mkit.example",
        };
        let r = checkout_session(&c);
        let get = |r: &ApiRequest, k: &str| r.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get(&r, "mode").as_deref(), Some("payment"));
        assert_eq!(get(&r, "metadata[mkit_credits]").as_deref(), Some("100"));
        assert_eq!(get(&r, "customer_creation").as_deref(), Some("always"));
        assert_eq!(get(&r, "subscription_data[metadata][mkit_user]"), None);
        let reuse = checkout_session(&Checkout { customer: Some("cus_1"), ..c });
        assert_eq!((get(&reuse, "customer").as_deref(), get(&reuse, "customer_creation")), (Some("cus_1"), None));
        assert_eq!(retrieve_price("price_1/../x").path, "/v1/prices/price_1x");
        let pack = br#"{"id":"price_p","metadata":{"mkit_credits":"100"}}"#;
        assert_eq!(pack_price(200, pack), Ok(("price_p".into(), 100)));
        let listed = br#"{"data":[{"id":"price_p","metadata":{"mkit_credits":" 5 "}}]}"#;
        assert_eq!(pack_price(200, listed), Ok(("price_p".into(), 5)));
        assert_eq!(pack_price(200, br#"{"data":[]}"#), Err(StripeError::NoPrice));
        assert_eq!(pack_price(200, br#"{"id":"price_p","metadata":{}}"#), Err(StripeError::NotAPack));
        assert_eq!(pack_price(200, br#"{"id":"price_p","metadata":{"mkit_credits":"0"}}"#), Err(StripeError::NotAPack));
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

    #[test]
    fn the_meter_event_carries_the_row_id_as_identifier_and_the_call_time() {
        let row = crate::billing::meter::Pending {
            id: "abc".into(),
            event_name: "units".into(),
            value: 7,
            created_at: 1_800_000_000,
            attempts: 0,
            customer_id: Some("cus_1".into()),
        };
        let r = meter_event(&row, "cus_1");
        assert_eq!((r.method, r.path.as_str()), ("POST", "/v1/billing/meter_events"));
        let form: Vec<(&str, &str)> = r.form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            form,
            [
                ("event_name", "units"),
                ("payload[stripe_customer_id]", "cus_1"),
                ("payload[value]", "7"),
                ("identifier", "abc"),
                ("timestamp", "1800000000"),
            ]
        );
    }
}
