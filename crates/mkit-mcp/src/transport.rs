//! Streamable HTTP for POST /mcp, stateless: one message per POST (batches only where
//! 2025-03-26 requires them), JSON answers (SSE framing only for clients that accept nothing
//! else, or to deliver notifications first), no `Mcp-Session-Id`. Pure: the edge has already
//! checked the origin, authenticated the caller and read the body under its cap.

use serde_json::{Map, Value};

use super::answer::{answer_for, Answer};
use super::batch;
use super::context::{LogLevel, ToolContext};
use super::framing::{negotiate, Accepts};
use super::jsonrpc::{self, classify, Id, Message, RpcError};
use super::logline;
use super::method::Method;
use super::mrtr::Sealing;
use super::platform::Platform;
use super::rounds;
use super::server::{Server, ServerInfo};
use super::session::{self, SessionHub};
use super::stateless::{self, StatelessRequest, META_CAPABILITIES, META_VERSION};
use super::version::{Era, ProtocolVersion};
use crate::http::HttpReply;
use crate::log::Extras;
use mkit_auth::Principal;

/// The largest body `/mcp` reads; the edge stops reading past it (413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The headers of an HTTP request, as the transport reads them. Lookup is case-insensitive.
/// The body reaches the transport already parsed ([`parse_body`]), once per request.
pub trait HttpRequest {
    fn header(&self, name: &str) -> Option<String>;
}

/// A POST body as JSON; `None` when it is not JSON (the transport answers a parse error). The
/// Worker parses each body once, before its per-tool rate limit, and hands the value on.
pub fn parse_body(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

/// Who is calling, as established before the transport runs.
pub struct Caller<'a> {
    pub principal: &'a Principal,
    /// What decides whether a `tools/call` runs and what it costs (`mcp::gate`): the kit's
    /// paywall; `None` runs every tool that is not gated.
    pub gate: Option<&'a dyn super::gate::Gate>,
    /// The platform's database and clock, handed to tools.
    pub platform: Option<&'a dyn Platform>,
    /// Keys for sealed request state (`ToolContext::seal_state`) and session ids.
    pub sealing: Option<&'a Sealing>,
    /// Handshake era: what the client declared at `initialize`, from its `Mcp-Session-Id`
    /// (`mcp::session`).
    pub session_capabilities: Option<&'a Value>,
    /// The caller's held sessions, on a deployment that holds them (`Registry::holds_sessions`);
    /// `held` says whether this request arrived on one.
    pub hub: Option<&'a dyn SessionHub>,
    pub held: bool,
    /// The caller's tasks (`mcp::tasks`), where kept; for a task's own run, the ticket its
    /// creating request's gate kept (the run is not admitted, nor made a task, again).
    pub tasks: Option<&'a dyn super::tasks::TaskStore>,
    pub task_ticket: Option<&'a Value>,
}

pub(super) fn rpc_reply(status: u16, e: &RpcError, error: &'static str) -> HttpReply {
    HttpReply::json(status, &jsonrpc::failure(None, e), Some(error))
}

/// POST /mcp.
pub async fn handle_post(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    body: Option<Value>,
    caller: &Caller<'_>,
) -> HttpReply {
    let accepts = match check_media_types(req) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let Some(parsed) = body else {
        let err = RpcError::new(jsonrpc::PARSE_ERROR, "Parse error: the body is not valid JSON");
        return rpc_reply(400, &err, "parse_error");
    };
    let header_version = req.header("MCP-Protocol-Version");
    let answer = match parsed {
        Value::Array(items) => {
            return batch::answer(server, req, caller, header_version.as_deref(), items, accepts).await
        }
        single => message(server, req, caller, header_version.as_deref(), single).await,
    };
    answer.map_or_else(|| HttpReply::empty(202), |a| a.encode(accepts))
}

/// `Accept` (406) and `Content-Type` (415).
pub(super) fn check_media_types(req: &dyn HttpRequest) -> Result<Accepts, HttpReply> {
    let Some(accepts) = negotiate(req.header("Accept").as_deref()) else {
        let err = RpcError::new(jsonrpc::INVALID_REQUEST, "Accept must include application/json or text/event-stream");
        return Err(rpc_reply(406, &err, "not_acceptable"));
    };
    if let Some(ct) = req.header("Content-Type") {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            let err = RpcError::new(jsonrpc::INVALID_REQUEST, "Content-Type must be application/json");
            return Err(rpc_reply(415, &err, "unsupported_media_type"));
        }
    }
    Ok(accepts)
}

