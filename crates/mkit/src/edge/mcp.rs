//! POST and OPTIONS /mcp, and the Protected Resource Metadata that tells clients how to get a
//! token for it. The order of guards: configuration, origin, token, body, then the protocol.

use std::rc::Rc;

use serde_json::{json, Value};
use worker::{Date, Env, Request};

use super::body::{read_capped, BodyError};
use super::caller::{paywall, sealing};
use super::isolate::Isolate;
use super::keys::{self, Authentication, Unavailable};
use super::platform::WorkersPlatform;
use super::rate_limit;
use super::respond::{self, render_challenge, Answered};
use super::sessions::{self, Hub};
use super::task_store::TaskObject;
use crate::auth::prm::{self, Challenge, ProtectedResourceMetadata};
use crate::auth::Principal;
#[cfg(feature = "sessions")]
use crate::bindings::Binding;
use crate::config::origin_of;
use crate::config::Config;
use crate::http::HttpReply;
use crate::keyring::{self, Purpose};
use crate::log;
use crate::mcp::cors::{self, OriginCheck};
use crate::mcp::listen;
use crate::mcp::mrtr::Sealing;
use crate::mcp::rounds;
use crate::mcp::session::{self, Session};
use crate::mcp::transport::{self, Caller, HttpRequest, MAX_BODY_BYTES};
use crate::mcp::Server;
use crate::paywall::Gatekeeper;

/// The request as the MCP transport reads it: its headers, and its body parsed once.
pub(super) struct McpRequest {
    headers: worker::Headers,
    body: Option<Value>,
}

impl HttpRequest for McpRequest {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
}

/// This deployment's resource: `MCP_RESOURCE`, else the request URL's own origin (never
/// `X-Forwarded-*`) + `/mcp`.
#[derive(Clone)]
struct Resource {
    uri: String,
    metadata_url: String,
    audiences: Vec<String>,
}

fn resource_of(config: &Config, req: &Request) -> Resource {
    let origin = super::request_url::origin(req).unwrap_or_default();
    let uri = prm::resource(config.mcp_resource.as_deref(), &origin);
    Resource { metadata_url: prm::metadata_url(&uri), audiences: config.audiences(&uri), uri }
}

/// POST /mcp.
pub async fn post(req: Request, env: &Env, iso: &Rc<Isolate>) -> Answered {
    guarded(req, env, iso, false).await
}

/// GET and DELETE /mcp: a held session's stream, and its end. 405 before anything else on a
/// deployment that holds no sessions (`Registry::holds_sessions`, and the binding).
pub async fn session(req: Request, env: &Env, iso: &Rc<Isolate>) -> Answered {
    #[cfg(feature = "sessions")]
    if iso.registry.holds_sessions() && env.durable_object(Binding::Sessions.name()).is_ok() {
        return guarded(req, env, iso, true).await;
    }
    // Without the `sessions` feature nothing is held. (Here and below, `cfg` rather than the
    // `None` a hub would be: the code after an `.await` stays in the bundle even where it cannot run.)
    #[cfg(not(feature = "sessions"))]
    let _ = (req, env, iso);
    respond::method_not_allowed("POST").into()
}

async fn guarded(req: Request, env: &Env, iso: &Rc<Isolate>, session_route: bool) -> Answered {
    let config = match iso.config(env) {
        Ok(c) => c,
        Err(reply) => return reply.into(),
    };
    let origin = match cors::check_origin(req.headers().get("Origin").ok().flatten(), &config.allowed_origins()) {
        OriginCheck::Denied => return cors::forbidden_origin().into(),
        OriginCheck::Allowed(o) => Some(o),
        OriginCheck::Absent => None,
    };
    let resource = resource_of(&config, &req);
    let answered = authenticated(req, env, iso, &config, &resource, session_route).await;
    answered.map(|reply| {
        let reply = render_challenge(reply, &resource.metadata_url, &config);
        match origin {
            Some(o) => cors::allow(reply, &o),
            None => reply,
        }
    })
}

