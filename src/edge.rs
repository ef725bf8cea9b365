//! The workers-rs adapter: Env, D1 and the clock, bound to the pure modules.

use crate::config::{self, VarSource};
use crate::health::{HealthReport, Probe};
use crate::log::{sanitize_cf_ray, RequestLog};
use crate::routes::{route, Route, Routing};
use serde_json::json;
use worker::{console_log, Date, Env, Request, Response, Result};

struct EnvVars<'a>(&'a Env);

impl VarSource for EnvVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        // `Env::var` reads plain vars and secrets alike.
        self.0.var(name).ok().map(|v| v.to_string())
    }
}

/// A handler's answer and the error code the request log records.
struct Outcome {
    response: Response,
    error: Option<&'static str>,
}

pub async fn serve(req: Request, env: Env) -> Result<Response> {
    let started = Date::now().as_millis();
    let method = req.method().to_string();
    let cf_ray = req.headers().get("cf-ray").ok().flatten();

    let (route_name, outcome) = match route(&method, &req.path()) {
        Routing::Found(r) => (r.name(), dispatch(r, req, &env).await?),
        Routing::NotFound => ("unmatched", json_error(404, "not_found")?),
        Routing::MethodNotAllowed { route, allow } => {
            let mut out = json_error(405, "method_not_allowed")?;
            out.response.headers_mut().set("Allow", allow)?;
            (route, out)
        }
    };

    console_log!(
        "{}",
        RequestLog {
            method: &method,
            route: route_name,
            status: outcome.response.status_code(),
            // Workers' clock only advances across I/O, so this is wall time spent waiting
            // on subrequests and storage, not CPU time.
            duration_ms: Date::now().as_millis().saturating_sub(started) as f64,
            cf_ray: cf_ray.as_deref().and_then(sanitize_cf_ray),
            error: outcome.error,
        }
        .to_line()
    );
    Ok(outcome.response)
}

async fn dispatch(r: Route, _req: Request, env: &Env) -> Result<Outcome> {
    match r {
        Route::Healthz => healthz(env).await,
        Route::Mcp | Route::McpPreflight | Route::StripeWebhook => json_error(501, "not_implemented"),
        #[cfg(feature = "fixtures")]
        Route::FixturePanic => fixture_panic(&_req),
    }
}

async fn healthz(env: &Env) -> Result<Outcome> {
    let config = config::check(&EnvVars(env));
    let db = db_probe(env).await;
    let report = HealthReport::new(&config, &db);
    let status = report.http_status();
    let error = report.error_code();
    let mut response = Response::from_json(&report)?.with_status(status);
    response.headers_mut().set("Cache-Control", "no-store")?;
    Ok(Outcome { response, error })
}

async fn db_probe(env: &Env) -> Probe {
    let Ok(db) = env.d1("DB") else {
        return Probe::Fail("binding_missing");
    };
    match db
        .prepare("SELECT 1 AS one")
        .first::<serde_json::Value>(Some("one"))
        .await
    {
        Ok(Some(_)) => Probe::Ok,
        Ok(None) => Probe::Fail("no_row"),
        Err(_) => Probe::Fail("query_failed"),
    }
}

fn json_error(status: u16, code: &'static str) -> Result<Outcome> {
    let response = Response::from_json(&json!({ "error": code }))?.with_status(status);
    Ok(Outcome {
        response,
        error: Some(code),
    })
}

/// Test-only: a deliberate panic, to measure what happens to the isolate afterwards.
#[cfg(feature = "fixtures")]
fn fixture_panic(req: &Request) -> Result<Outcome> {
    let depth = req.path().len();
    panic!("fixture panic at depth {depth}");
}
