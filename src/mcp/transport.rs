//! Streamable HTTP for POST /mcp, stateless: one message per POST (batches only where
//! 2025-03-26 requires them), JSON answers (SSE framing only for clients that accept nothing
//! else), no `Mcp-Session-Id`. Pure: the adapter hands over headers and the raw body.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::jsonrpc::{self, classify, Id, Message, RpcError};
use super::server::Server;
use super::tool::{LogLevel, Principal, ToolContext};
use super::version::{Era, ProtocolVersion};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, Last-Event-ID";
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id";
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// The parts of an HTTP request the transport reads. Header lookup is case-insensitive.
pub trait HttpRequest {
    fn header(&self, name: &str) -> Option<String>;
    fn body(&self) -> &[u8];
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// A short code for the request log, e.g. `parse_error`.
    pub error: Option<&'static str>,
    /// Scopes a tool needed that the token lacked: the adapter adds the 403 challenge.
    pub insufficient_scope: Vec<String>,
}

impl HttpReply {
    fn new(status: u16, body: String, error: Option<&'static str>) -> Self {
        HttpReply { status, headers: Vec::new(), body, error, insufficient_scope: Vec::new() }
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Who is calling, as established before the transport runs.
pub struct Caller<'a> {
    pub principal: Option<&'a Principal>,
    pub entitlements: Option<&'a dyn super::tool::EntitlementSource>,
    pub upgrade_url: Option<&'a str>,
    pub bindings: Option<&'a dyn std::any::Any>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Sse,
}

/// What the client accepts. JSON is the default answer; an event stream is used when it is all
/// the client takes, or when the answer has notifications to deliver before the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Accepts {
    json: bool,
    sse: bool,
}

impl Accepts {
    fn format(self, has_notifications: bool) -> Format {
        if self.sse && (has_notifications || !self.json) {
            Format::Sse
        } else {
            Format::Json
        }
    }
}

fn negotiate(accept: Option<&str>) -> Option<Accepts> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Accepts { json: true, sse: false });
    };
    let types: Vec<String> = accept
        .split(',')
        .filter(|part| !part.split(';').skip(1).any(|p| p.trim().replace(' ', "") == "q=0"))
        .map(|part| part.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .collect();
    let json = types.iter().any(|t| matches!(t.as_str(), "application/json" | "application/*" | "*/*"));
    let sse = types.iter().any(|t| matches!(t.as_str(), "text/event-stream" | "text/*"));
    (json || sse).then_some(Accepts { json, sse })
}

/// CORS for browser clients: only origins in `MCP_ALLOWED_ORIGINS`.
pub enum OriginCheck {
    /// No `Origin` header: not a browser, nothing to add.
    Absent,
    Allowed(String),
    Denied,
}

pub fn check_origin(origin: Option<String>, allowed: &[String]) -> OriginCheck {
    match origin {
        None => OriginCheck::Absent,
        Some(o) if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&o)) => OriginCheck::Allowed(o),
        Some(_) => OriginCheck::Denied,
    }
}

/// OPTIONS /mcp: a CORS preflight.
pub fn preflight(origin: Option<String>, allowed: &[String]) -> HttpReply {
    match check_origin(origin, allowed) {
        OriginCheck::Allowed(o) => {
            let mut r = HttpReply::new(204, String::new(), None);
            r.headers.push(("Access-Control-Allow-Origin", o));
            r.headers.push(("Access-Control-Allow-Methods", "POST, OPTIONS".into()));
            r.headers.push(("Access-Control-Allow-Headers", ALLOW_HEADERS.into()));
            r.headers.push(("Access-Control-Expose-Headers", EXPOSE_HEADERS.into()));
            r.headers.push(("Access-Control-Max-Age", "600".into()));
            r.headers.push(("Vary", "Origin".into()));
            r
        }
        OriginCheck::Denied => forbidden_origin(),
        OriginCheck::Absent => {
            let mut r = HttpReply::new(204, String::new(), None);
            r.headers.push(("Allow", "POST, OPTIONS".into()));
            r
        }
    }
}