/// One message: a request gets an answer; a notification or response gets none (202).
async fn message(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    caller: &Caller<'_>,
    header_version: Option<&str>,
    v: Value,
) -> Option<Answer> {
    match classify(v) {
        Err((e, id)) => Some(Answer::err(400, id.as_ref(), e)),
        #[cfg(feature = "sessions")]
        Ok(Message::Response(response)) => match (handshake_version(header_version), caller.hub) {
            (Err(e), _) => Some(Answer::err(400, None, e)),
            (Ok(_), Some(hub)) if caller.held => hub.deliver(&response).await.err().map(|e| Answer::err(404, None, e)),
            (Ok(_), _) => None,
        },
        // Without the `sessions` feature no request arrives on a held session: no call waits.
        #[cfg(not(feature = "sessions"))]
        Ok(Message::Response(_)) => handshake_version(header_version).err().map(|e| Answer::err(400, None, e)),
        Ok(Message::Notification { .. }) => handshake_version(header_version).err().map(|e| Answer::err(400, None, e)),
        Ok(Message::Request { id, method, params }) => {
            Some(request(server, req, caller, header_version, id, &method, params).await)
        }
    }
}

/// The version of a handshake-era message from its header: absent means 2025-03-26.
pub(super) fn handshake_version(header: Option<&str>) -> Result<ProtocolVersion, RpcError> {
    let Some(h) = header else {
        return Ok(ProtocolVersion::DEFAULT_WITHOUT_HEADER);
    };
    match ProtocolVersion::parse(h.trim()) {
        Some(v) if v.era() == Era::Handshake => Ok(v),
        Some(v) => Err(RpcError::invalid_params(format!(
            "protocol version {} requires _meta[\"{META_VERSION}\"] on every request",
            v.as_str()
        ))),
        None => Err(RpcError::new(jsonrpc::INVALID_REQUEST, "Unsupported MCP-Protocol-Version")
            .with_data(serde_json::json!({ "supported": ProtocolVersion::all_supported(), "requested": h }))),
    }
}