/// Everything after the origin check: the token, the body, then the protocol.
async fn authenticated(
    mut req: Request,
    env: &Env,
    iso: &Rc<Isolate>,
    config: &Rc<Config>,
    resource: &Resource,
    session_route: bool,
) -> Answered {
    let authorization = req.headers().get("Authorization").ok().flatten();
    let audiences = resource.audiences.clone();
    let principal = match keys::authenticate_request(env, iso, authorization.as_deref(), config, audiences).await {
        Authentication::Allowed(p) => p,
        Authentication::Refused(c, code) => return with_auth(refusal(c, code), code).into(),
        Authentication::Unavailable(u) => {
            let code = u.0;
            return with_auth(authorization_unavailable(u), code).into();
        }
    };
    let key = keyring::sealing(&config.deployment_secrets, Purpose::LogSubject);
    let subject = key.map(|k| log::subject_hash(&k, &principal.sub));
    let limit_key = subject.as_deref().unwrap_or(&principal.sub);
    #[cfg(not(feature = "sessions"))]
    let _ = session_route;
    #[cfg(feature = "sessions")]
    if session_route {
        let answered = match rate_limit::over_limit(env, limit_key).await {
            true => rate_limit::too_many_requests().into(),
            false => {
                sessions::stream_or_end(&req, env, &sealing(config, now_secs()), &config.oauth_issuer, &principal).await
            }
        };
        return answered.map(|r| with_subject(with_auth(r, "ok"), subject));
    }
    let body = match read_capped(&mut req, MAX_BODY_BYTES).await.map(|b| transport::parse_body(&b)) {
        _ if rate_limit::over_limit(env, limit_key).await => Err(rate_limit::too_many_requests()),
        Ok(b) if rate_limit::over_tool_limit(env, limit_key, b.as_ref()).await => Err(rate_limit::too_many_requests()),
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(transport::too_large()),
        Err(BodyError::Unreadable) => Err(HttpReply::error(400, "body_unreadable")),
    };
    let answered = match body {
        Ok(body) => {
            let request = McpRequest { headers: req.headers().clone(), body };
            on_session(env, iso, config.clone(), resource.clone(), principal, request).await
        }
        Err(refused) => refused.into(),
    };
    answered.map(|r| with_subject(with_auth(r, "ok"), subject))
}

fn with_auth(mut reply: HttpReply, outcome: &'static str) -> HttpReply {
    reply.log.auth = Some(outcome);
    reply
}

fn with_subject(mut reply: HttpReply, subject: Option<String>) -> HttpReply {
    reply.log.subject = subject;
    reply
}

fn now_secs() -> u64 {
    Date::now().as_millis() / 1000
}

/// The session the request names, checked: an id that does not open, or names a held session
/// that ended, is refused (404) on a deployment that holds sessions. A `tools/call` that may ask
/// the client on a held session is answered as an event stream.
async fn on_session(
    env: &Env,
    iso: &Rc<Isolate>,
    config: Rc<Config>,
    resource: Resource,
    principal: Principal,
    request: McpRequest,
) -> Answered {
    let sealing = sealing(&config, now_secs());
    let registry = &iso.registry;
    #[cfg_attr(not(feature = "sessions"), allow(unused_mut))]
    let mut hub =
        registry.holds_sessions().then(|| Hub::for_caller(env, &config.oauth_issuer, &principal.sub)).flatten();
    let opened = request.header("Mcp-Session-Id").map(|id| session::open(&sealing, &principal.sub, &id));
    #[cfg(feature = "sessions")]
    if let (Some(hub), Some(opened)) = (hub.as_mut(), &opened) {
        hub.held = opened.as_ref().and_then(|s| s.held.clone());
        if opened.is_none() || (hub.held.is_some() && !hub.alive().await) {
            return sessions::not_found().into();
        }
    }
    let session = opened.flatten();
    let held = hub.as_ref().is_some_and(|h| h.held.is_some());
    let accepts_sse = request.header("Accept").is_some_and(|a| a.contains("text/event-stream"));
    match hub {
        Some(hub) if held && accepts_sse && rounds::streams(registry, &principal, request.body.as_ref()) => {
            let (env, iso) = (env.clone(), iso.clone());
            sessions::streamed(hub, move |hub| async move {
                let opened = Opened { sealing: &sealing, session: session.as_ref(), hub: Some(&hub) };
                serve(&env, &iso, &config, &resource, &principal, request, opened).await.whole()
            })
        }
        hub => {
            let opened = Opened { sealing: &sealing, session: session.as_ref(), hub: hub.as_ref() };
            serve(env, iso, &config, &resource, &principal, request, opened).await
        }
    }
}

/// What `on_session` found: this request's sealing keys (derived once), the session it arrived
/// on, and the caller's sessions hub.
struct Opened<'a> {
    sealing: &'a Sealing,
    session: Option<&'a Session>,
    hub: Option<&'a Hub>,
}