pub fn forbidden_origin() -> HttpReply {
    let err = RpcError::new(jsonrpc::INVALID_REQUEST, "Origin not allowed");
    json_reply(403, &jsonrpc::failure(None, &err), Some("origin_forbidden"))
}

fn json_reply(status: u16, v: &Value, error: Option<&'static str>) -> HttpReply {
    let mut r = HttpReply::new(status, v.to_string(), error);
    r.headers.push(("Content-Type", "application/json".into()));
    r
}

fn error_code_name(code: i64) -> &'static str {
    match code {
        jsonrpc::PARSE_ERROR => "parse_error",
        jsonrpc::INVALID_REQUEST => "invalid_request",
        jsonrpc::METHOD_NOT_FOUND => "method_not_found",
        jsonrpc::INVALID_PARAMS => "invalid_params",
        jsonrpc::HEADER_MISMATCH => "header_mismatch",
        jsonrpc::MISSING_REQUIRED_CLIENT_CAPABILITY => "missing_client_capability",
        jsonrpc::UNSUPPORTED_PROTOCOL_VERSION => "unsupported_protocol_version",
        jsonrpc::RESOURCE_NOT_FOUND_LEGACY => "resource_not_found",
        _ => "rpc_error",
    }
}

/// One answered request: the JSON-RPC response and the HTTP status it travels with.
struct Answer {
    status: u16,
    body: Value,
    error: Option<&'static str>,
    /// Progress and log notifications to send before the response (event stream only).
    notifications: Vec<Value>,
    insufficient_scope: Vec<String>,
}

impl Answer {
    fn err(status: u16, id: Option<&Id>, e: RpcError) -> Answer {
        Answer {
            status,
            error: Some(error_code_name(e.code)),
            body: jsonrpc::failure(id, &e),
            notifications: Vec::new(),
            insufficient_scope: Vec::new(),
        }
    }
}

/// POST /mcp.
pub async fn handle_post(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    allowed_origins: &[String],
    caller: &Caller<'_>,
) -> HttpReply {
    let cors = match check_origin(req.header("Origin"), allowed_origins) {
        OriginCheck::Denied => return forbidden_origin(),
        OriginCheck::Allowed(o) => Some(o),
        OriginCheck::Absent => None,
    };
    let mut reply = post_inner(server, req, caller).await;
    if let Some(o) = cors {
        reply.headers.push(("Access-Control-Allow-Origin", o));
        reply.headers.push(("Access-Control-Expose-Headers", EXPOSE_HEADERS.into()));
        reply.headers.push(("Vary", "Origin".into()));
    }
    reply
}

async fn post_inner(server: &Server<'_>, req: &dyn HttpRequest, caller: &Caller<'_>) -> HttpReply {
    let Some(accepts) = negotiate(req.header("Accept").as_deref()) else {
        let err = RpcError::new(jsonrpc::INVALID_REQUEST, "Accept must include application/json or text/event-stream");
        return json_reply(406, &jsonrpc::failure(None, &err), Some("not_acceptable"));
    };
    if let Some(ct) = req.header("Content-Type") {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            let err = RpcError::new(jsonrpc::INVALID_REQUEST, "Content-Type must be application/json");
            return json_reply(415, &jsonrpc::failure(None, &err), Some("unsupported_media_type"));
        }
    }
    if req.body().len() > MAX_BODY_BYTES {
        return too_large();
    }
    let parsed: Value = match serde_json::from_slice(req.body()) {
        Ok(v) => v,
        Err(_) => {
            let err = RpcError::new(jsonrpc::PARSE_ERROR, "Parse error: the body is not valid JSON");
            return json_reply(400, &jsonrpc::failure(None, &err), Some("parse_error"));
        }
    };
    let header_version = req.header("MCP-Protocol-Version");

    let answer = match parsed {
        Value::Array(items) => return batch(server, req, caller, header_version, items, accepts.format(false)).await,
        single => match classify(single) {
            Err((e, id)) => Some(Answer::err(400, id.as_ref(), e)),
            Ok(Message::Notification { .. } | Message::Response) => handshake_version(header_version.as_deref()).err(),
            Ok(Message::Request { id, method, params }) => {
                Some(request(server, req, caller, header_version.as_deref(), id, method, params).await)
            }
        },
    };
    match answer {
        None => HttpReply::new(202, String::new(), None),
        Some(a) => {
            let format = accepts.format(!a.notifications.is_empty());
            let mut reply = encode(format, a.status, &a.notifications, &a.body, a.error);
            reply.insufficient_scope = a.insufficient_scope;
            reply
        }
    }
}

