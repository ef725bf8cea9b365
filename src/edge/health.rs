//! GET /healthz: gathers each check (configuration, D1, the issuer's keys, billing) for the pure
//! `health::HealthReport`.

use worker::{Env, Request};

use super::respond::EnvVars;
use super::{d1, keys};
use crate::config::{Config, VarState};
use crate::health::HealthReport;
use crate::http::HttpReply;

pub async fn healthz(_req: Request, env: &Env) -> HttpReply {
    let (report, config) = Config::load_with_report(&EnvVars(env));
    let db = d1::probe(env).await;
    let jwks = match &config {
        Some(c) => Some(keys::health(c).await),
        None => None,
    };
    let secret = report.state_of("STRIPE_WEBHOOK_SECRET") == Some(VarState::Ok);
    let health = HealthReport::new(&report, &db, jwks).with_billing(secret, d1::last_event_at(env).await);
    let body = serde_json::to_value(&health).unwrap_or_default();
    HttpReply::json(health.http_status(), &body, health.error_code()).with_header("Cache-Control", "no-store")
}
