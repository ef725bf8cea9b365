//! The pay pages on Workers: a pay link (`paylink`) opens Stripe Checkout or the billing portal
//! once the browser has signed in as the user the link was minted for. Nothing is created for
//! anyone else.

use std::time::Duration;
use worker::{Env, Method, Request};

use super::d1;
use super::fetch::{send, Body, FetchError, Outbound};
use super::isolate::Isolate;
use super::signin::{see_other, Shop};
use crate::billing::reference::client_reference;
use crate::http::HttpReply;
use crate::keyring::{self, Purpose};
use crate::mac::{hex, hmac_sha256};
use crate::paylink::{self, Kind, Link};
use crate::routes::BillingPage;
use crate::web::form::query_param;
use crate::web::pages;
use crate::web::stripe::{self, ApiRequest, Checkout, Sale, StripeError};

/// Stripe calls end within this (headers and body).
const STRIPE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_STRIPE_BYTES: usize = 256 * 1024;

/// GET /billing/checkout and /billing/portal.
pub async fn pay_link(req: Request, env: &Env, iso: &Isolate, kind: Kind) -> HttpReply {
    let config = match iso.config(env) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let Some(shop) = Shop::new(&config, &req) else { return pages::not_selling() };
    let query = super::request_url::query(&req);
    let Some(token) = query_param(&query, "t") else { return pages::bad_link() };
    match paylink::expiry(&token) {
        None => return pages::bad_link(),
        Some(exp) if shop.now_secs >= exp => return pages::expired(),
        Some(_) => {}
    }
    let Some(sub) = shop.signed_in(&req) else {
        return shop.start_sign_in(&format!("{}?t={token}", kind.path())).await;
    };
    let keys = keyring::ring(&config.deployment_secrets, Purpose::PayLink);
    let link = match paylink::open(&keys, &config.oauth_issuer, &sub, kind, &token, shop.now_secs) {
        Ok(l) => l,
        // Minted for someone else (or altered): the phishing case. Nothing is created.
        Err(crate::seal::SealError::Expired) => return pages::expired(),
        Err(_) => return pages::wrong_user(),
    };
    let pack = config.credit_pack.as_deref() == Some(link.entitlement.as_str());
    if kind == Kind::Checkout && !pack && already_holds(env, iso, &config, &sub, &link.entitlement, shop.now_secs).await
    {
        return pages::already_paid(&link.entitlement);
    }
    let customer = d1::customer_of(env, &sub).await;
    let opened = match kind {
        Kind::Checkout => checkout(env, &shop, &sub, &link, customer.as_deref()).await,
        Kind::Portal => match customer {
            Some(c) => portal(env, &shop, &link, &c).await,
            None => return no_subscription(),
        },
    };
    match opened {
        Ok(url) => see_other(&url),
        Err(e) => stripe_failed(e),
    }
}

/// Where Stripe sends the browser back.
pub async fn page(_req: Request, _env: &Env, _iso: &Isolate, which: BillingPage) -> HttpReply {
    match which {
        BillingPage::Success => pages::success(),
        BillingPage::Cancel => pages::cancelled(),
        BillingPage::Done => pages::done(),
    }
}

async fn checkout(
    env: &Env,
    shop: &Shop<'_>,
    sub: &str,
    link: &Link,
    customer: Option<&str>,
) -> Result<String, StripeError> {
    let mapped = shop.config.prices.iter().find(|(e, _)| *e == link.entitlement).map(|(_, id)| id.as_str());
    let (sale, price) = if shop.config.credit_pack.as_deref() == Some(link.entitlement.as_str()) {
        // A pack: its price says how many credits it adds, and the session carries that count.
        let lookup = mapped.map_or_else(|| stripe::find_price(&link.entitlement), stripe::retrieve_price);
        let (status, body) = call(env, shop, &lookup, None).await?;
        let (price, credits) = stripe::pack_price(status, &body)?;
        (Sale::Credits(credits), price)
    } else {
        let price = match mapped {
            Some(id) => id.to_owned(),
            None => {
                let (status, body) = call(env, shop, &stripe::find_price(&link.entitlement), None).await?;
                stripe::price_id(status, &body)?
            }
        };
        (Sale::Subscription, price)
    };
    let reference_key = keyring::sealing(&shop.config.deployment_secrets, Purpose::ClientReference);
    let reference = reference_key.and_then(|k| client_reference(&k, sub));
    let request = stripe::checkout_session(&Checkout {
        sale,
        price: &price,
        sub,
        client_reference: reference.as_deref(),
        customer,
        origin: &shop.origin,
    });
    let (status, body) = call(env, shop, &request, idempotency_key(shop, link, customer)).await?;
    stripe::session_url(status, &body)
}