pub fn too_large() -> HttpReply {
    let err = RpcError::new(jsonrpc::INVALID_REQUEST, "the body exceeds 1 MiB");
    json_reply(413, &jsonrpc::failure(None, &err), Some("payload_too_large"))
}

fn encode(
    format: Format,
    status: u16,
    notifications: &[Value],
    body: &Value,
    error: Option<&'static str>,
) -> HttpReply {
    match format {
        Format::Json => json_reply(status, body, error),
        Format::Sse => {
            let mut events = String::new();
            for n in notifications.iter().chain(std::iter::once(body)) {
                events.push_str(&format!("event: message\ndata: {n}\n\n"));
            }
            let mut r = HttpReply::new(status, events, error);
            r.headers.push(("Content-Type", "text/event-stream".into()));
            r.headers.push(("Cache-Control", "no-cache".into()));
            r
        }
    }
}

/// The version of a handshake-era message from its header: absent means 2025-03-26.
fn handshake_version(header: Option<&str>) -> Result<ProtocolVersion, Answer> {
    let Some(h) = header else {
        return Ok(ProtocolVersion::DEFAULT_WITHOUT_HEADER);
    };
    match ProtocolVersion::parse(h.trim()) {
        Some(v) if v.era() == Era::Handshake => Ok(v),
        Some(v) => Err(Answer::err(
            400,
            None,
            RpcError::invalid_params(format!(
                "protocol version {} requires _meta[\"{META_VERSION}\"] on every request",
                v.as_str()
            )),
        )),
        None => Err(Answer::err(
            400,
            None,
            RpcError::new(jsonrpc::INVALID_REQUEST, "Unsupported MCP-Protocol-Version")
                .with_data(json!({ "supported": ProtocolVersion::all_supported(), "requested": h })),
        )),
    }
}

async fn batch(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    caller: &Caller<'_>,
    header_version: Option<String>,
    items: Vec<Value>,
    format: Format,
) -> HttpReply {
    let version = match handshake_version(header_version.as_deref()) {
        Ok(v) => v,
        Err(a) => return encode(format, a.status, &[], &a.body, a.error),
    };
    if !version.accepts_batches() || items.is_empty() {
        let err = RpcError::new(
            jsonrpc::INVALID_REQUEST,
            if items.is_empty() {
                "an empty batch is not a valid request".to_owned()
            } else {
                format!("JSON-RPC batches are not supported in protocol version {}", version.as_str())
            },
        );
        return json_reply(400, &jsonrpc::failure(None, &err), Some("batch_not_supported"));
    }
    let mut out = Vec::new();
    for item in items {
        match classify(item) {
            Err((e, id)) => out.push(jsonrpc::failure(id.as_ref(), &e)),
            Ok(Message::Notification { .. } | Message::Response) => {}
            Ok(Message::Request { id, method, .. }) if method == "initialize" => {
                let e = RpcError::new(jsonrpc::INVALID_REQUEST, "initialize must not be part of a batch");
                out.push(jsonrpc::failure(Some(&id), &e));
            }
            Ok(Message::Request { id, method, params }) => {
                out.push(request(server, req, caller, header_version.as_deref(), id, method, params).await.body);
            }
        }
    }
    if out.is_empty() {
        HttpReply::new(202, String::new(), None)
    } else {
        encode(format, 200, &[], &Value::Array(out), None)
    }
}

