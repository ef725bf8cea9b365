//! The workers-rs adapter: one file per route family, binding the pure modules to Env, D1, the
//! Cache API and the clock. Every handler has one shape: `(Request, &Env, &Isolate) -> HttpReply`,
//! the isolate being the composition root (`isolate`) built once from the seller's server.

#[cfg(feature = "counters")]
mod after_response;
#[cfg(feature = "billing")]
mod billing;
mod body;
mod callback;
mod caller;
#[cfg(feature = "billing")]
mod cdp;
#[cfg(feature = "counters")]
mod counter_object;
#[cfg(feature = "counters")]
mod counters;
mod d1;
mod fetch;
mod health;
mod introspect;
mod isolate;
mod jwks_copy;
mod key_refresh;
mod keys;
#[cfg(feature = "billing")]
mod ledger;
#[cfg(feature = "sessions")]
mod listeners;
mod mcp;
#[cfg(feature = "billing")]
mod meter;
#[cfg(feature = "auth-server")]
mod oauth;
#[cfg(any(feature = "sessions", feature = "tasks", feature = "counters"))]
mod object_storage;
#[cfg(feature = "counters")]
mod payer_object;
mod platform;
mod random;
mod rate_limit;
mod request_url;
mod respond;
#[cfg(feature = "sessions")]
mod session_object;
mod sessions;
#[cfg(any(feature = "billing", feature = "auth-server"))]
mod signin;
mod state;
mod stats;
#[cfg(feature = "tasks")]
mod task_object;
mod task_store;
mod webcrypto;
#[cfg(feature = "billing")]
mod webhook;
#[cfg(feature = "billing")]
mod x402;
#[cfg(feature = "billing")]
mod x402_stripe;

use std::rc::Rc;

use worker::{console_log, Date, Env, Request, Response, Result};

use crate::http::HttpReply;
use crate::log::{sanitize_cf_ray, RequestLog};
#[cfg(feature = "billing")]
use crate::paylink::Kind;
use crate::routes::{route, Route, Routing};
use isolate::Isolate;
use respond::Answered;

pub use isolate::install;

pub async fn serve(req: Request, env: Env) -> Result<Response> {
    let started = Date::now().as_millis();
    let method = req.method().to_string();
    let cf_ray = req.headers().get("cf-ray").ok().flatten();
    let traceparent = req.headers().get("traceparent").ok().flatten();
    let isolate = isolate::current();
    let (route_name, reply) = match route(&method, &req.path()) {
        Routing::Found(r) => (r.name(), handle(r, req, &env, &isolate).await),
        Routing::NotFound => ("unmatched", HttpReply::error(404, "not_found").into()),
        Routing::MethodNotAllowed { route, allow } => (route, respond::method_not_allowed(allow).into()),
    };
    let mut answered = reply;
    let reply = answered.reply();
    if reply.log.traceparent.is_none() {
        reply.log.traceparent = traceparent.as_deref().and_then(crate::log::traceparent);
    }
    // Workers' clock only advances across I/O, so this is wall time spent waiting on
    // subrequests and storage, not CPU time.
    let duration_ms = Date::now().as_millis().saturating_sub(started) as f64;
    stats::record(&env, &reply.log, reply.status, duration_ms);
    let line = RequestLog {
        method: &method,
        route: route_name,
        status: reply.status,
        duration_ms,
        cf_ray: cf_ray.as_deref().and_then(sanitize_cf_ray),
        error: reply.error,
        extras: &reply.log,
    };
    console_log!("{}", line.to_line());
    respond::into_response(answered)
}

/// Every scheduled run: the metered usage export and machine payments' Stripe records, then the sweep — free-quota windows over 40
/// days old, credit reservations left open for an hour (settled), meter rows sent 40 days ago,
/// and expired authorization-server rows (codes, refresh tokens, families, client assertions' jti).
pub async fn scheduled(env: Env) {
    let Ok(config) = isolate::current().config(&env) else { return };
    let now = Date::now().as_millis() / 1000;
    let statements = housekeeping(&env, &config, now).await;
    if statements.is_empty() {
        return;
    }
    let outcome = match d1::apply_batch(&env, &statements).await {
        Ok(changed) => format!("{{\"event\":\"sweep\",\"changed\":{}}}", changed.iter().sum::<usize>()),
        Err(e) => format!("{{\"event\":\"sweep\",\"error\":\"{}\"}}", e.code()),
    };
    console_log!("{outcome}");
}

/// What each capability sweeps (its metered usage exported first).
#[cfg_attr(not(feature = "billing"), expect(unused_variables))]
async fn housekeeping(env: &Env, config: &crate::config::Config, now: u64) -> Vec<crate::sql::Statement> {
    #[cfg_attr(not(any(feature = "billing", feature = "auth-server")), expect(unused_mut))]
    let mut statements = Vec::new();
    #[cfg(feature = "billing")]
    {
        meter::export(env, config, now as i64).await;
        x402_stripe::record(env, config).await;
        statements.push(crate::billing::usage::sweep(now as i64));
        statements.push(crate::billing::credits::settle_stale(now as i64));
        statements.push(crate::billing::meter::sweep(now as i64));
        statements.push(crate::billing::x402::unconfirm_stale(now as i64));
    }
    #[cfg(feature = "auth-server")]
    if config.auth_server {
        statements.extend(crate::oauth::store::sweep(now));
        statements.push(crate::oauth::machine_store::sweep_assertions(now));
    }
    statements
}

/// The route table's handlers.
async fn handle(r: Route, req: Request, env: &Env, iso: &Rc<Isolate>) -> Answered {
    let reply = match r {
        Route::Mcp => return mcp::post(req, env, iso).await,
        Route::McpSession => return mcp::session(req, env, iso).await,
        Route::Healthz => health::healthz(req, env, iso).await,
        Route::McpPreflight => mcp::preflight(req, env, iso).await,
        Route::ProtectedResourceMetadata => mcp::protected_resource_metadata(req, env, iso).await,
        #[cfg(feature = "billing")]
        Route::StripeWebhook => webhook::stripe(req, env, iso).await,
        #[cfg(feature = "billing")]
        Route::BillingCheckout => billing::pay_link(req, env, iso, Kind::Checkout).await,
        #[cfg(feature = "billing")]
        Route::BillingPortal => billing::pay_link(req, env, iso, Kind::Portal).await,
        #[cfg(feature = "billing")]
        Route::BillingPage(which) => billing::page(req, env, iso, which).await,
        #[cfg(not(feature = "billing"))]
        Route::StripeWebhook | Route::BillingCheckout | Route::BillingPortal | Route::BillingPage(_) => {
            HttpReply::error(404, "billing_off")
        }
        Route::BillingCallback => callback::callback(req, env, iso).await,
        #[cfg(feature = "auth-server")]
        Route::OAuth(which) => oauth::handle(which, req, env, iso).await,
        #[cfg(not(feature = "auth-server"))]
        Route::OAuth(_) => HttpReply::error(404, "authorization_server_off"),
        #[cfg(feature = "fixtures")]
        Route::FixturePanic => fixture_panic(req),
        #[cfg(feature = "fixtures")]
        Route::FixtureJwsVerify => webcrypto::fixture_verify(req, iso).await,
    };
    reply.into()
}

/// Test-only: a deliberate panic, to measure what happens to the isolate afterwards.
#[cfg(feature = "fixtures")]
fn fixture_panic(req: Request) -> HttpReply {
    let depth = req.path().len();
    panic!("fixture panic at depth {depth}");
}
