//! GET /healthz: gathers each check (configuration, D1, the issuer's keys, billing) for the pure
//! `health::HealthReport`.

use std::cell::RefCell;
use worker::{Date, Env, Request};

use super::isolate::Isolate;
use super::respond::{self, EnvVars};
use super::{d1, introspect, keys};
#[cfg(feature = "billing")]
use crate::billing::meter;
use crate::config::{Config, StripeMode, VarState};
#[cfg(feature = "billing")]
use crate::health::Backlog;
use crate::health::HealthReport;
use crate::http::HttpReply;

use super::state::StoreChecks;

/// The last D1 checks (`Isolate::store_checks`).
pub type Recent = crate::health::Recent<StoreChecks>;

async fn store_checks(env: &Env, kept: &RefCell<Recent>) -> StoreChecks {
    let now = Date::now().as_millis();
    if let Some(hit) = kept.borrow().get(now) {
        return hit;
    }
    #[cfg(feature = "billing")]
    let checks = {
        let backlog = d1::first_row::<Backlog>(env, meter::BACKLOG_SQL, &[]).await.ok().flatten();
        (d1::probe(env).await, d1::last_event_at(env).await, backlog)
    };
    // Without billing there is no Stripe event or meter outbox to look at.
    #[cfg(not(feature = "billing"))]
    let checks = (d1::probe(env).await, None, None);
    kept.borrow_mut().put(now, checks.clone());
    checks
}

pub async fn healthz(_req: Request, env: &Env, iso: &Isolate) -> HttpReply {
    let needs = iso.needs();
    let (report, config) = Config::load_with_report(&EnvVars(env), needs);
    let (db, last_event_at, backlog) = store_checks(env, &iso.store_checks).await;
    let jwks = match &config {
        Some(c) => Some(keys::health(&iso.tokens, c).await),
        None => None,
    };
    let secret = match report.state_of("STRIPE_WEBHOOK_SECRET") {
        Some(VarState::Ok) => "ok",
        None if !needs.paid_tools => "disabled",
        _ => "missing",
    };
    let selling = config.as_ref().is_some_and(|c| c.stripe_secret_key.is_some() && c.web_client.is_some());
    let mode = config.as_ref().and_then(|c| c.stripe_mode).map(|m| match m {
        StripeMode::Live => "live",
        StripeMode::Test => "test",
    });
    let (as_mode, registration) = config.as_ref().map_or((false, None), |c| (c.auth_server, c.auth_registration));
    let mut health = HealthReport::new(&report, &db, jwks)
        .with_billing(secret, last_event_at)
        .with_selling(selling, mode)
        .with_auth_mode(as_mode, registration)
        .with_meter_outbox(backlog, (Date::now().as_millis() / 1000) as i64);
    if let Some(i) = config.as_ref().and_then(|c| c.introspection.as_ref()) {
        health = health.with_introspection(&i.endpoint, &introspect::health(&iso.tokens, i).await);
    }
    let body = serde_json::to_value(&health).unwrap_or_default();
    let mut reply = HttpReply::json(health.http_status(), &body, health.error_code());
    if !report.errors.is_empty() {
        reply.log.config = Some(respond::config_problems(&report.errors));
    }
    reply.with_header("Cache-Control", "no-store")
}