async fn request(
    server: &Server<'_>,
    req: &dyn HttpRequest,
    caller: &Caller<'_>,
    header_version: Option<&str>,
    id: Id,
    method: String,
    params: Option<Value>,
) -> Answer {
    let params = match params {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let meta = params.get("_meta").and_then(Value::as_object);
    let meta_version = meta.and_then(|m| m.get(META_VERSION));

    let version = match meta_version {
        Some(requested) => match stateless_checks(req, header_version, &method, &params, requested, meta) {
            Ok(v) => v,
            Err((status, e)) => return Answer::err(status, Some(&id), e),
        },
        None if method == "initialize" => ProtocolVersion::LATEST_HANDSHAKE,
        None => match handshake_version(header_version) {
            Ok(v) => v,
            Err(mut a) => {
                a.body["id"] = id.0.clone();
                return a;
            }
        },
    };
    let stateless = version.era() == Era::Stateless;
    let log_level = if stateless {
        match meta.and_then(|m| m.get(META_LOG_LEVEL)) {
            None => None,
            Some(l) => match l.as_str().and_then(LogLevel::parse) {
                Some(l) => Some(l),
                None => {
                    return Answer::err(
                        400,
                        Some(&id),
                        RpcError::invalid_params(format!("_meta[\"{META_LOG_LEVEL}\"] is not a log level")),
                    )
                }
            },
        }
    } else {
        Some(LogLevel::Info)
    };
    let ctx = ToolContext {
        protocol_version: version,
        principal: caller.principal,
        entitlements: super::tool::Entitlements::new(caller.entitlements, caller.upgrade_url),
        bindings: caller.bindings,
        client_capabilities: if stateless { meta.and_then(|m| m.get(META_CAPABILITIES)) } else { None },
        input_responses: params.get("inputResponses"),
        request_state: params.get("requestState").and_then(Value::as_str),
        progress_token: meta.and_then(|m| m.get("progressToken")),
        log_level,
        notifications: Default::default(),
    };
    match server.dispatch(&ctx, &method, &params).await {
        Ok(mut result) => {
            if stateless {
                decorate_stateless(server, &method, &mut result);
            }
            let error = result.get("isError").and_then(Value::as_bool).filter(|e| *e).map(|_| "tool_error");
            Answer {
                status: 200,
                body: jsonrpc::success(&id, result),
                error,
                notifications: ctx.notifications.take(),
                insufficient_scope: Vec::new(),
            }
        }
        Err(e) => {
            let status = match e.code {
                _ if !e.insufficient_scope.is_empty() => 403,
                jsonrpc::METHOD_NOT_FOUND if stateless => 404,
                jsonrpc::MISSING_REQUIRED_CLIENT_CAPABILITY => 400,
                _ => 200,
            };
            let insufficient_scope = e.insufficient_scope.clone();
            let error = if insufficient_scope.is_empty() { None } else { Some("insufficient_scope") };
            let mut a = Answer { notifications: ctx.notifications.take(), ..Answer::err(status, Some(&id), e) };
            a.insufficient_scope = insufficient_scope;
            a.error = error.or(a.error);
            a
        }
    }
}

/// 2026-07-28 request validation, in the order the spec's error precedence needs: the required
/// `_meta` fields (-32602), then the headers against the body (-32020), then whether the version
/// is supported (-32022).
fn stateless_checks(
    req: &dyn HttpRequest,
    header_version: Option<&str>,
    method: &str,
    params: &Map<String, Value>,
    requested: &Value,
    meta: Option<&Map<String, Value>>,
) -> Result<ProtocolVersion, (u16, RpcError)> {
    let malformed = |msg: String| (400, RpcError::invalid_params(msg));
    let requested =
        requested.as_str().ok_or_else(|| malformed(format!("_meta[\"{META_VERSION}\"] must be a string")))?;
    if !meta.and_then(|m| m.get(META_CAPABILITIES)).is_some_and(Value::is_object) {
        return Err(malformed(format!("_meta[\"{META_CAPABILITIES}\"] is required")));
    }
    let mismatch = |msg: &str| (400, RpcError::new(jsonrpc::HEADER_MISMATCH, msg));
    // RFC 9110 §5.5: optional whitespace around a field value is not part of it.
    let header_version = header_version.map(|h| h.trim_matches([' ', '\t']));
    match header_version {
        None => return Err(mismatch("the MCP-Protocol-Version header is required")),
        Some(h) if h != requested => {
            return Err(mismatch("MCP-Protocol-Version does not match the request's _meta protocol version"))
        }
        Some(_) => {}
    }
    match req.header("Mcp-Method").as_deref().map(|h| h.trim_matches([' ', '\t'])) {
        None => return Err(mismatch("the Mcp-Method header is required")),
        Some(h) if h != method => return Err(mismatch("Mcp-Method does not match the request's method")),
        Some(_) => {}
    }
    let name_source = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" => params.get("uri"),
        _ => None,
    };
    if let Some(expected) = name_source.and_then(Value::as_str) {
        let header = req.header("Mcp-Name").ok_or_else(|| mismatch("the Mcp-Name header is required"))?;
        let decoded = decode_header_value(header.trim_matches([' ', '\t']))
            .ok_or_else(|| mismatch("Mcp-Name is not validly encoded"))?;
        if decoded != expected {
            return Err(mismatch("Mcp-Name does not match the request body"));
        }
    }
    let version = ProtocolVersion::parse(requested).filter(|v| v.era() == Era::Stateless).ok_or_else(|| {
        (
            400,
            RpcError::new(jsonrpc::UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
                .with_data(json!({ "supported": ProtocolVersion::all_supported(), "requested": requested })),
        )
    })?;
    // Multi-round answers must be an object of objects.
    if let Some(responses) = params.get("inputResponses") {
        let ok = responses.as_object().is_some_and(|m| m.values().all(Value::is_object));
        if !ok {
            return Err((
                200,
                RpcError::invalid_params("Invalid inputResponses: expected an object of response objects"),
            ));
        }
    }
    Ok(version)
}

/// Decodes the `=?base64?…?=` form of an MCP header value; plain values pass through.
pub fn decode_header_value(v: &str) -> Option<String> {
    match v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(v.to_owned()),
    }
}

/// 2026-07-28 result fields: `resultType`, caching hints and `serverInfo`.
fn decorate_stateless(server: &Server<'_>, method: &str, result: &mut Value) {
    let Value::Object(m) = result else { return };
    // A multi-round tool may already have said `input_required`; it gets no caching hints.
    if m.get("resultType").and_then(Value::as_str).is_some_and(|t| t != "complete") {
        return;
    }
    m.insert("resultType".into(), "complete".into());
    // Tool lists and resource contents depend on the caller's scopes and entitlements.
    let cache = match method {
        "server/discover" => Some((3_600_000, "public")),
        "prompts/list" | "resources/list" | "resources/templates/list" => Some((300_000, "public")),
        "tools/list" => Some((300_000, "private")),
        "resources/read" => Some((60_000, "private")),
        _ => None,
    };
    if let Some((ttl, scope)) = cache {
        m.insert("ttlMs".into(), ttl.into());
        m.insert("cacheScope".into(), scope.into());
    }
    let meta = m.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert(META_SERVER_INFO.into(), server.info.to_value(ProtocolVersion::V2026_07_28));
    }
}
