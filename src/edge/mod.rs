//! The workers-rs adapter: Env, D1 and the clock, bound to the pure modules.

mod auth;

use crate::auth::prm::{self, Challenge, ProtectedResourceMetadata};
use crate::billing::ledger;
use crate::config::{self, Config, VarSource};
use crate::health::{HealthReport, Probe};
use crate::log::{sanitize_cf_ray, RequestLog};
use crate::mcp::tool::LocalFuture;
use crate::mcp::transport::{self, Caller, HttpReply, HttpRequest};
use crate::mcp::{EntitlementSource, Server};
use crate::routes::{route, Route, Routing};
use crate::tools::{REGISTRY, SERVER_INFO};
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

async fn dispatch(r: Route, req: Request, env: &Env) -> Result<Outcome> {
    match r {
        Route::Healthz => healthz(env).await,
        Route::Mcp => mcp(req, env).await,
        Route::ProtectedResourceMetadata => protected_resource_metadata(&req, env),
        Route::McpPreflight => {
            let origins = allowed_origins(env);
            reply(transport::preflight(req.headers().get("Origin").ok().flatten(), &origins))
        }
        Route::StripeWebhook => stripe_webhook(req, env).await,
        #[cfg(feature = "fixtures")]
        Route::FixturePanic => fixture_panic(&req),
    }
}

async fn healthz(env: &Env) -> Result<Outcome> {
    let config = config::check(&EnvVars(env));
    let db = db_probe(env).await;
    let jwks = match Config::load(&EnvVars(env)) {
        Ok(c) => Some(auth::health(&c).await),
        Err(_) => None,
    };
    let secret = config.entries.iter().any(|(n, s)| *n == "STRIPE_WEBHOOK_SECRET" && *s == config::VarState::Ok);
    let report = HealthReport::new(&config, &db, jwks).with_billing(secret, last_event_at(env).await);
    let status = report.http_status();
    let error = report.error_code();
    let mut response = Response::from_json(&report)?.with_status(status);
    response.headers_mut().set("Cache-Control", "no-store")?;
    Ok(Outcome { response, error })
}

/// When the last Stripe event was processed (Unix ms), if any and if D1 answers.
async fn last_event_at(env: &Env) -> Option<i64> {
    let db = env.d1("DB").ok()?;
    let row =
        db.prepare("SELECT MAX(processed_at) AS t FROM processed_events").first::<serde_json::Value>(Some("t")).await;
    row.ok().flatten().and_then(|v| v.as_f64()).map(|t| t as i64)
}

async fn db_probe(env: &Env) -> Probe {
    let Ok(db) = env.d1("DB") else {
        return Probe::Fail("binding_missing");
    };
    match db.prepare("SELECT 1 AS one").first::<serde_json::Value>(Some("one")).await {
        Ok(Some(_)) => Probe::Ok,
        Ok(None) => Probe::Fail("no_row"),
        Err(_) => Probe::Fail("query_failed"),
    }
}

/// The request as the MCP transport reads it.
struct McpRequest {
    headers: worker::Headers,
    body: Vec<u8>,
}

impl HttpRequest for McpRequest {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
    fn body(&self) -> &[u8] {
        &self.body
    }
}

fn allowed_origins(env: &Env) -> Vec<String> {
    EnvVars(env).get("MCP_ALLOWED_ORIGINS").map(|v| config::split_list(&v)).unwrap_or_default()
}

fn misconfigured(errors: &[config::ConfigError]) -> Result<Outcome> {
    let names: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let body = json!({ "jsonrpc": "2.0", "id": null, "error": {
        "code": -32603, "message": format!("server misconfigured: {}", names.join("; ")) } });
    let response = Response::from_json(&body)?.with_status(503);
    Ok(Outcome { response, error: Some("misconfigured") })
}