/// One request: negotiate the version, build the context, dispatch, answer.
pub(super) async fn request(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    caller: &Caller<'_>,
    header_version: Option<&str>,
    id: Id,
    method: &str,
    params: Option<Value>,
) -> Answer {
    let params = match params {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let parsed = Method::parse(method);
    let meta = params.get("_meta").and_then(Value::as_object);
    let version = match request_version(req, header_version, method, &params, meta) {
        Ok(v) => v,
        Err((status, e)) => return Answer::err(status, Some(&id), e),
    };
    if let (Era::Stateless, Method::ToolsCall) = (version.era(), parsed) {
        if let Err((status, e)) = stateless::check_param_headers(server.registry, req, &params) {
            return Answer::err(status, Some(&id), e);
        }
    }
    let log_level = match stateless::log_level(version, meta) {
        Ok(l) => l,
        Err(e) => return Answer::err(400, Some(&id), e),
    };
    let ctx = context(server.info, caller, method, version, &params, meta, log_level);
    let (answer, session) = match server.rendered_list(&ctx, method, &params) {
        Some((_, Some(text))) => (Answer::rendered(&id, text), None),
        memo => {
            let mut outcome = server.dispatch(&ctx, parsed, &params).await;
            if version.era() == Era::Handshake && parsed == Method::ToolsCall {
                #[cfg(feature = "sessions")]
                {
                    outcome = more_rounds(server, caller, &ctx, outcome, &params, meta, log_level).await;
                }
                // Without the `sessions` feature there is no held session to ask on.
                #[cfg(not(feature = "sessions"))]
                if rounds::pending(&outcome).is_some() {
                    outcome = Err(rounds::unanswered(false));
                }
            }
            if let (Ok(result), Era::Stateless) = (&mut outcome, version.era()) {
                stateless::decorate(server, method, result);
            }
            let session = match (&mut outcome, parsed) {
                (Ok(result), Method::Initialize) => initialize_session(server, caller, result, &params).await,
                _ => None,
            };
            let text = match (memo, &outcome) {
                (Some((key, None)), Ok(result)) => Some(server.registry.rendered.put(key, result)),
                _ => None,
            };
            (text.map_or_else(|| answer_for(&id, version, outcome), |t| Answer::rendered(&id, t)), session)
        }
    };
    let mut log = Extras { billing: ctx.billing.get(), ..logline::request_log(method, version, &params, meta) };
    if parsed == Method::ToolsCall {
        log.tool_calls.push(logline::tool_call(server, &params, answer.error, log.billing));
    }
    Answer { notifications: ctx.notifications.take(), session, log, ..answer }
}

/// The session id that remembers what this `initialize`'s client declared, if anything needs it:
/// a held session when the deployment holds them and the client may be asked (then
/// `resources.subscribe` is announced too, when a resource announces updates).
async fn initialize_session(
    server: &Server<'_>,
    caller: &Caller<'_>,
    result: &mut Value,
    params: &Map<String, Value>,
) -> Option<String> {
    let negotiated = result.get("protocolVersion").and_then(Value::as_str).and_then(ProtocolVersion::parse)?;
    let declared = params.get("capabilities");
    let sealing = caller.sealing?;
    #[cfg(feature = "sessions")]
    let held = match caller.hub.filter(|_| server.registry.holds_sessions() && session::wants_held(declared)) {
        Some(hub) => hub.open().await.ok(),
        None => None,
    };
    // Without the `sessions` feature nothing is held.
    #[cfg(not(feature = "sessions"))]
    let held: Option<String> = None;
    if held.is_some() && !server.registry.subscribable.is_empty() {
        result["capabilities"]["resources"]["subscribe"] = true.into();
    }
    session::mint(sealing, &caller.principal.sub, negotiated, declared, held.as_deref())
}

/// A handshake-era `tools/call` whose tool asks for input: answered on the held session, round
/// after round (`mcp::rounds`), or refused when there is none.
#[cfg(feature = "sessions")]
async fn more_rounds(
    server: &Server<'_>,
    caller: &Caller<'_>,
    first: &ToolContext<'_>,
    mut outcome: Result<Value, super::server::DispatchError>,
    params: &Map<String, Value>,
    meta: Option<&Map<String, Value>>,
    log_level: Option<LogLevel>,
) -> Result<Value, super::server::DispatchError> {
    for _ in 0..rounds::MAX_ROUNDS {
        let Some((requests, state)) = rounds::pending(&outcome) else { return outcome };
        let Some(hub) = caller.hub.filter(|_| caller.held) else { return Err(rounds::unanswered(false)) };
        let answers = rounds::ask_all(hub, requests).await?;
        let next = rounds::next_params(params, answers, state);
        let ctx = context(server.info, caller, "tools/call", first.protocol_version, &next, meta, log_level);
        outcome = server.dispatch(&ctx, Method::ToolsCall, &next).await;
        first.notifications.borrow_mut().extend(ctx.notifications.take());
        first.billing.set(ctx.billing.get().or(first.billing.get()));
    }
    match rounds::pending(&outcome) {
        Some(_) => Err(rounds::unanswered(true)),
        None => outcome,
    }
}

/// The stateless era when `_meta` names a version; else the handshake era from the header.
pub(super) fn request_version(
    req: &dyn HttpRequest,
    header_version: Option<&str>,
    method: &str,
    params: &Map<String, Value>,
    meta: Option<&Map<String, Value>>,
) -> Result<ProtocolVersion, stateless::Refusal> {
    match meta.and_then(|m| m.get(META_VERSION)) {
        Some(requested) => {
            stateless::check(&StatelessRequest { http: req, header_version, method, params, requested, meta })
        }
        None if method == "initialize" => Ok(ProtocolVersion::LATEST_HANDSHAKE),
        None => handshake_version(header_version).map_err(|e| (400, e)),
    }
}

pub(super) fn context<'a>(
    server: &'a ServerInfo,
    caller: &Caller<'a>,
    method: &str,
    version: ProtocolVersion,
    params: &'a Map<String, Value>,
    meta: Option<&'a Map<String, Value>>,
    log_level: Option<LogLevel>,
) -> ToolContext<'a> {
    let stateless = version.era() == Era::Stateless;
    ToolContext {
        server,
        protocol_version: version,
        principal: caller.principal,
        gate: caller.gate,
        sealing: caller.sealing,
        tool: if method == "tools/call" { params.get("name").and_then(Value::as_str) } else { None },
        platform: caller.platform,
        client_capabilities: if stateless {
            meta.and_then(|m| m.get(META_CAPABILITIES))
        } else {
            caller.session_capabilities
        },
        input_responses: params.get("inputResponses"),
        request_state: params.get("requestState").and_then(Value::as_str),
        progress_token: meta.and_then(|m| m.get("progressToken")),
        log_level,
        hub: caller.hub,
        held: caller.held && !stateless,
        tasks: caller.tasks,
        task_ticket: caller.task_ticket,
        notifications: Default::default(),
        billing: Default::default(),
    }
}

/// 413 for a body over `MAX_BODY_BYTES`.
pub fn too_large() -> HttpReply {
    let err = RpcError::new(jsonrpc::INVALID_REQUEST, "the body exceeds 1 MiB");
    rpc_reply(413, &err, "payload_too_large")
}