/// The protocol, for an authenticated caller: the registry, the paywall, and what
/// `on_session` opened. A `subscriptions/listen` is answered as a stream the caller's sessions
/// object keeps open.
async fn serve(
    env: &Env,
    iso: &Isolate,
    config: &Config,
    resource: &Resource,
    principal: &Principal,
    mut request: McpRequest,
    Opened { sealing, session, hub }: Opened<'_>,
) -> Answered {
    let now_secs = sealing.now_secs;
    let server = Server {
        registry: &iso.registry,
        info: iso.info,
        page_size: 50,
        extensions: super::caller::extensions(config),
    };
    let base_url = origin_of(&resource.uri).unwrap_or_default();
    let paywall = paywall(env, iso, config, &principal.sub, &base_url, now_secs);
    let tasks =
        iso.registry.runs_tasks().then(|| TaskObject::for_caller(env, &config.oauth_issuer, principal, &base_url));
    let platform = WorkersPlatform { env };
    #[cfg(feature = "billing")]
    let machine = super::x402::MachinePayments::for_caller(env, config, &principal.sub, &base_url, now_secs);
    #[cfg(feature = "billing")]
    let gate = Gatekeeper { access: &paywall, machine: machine.as_ref().map(|m| m as _) };
    #[cfg(not(feature = "billing"))]
    let gate = Gatekeeper { access: &paywall, machine: None };
    let caller = Caller {
        principal,
        gate: Some(&gate),
        platform: Some(&platform),
        sealing: Some(sealing),
        session_capabilities: session.map(|s| &s.capabilities),
        hub: hub.map(Hub::as_dyn),
        held: hub.is_some_and(|h| h.held.is_some()),
        tasks: tasks.as_ref().and_then(|t| t.as_ref()).map(TaskObject::as_dyn),
        task_ticket: None,
    };
    let body = request.body.take();
    if !listen::wanted(&request) {
        return transport::handle_post(&server, &request, body, &caller).await.into();
    }
    let listening = match listen::open(&server, &request, body, &caller) {
        Ok(l) => l,
        Err(refused) => return refused.into(),
    };
    #[cfg(feature = "sessions")]
    if let Some(hub) = hub.filter(|_| !listening.uris.is_empty()) {
        return match hub.listen_response(&listening).await {
            Some(stream) => Answered::Streamed(sessions::event_stream(200), stream),
            None => HttpReply::error(503, "sessions_unavailable").with_header("Retry-After", "5").into(),
        };
    }
    listening.closed_at_once().into()
}

/// A refused token: the challenge (rendered once, by `render_challenge`) and a JSON body.
fn refusal(c: Challenge, code: &'static str) -> HttpReply {
    let body = json!({ "error": c.error().unwrap_or("unauthorized"), "error_description": c.description() });
    HttpReply::json(c.status(), &body, Some(code)).with_challenge(c)
}

fn authorization_unavailable(u: Unavailable) -> HttpReply {
    let body = json!({ "error": "authorization_unavailable",
        "error_description": "the authorization server's keys cannot be loaded; try again" });
    HttpReply::json(503, &body, Some(u.0)).with_header("Retry-After", "30")
}

/// OPTIONS /mcp.
pub async fn preflight(req: Request, env: &Env, iso: &Isolate) -> HttpReply {
    let allowed = iso.config(env).map(|c| c.allowed_origins()).unwrap_or_default();
    cors::preflight(req.headers().get("Origin").ok().flatten(), &allowed)
}

/// Every scope a token for `/mcp` may need, as clients ask for it: the required ones and each
/// tool's.
pub fn supported_scopes(iso: &Isolate, config: &Config) -> Vec<String> {
    let mut scopes: Vec<String> = config.oauth_required_scopes.clone();
    scopes.extend(iso.registry.scopes().into_iter().map(str::to_owned));
    scopes.sort();
    scopes.dedup();
    config.token_profile.advertised_all(&scopes)
}

/// RFC 9728 metadata: public, CORS-readable, cacheable.
pub async fn protected_resource_metadata(req: Request, env: &Env, iso: &Isolate) -> HttpReply {
    let config = match iso.config(env) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let doc = ProtectedResourceMetadata {
        resource: resource_of(&config, &req).uri,
        // In authorization-server mode clients register and sign in with mKit itself.
        authorization_servers: vec![config.token_issuer()],
        scopes_supported: supported_scopes(iso, &config),
        bearer_methods_supported: vec!["header"],
        resource_name: iso.info.title,
    };
    HttpReply::json(200, &serde_json::to_value(&doc).unwrap_or_default(), None)
        .with_header("Access-Control-Allow-Origin", "*")
        .with_header("Cache-Control", "public, max-age=3600")
}