/// The request URL's own origin (never `X-Forwarded-*`).
fn request_origin(req: &Request) -> String {
    req.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

/// The canonical resource, its metadata URL and the accepted audiences.
fn resource_of(config: &Config, req: &Request) -> (String, String, Vec<String>) {
    let resource = prm::resource(config.mcp_resource.as_deref(), &request_origin(req));
    let metadata = prm::metadata_url(&resource);
    let audiences =
        if config.oauth_audience.is_empty() { vec![resource.clone()] } else { config.oauth_audience.clone() };
    (resource, metadata, audiences)
}

/// A refused request: the challenge header, CORS for allowed browser origins, a JSON body.
fn challenge(
    c: &Challenge,
    code: &'static str,
    metadata: &str,
    config: &Config,
    cors: Option<&str>,
) -> Result<Outcome> {
    let description = match c {
        Challenge::InvalidToken { description } | Challenge::InvalidRequest { description } => Some(*description),
        _ => None,
    };
    let body = json!({ "error": match c {
        Challenge::Missing => "unauthorized",
        Challenge::InvalidToken { .. } => "invalid_token",
        Challenge::InsufficientScope { .. } => "insufficient_scope",
        Challenge::InvalidRequest { .. } => "invalid_request",
    }, "error_description": description });
    let mut response = Response::from_json(&body)?.with_status(c.status());
    let h = response.headers_mut();
    h.set("WWW-Authenticate", &c.www_authenticate(metadata, &config.oauth_required_scopes))?;
    if let Some(o) = cors {
        h.set("Access-Control-Allow-Origin", o)?;
        h.set("Access-Control-Expose-Headers", transport::EXPOSE_HEADERS)?;
        h.set("Vary", "Origin")?;
    }
    Ok(Outcome { response, error: Some(code) })
}

async fn mcp(mut req: Request, env: &Env) -> Result<Outcome> {
    let config = match Config::load(&EnvVars(env)) {
        Ok(c) => c,
        Err(errors) => return misconfigured(&errors),
    };
    let origin = req.headers().get("Origin").ok().flatten();
    let cors = match transport::check_origin(origin, &config.allowed_origins()) {
        transport::OriginCheck::Denied => return reply(transport::forbidden_origin()),
        transport::OriginCheck::Allowed(o) => Some(o),
        transport::OriginCheck::Absent => None,
    };
    let (_, metadata, audiences) = resource_of(&config, &req);
    let authorization = req.headers().get("Authorization").ok().flatten();
    let principal = match auth::authenticate(authorization.as_deref(), &config, audiences).await {
        auth::AuthOutcome::Allowed(p) => p,
        auth::AuthOutcome::Refused(c, code) => return challenge(&c, code, &metadata, &config, cors.as_deref()),
        auth::AuthOutcome::Unavailable(auth::Unavailable(code)) => {
            let body = json!({ "error": "authorization_unavailable",
                "error_description": "the authorization server's keys cannot be loaded; try again" });
            let mut response = Response::from_json(&body)?.with_status(503);
            response.headers_mut().set("Retry-After", "30")?;
            return Ok(Outcome { response, error: Some(code) });
        }
    };
    let declared_len = req.headers().get("Content-Length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if declared_len.is_some_and(|l| l > transport::MAX_BODY_BYTES) {
        return reply(transport::too_large());
    }
    let body = req.bytes().await?;
    let request = McpRequest { headers: req.headers().clone(), body };
    let answer = REGISTRY.with(|r| r.clone());
    let server = Server { registry: &answer, info: &SERVER_INFO, page_size: 50 };
    let ledger = LedgerEntitlements { env, sub: &principal.sub };
    let caller = Caller {
        principal: Some(&principal),
        entitlements: Some(&ledger),
        upgrade_url: config.upgrade_url.as_deref(),
        bindings: Some(env),
    };
    let answer = transport::handle_post(&server, &request, &config.allowed_origins(), &caller).await;
    if !answer.insufficient_scope.is_empty() {
        let c = Challenge::InsufficientScope { scopes: answer.insufficient_scope.clone() };
        let mut out = reply(answer)?;
        out.response.headers_mut().set("WWW-Authenticate", &c.www_authenticate(&metadata, &[]))?;
        return Ok(out);
    }
    reply(answer)
}

/// The caller's entitlements from the D1 ledger: one indexed query, made only when asked.
struct LedgerEntitlements<'a> {
    env: &'a Env,
    sub: &'a str,
}

impl EntitlementSource for LedgerEntitlements<'_> {
    fn load(&self) -> LocalFuture<'_, std::result::Result<Vec<String>, String>> {
        Box::pin(async move {
            let db = self.env.d1("DB").map_err(|_| "no DB binding".to_owned())?;
            let rows = db
                .prepare(ledger::ENTITLEMENTS_SQL)
                .bind(&[self.sub.into()])
                .map_err(|_| "bind failed".to_owned())?
                .all()
                .await
                .map_err(|_| "query failed".to_owned())?;
            let rows: Vec<KeyRow> = rows.results().map_err(|_| "unexpected rows".to_owned())?;
            Ok(rows.into_iter().map(|r| r.key).collect())
        })
    }
}

#[derive(serde::Deserialize)]
struct KeyRow {
    key: String,
}

/// RFC 9728 metadata: public, CORS-readable, cacheable.
fn protected_resource_metadata(req: &Request, env: &Env) -> Result<Outcome> {
    let config = match Config::load(&EnvVars(env)) {
        Ok(c) => c,
        Err(errors) => return misconfigured(&errors),
    };
    let (resource, _, _) = resource_of(&config, req);
    let mut scopes: Vec<String> = config.oauth_required_scopes.clone();
    REGISTRY.with(|r| scopes.extend(r.scopes().into_iter().map(str::to_owned)));
    scopes.sort();
    scopes.dedup();
    let doc = ProtectedResourceMetadata {
        resource,
        authorization_servers: vec![config.oauth_issuer.clone()],
        scopes_supported: scopes,
        bearer_methods_supported: vec!["header"],
        resource_name: "mKit",
    };
    let mut response = Response::from_json(&doc)?;
    let h = response.headers_mut();
    h.set("Access-Control-Allow-Origin", "*")?;
    h.set("Cache-Control", "public, max-age=3600")?;
    Ok(Outcome { response, error: None })
}