/// Whether `sub` already holds `entitlement` (then there is nothing to sell twice).
async fn already_holds(
    env: &Env,
    iso: &Isolate,
    config: &crate::config::Config,
    sub: &str,
    entitlement: &str,
    now: u64,
) -> bool {
    use crate::paywall::LedgerReader;
    let (now_secs, grace_secs, recent) = (now as i64, config.grace_secs, &iso.entitlements);
    let ledger = super::ledger::D1Ledger { env, now_secs, grace_secs, cache_ms: 0, recent, counters: None };
    // At the primary: a replica behind it could sell the same thing twice.
    ledger.primary_entitlement_keys(sub).await.is_ok_and(|keys| crate::billing::ledger::grants(&keys, entitlement))
}

/// Portal sessions are short-lived and meant to be created on demand: the key changes every
/// minute, so a double click makes one session and a manage link opened later gets a fresh one.
async fn portal(env: &Env, shop: &Shop<'_>, link: &Link, customer: &str) -> Result<String, StripeError> {
    let minute = format!("{customer}\n{}", shop.now_secs / 60);
    let key = idempotency_key(shop, link, Some(&minute));
    let (status, body) = call(env, shop, &stripe::portal_session(customer, &shop.origin), key).await?;
    stripe::session_url(status, &body)
}

/// The same link opened twice makes one Checkout Session: the key derives from the link's nonce
/// and the customer it would reuse (so the parameters behind one key never change).
/// `None` only without `MKIT_SECRET`, which configuration never lets through.
fn idempotency_key(shop: &Shop<'_>, link: &Link, customer: Option<&str>) -> Option<String> {
    let key = keyring::sealing(&shop.config.deployment_secrets, Purpose::StripeIdempotency)?;
    let seed = format!("{}\n{}", link.nonce, customer.unwrap_or(""));
    Some(hex(&hmac_sha256(&key, seed.as_bytes())[..16]))
}

/// One pay-page call to Stripe; a failed exchange is logged and reported as unexpected.
async fn call(
    env: &Env,
    shop: &Shop<'_>,
    r: &ApiRequest,
    idempotency: Option<String>,
) -> Result<(u16, Vec<u8>), StripeError> {
    // The pay pages' Shop always has a key (`Shop::new`); only the sign-in's has none.
    let Some(secret_key) = shop.stripe_key else { return Err(StripeError::Unexpected) };
    send_to_stripe(env, secret_key, r, idempotency, STRIPE_TIMEOUT).await.map_err(|e| {
        worker::console_warn!("{{\"event\":\"stripe_call_failed\",\"error\":\"{}\"}}", e.code());
        StripeError::Unexpected
    })
}

/// One Stripe API call, for the pay pages and the meter export alike: the secret key, the pinned
/// version, an idempotency key on writes, a size cap and `deadline`.
pub(super) async fn send_to_stripe(
    env: &Env,
    secret_key: &str,
    r: &ApiRequest,
    idempotency: Option<String>,
    deadline: Duration,
) -> Result<(u16, Vec<u8>), FetchError> {
    send_to_stripe_as(env, secret_key, r, idempotency, deadline, stripe::STRIPE_VERSION).await
}

/// `send_to_stripe` with another `Stripe-Version` (a preview API's).
pub(super) async fn send_to_stripe_as(
    env: &Env,
    secret_key: &str,
    r: &ApiRequest,
    idempotency: Option<String>,
    deadline: Duration,
    version: &str,
) -> Result<(u16, Vec<u8>), FetchError> {
    let url = format!("{}{}", stripe_base(env), r.path);
    let mut headers = vec![("authorization", format!("Bearer {secret_key}")), ("stripe-version", version.to_owned())];
    if let Some(key) = idempotency {
        headers.push(("idempotency-key", key));
    }
    let (method, form) = match r.method {
        "POST" => (Method::Post, Some(crate::web::form::encode(&r.form))),
        _ => (Method::Get, None),
    };
    send(Outbound { method, url: &url, headers, body: form.map(Body::Form) }, MAX_STRIPE_BYTES, deadline).await
}

/// Stripe's API. The fixtures build (tests only) and `make dev`'s build (the local checkout
/// simulation) may point it at a local server with `MKIT_TEST_STRIPE_API`; a deploy build has no
/// way to change it, and the deploy gate refuses a bundle with either feature.
fn stripe_base(env: &Env) -> String {
    #[cfg(any(feature = "fixtures", feature = "local-checkout"))]
    if let Ok(v) = env.var("MKIT_TEST_STRIPE_API") {
        return v.to_string();
    }
    let _ = env;
    stripe::API_BASE.to_owned()
}

fn stripe_failed(e: StripeError) -> HttpReply {
    let text = match e {
        StripeError::NoPrice => "This plan is not on sale right now. Tell the server's operator.",
        StripeError::NotAPack => {
            "This credit pack's price does not say how many credits it adds (metadata.mkit_credits). Tell the server's operator."
        }
        _ => "Stripe could not open the page. Nothing was charged; call the tool again in your MCP client for a new link.",
    };
    pages::page(502, "Payment page unavailable", text, Some(e.code()))
}

fn no_subscription() -> HttpReply {
    pages::page(
        404,
        "Nothing to manage yet",
        "This account has no subscription. Call a paid tool to get a pay link.",
        Some("portal_no_customer"),
    )
}