const MAX_WEBHOOK_BYTES: usize = 512 * 1024;

/// POST /stripe/webhook: the raw body is verified before anything reads it as JSON.
async fn stripe_webhook(mut req: Request, env: &Env) -> Result<Outcome> {
    use crate::billing::{event::Event, signature};
    let config = match Config::load(&EnvVars(env)) {
        Ok(c) => c,
        Err(errors) => return misconfigured(&errors),
    };
    let declared_len = req.headers().get("Content-Length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if declared_len.is_some_and(|l| l > MAX_WEBHOOK_BYTES) {
        return json_error(413, "payload_too_large");
    }
    let body = req.bytes().await?;
    if body.len() > MAX_WEBHOOK_BYTES {
        return json_error(413, "payload_too_large");
    }
    let header = req.headers().get("Stripe-Signature").ok().flatten();
    let now = (Date::now().as_millis() / 1000) as i64;
    if let Err(e) = signature::verify(header.as_deref(), &body, &config.stripe_webhook_secrets, now) {
        let response =
            Response::from_json(&json!({ "error": "signature_invalid", "reason": e.reason() }))?.with_status(400);
        return Ok(Outcome { response, error: Some("signature_invalid") });
    }
    let event = match Event::parse(&body) {
        Ok(e) => e,
        Err(reason) => {
            let response =
                Response::from_json(&json!({ "error": "invalid_event", "reason": reason }))?.with_status(400);
            return Ok(Outcome { response, error: Some("invalid_event") });
        }
    };
    let (outcome, statements) = match ledger::plan(&event, now * 1000) {
        Ok(p) => p,
        Err(reason) => {
            // A handled type we cannot read: 400, so the event stays in Stripe for retry.
            let body = json!({ "error": "invalid_event", "reason": reason, "event": event.id });
            let response = Response::from_json(&body)?.with_status(400);
            return Ok(Outcome { response, error: Some("invalid_event") });
        }
    };
    match apply_batch(env, &statements).await {
        // Storage failed and the batch rolled back whole: 500, so Stripe retries.
        Err(code) => json_error(500, code),
        Ok(changes) => {
            let duplicate = changes.last().is_none_or(|c| *c == 0);
            let changed = changes.iter().rev().skip(1).sum::<usize>();
            let body = json!({ "received": true, "event": event.id, "type": event.kind,
                "outcome": outcome.as_str(), "duplicate": duplicate, "changes": changed });
            Ok(Outcome { response: Response::from_json(&body)?, error: None })
        }
    }
}

/// Runs the statements as one D1 batch (one transaction): the rows each changed.
async fn apply_batch(env: &Env, statements: &[ledger::Statement]) -> std::result::Result<Vec<usize>, &'static str> {
    use ledger::SqlValue;
    let db = env.d1("DB").map_err(|_| "storage_unavailable")?;
    let mut prepared = Vec::with_capacity(statements.len());
    for s in statements {
        let params: Vec<worker::wasm_bindgen::JsValue> = s
            .params
            .iter()
            .map(|p| match p {
                SqlValue::Text(t) => t.as_str().into(),
                SqlValue::Int(i) => (*i as f64).into(),
                SqlValue::Null => worker::wasm_bindgen::JsValue::NULL,
            })
            .collect();
        prepared.push(db.prepare(s.sql).bind(&params).map_err(|_| "storage_failed")?);
    }
    let results = db.batch(prepared).await.map_err(|_| "storage_failed")?;
    Ok(results.iter().map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)).collect())
}

fn reply(r: HttpReply) -> Result<Outcome> {
    let headers = worker::Headers::new();
    for (name, value) in &r.headers {
        headers.set(name, value)?;
    }
    let response = if r.body.is_empty() { Response::empty()? } else { Response::ok(r.body)? };
    Ok(Outcome { response: response.with_status(r.status).with_headers(headers), error: r.error })
}

fn json_error(status: u16, code: &'static str) -> Result<Outcome> {
    let response = Response::from_json(&json!({ "error": code }))?.with_status(status);
    Ok(Outcome { response, error: Some(code) })
}

/// Test-only: a deliberate panic, to measure what happens to the isolate afterwards.
#[cfg(feature = "fixtures")]
fn fixture_panic(req: &Request) -> Result<Outcome> {
    let depth = req.path().len();
    panic!("fixture panic at depth {depth}");
}
