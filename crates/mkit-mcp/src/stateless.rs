//! 2026-07-28 (stateless era) request checks and result fields. Checks run in the order the
//! spec's error precedence needs: the required `_meta` fields (-32602), then the headers against
//! the body (-32020), then whether the version is supported (-32022).

use serde_json::{json, Map, Value};

use super::context::LogLevel;
use super::jsonrpc::{self, RpcError};
use super::param_headers::decode_header_value;
use super::registry::Registry;
use super::server::Server;
use super::transport::HttpRequest;
use super::version::{Era, ProtocolVersion};

pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A refused stateless request: its HTTP status and JSON-RPC error.
pub type Refusal = (u16, RpcError);

/// The request as the stateless checks see it.
pub struct StatelessRequest<'a> {
    pub http: &'a dyn HttpRequest,
    pub header_version: Option<&'a str>,
    pub method: &'a str,
    pub params: &'a Map<String, Value>,
    pub requested: &'a Value,
    pub meta: Option<&'a Map<String, Value>>,
}

/// Every check of a stateless request; the version it asked for when all pass.
pub fn check(r: &StatelessRequest<'_>) -> Result<ProtocolVersion, Refusal> {
    let requested = required_meta(r)?;
    check_version_header(r.header_version, requested)?;
    check_method_header(r)?;
    check_name_header(r)?;
    let version = supported(requested)?;
    check_input_responses(r.params)?;
    Ok(version)
}

fn malformed(msg: String) -> Refusal {
    (400, RpcError::invalid_params(msg))
}

fn mismatch(msg: &str) -> Refusal {
    (400, RpcError::new(jsonrpc::HEADER_MISMATCH, msg))
}

/// RFC 9110 §5.5: optional whitespace around a field value is not part of it.
fn field(v: &str) -> &str {
    v.trim_matches([' ', '\t'])
}

fn required_meta<'a>(r: &StatelessRequest<'a>) -> Result<&'a str, Refusal> {
    let requested =
        r.requested.as_str().ok_or_else(|| malformed(format!("_meta[\"{META_VERSION}\"] must be a string")))?;
    if !r.meta.and_then(|m| m.get(META_CAPABILITIES)).is_some_and(Value::is_object) {
        return Err(malformed(format!("_meta[\"{META_CAPABILITIES}\"] is required")));
    }
    Ok(requested)
}

fn check_version_header(header: Option<&str>, requested: &str) -> Result<(), Refusal> {
    match header.map(field) {
        None => Err(mismatch("the MCP-Protocol-Version header is required")),
        Some(h) if h != requested => {
            Err(mismatch("MCP-Protocol-Version does not match the request's _meta protocol version"))
        }
        Some(_) => Ok(()),
    }
}

fn check_method_header(r: &StatelessRequest<'_>) -> Result<(), Refusal> {
    match r.http.header("Mcp-Method").as_deref().map(field) {
        None => Err(mismatch("the Mcp-Method header is required")),
        Some(h) if h != r.method => Err(mismatch("Mcp-Method does not match the request's method")),
        Some(_) => Ok(()),
    }
}

/// `Mcp-Name` carries the tool or prompt name, the resource URI or the task id of the body.
fn check_name_header(r: &StatelessRequest<'_>) -> Result<(), Refusal> {
    let source = match r.method {
        "tools/call" | "prompts/get" => r.params.get("name"),
        "resources/read" => r.params.get("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => r.params.get("taskId"),
        _ => None,
    };
    let Some(expected) = source.and_then(Value::as_str) else { return Ok(()) };
    let header = r.http.header("Mcp-Name").ok_or_else(|| mismatch("the Mcp-Name header is required"))?;
    let decoded = decode_header_value(field(&header)).ok_or_else(|| mismatch("Mcp-Name is not validly encoded"))?;
    if decoded != expected {
        return Err(mismatch("Mcp-Name does not match the request body"));
    }
    Ok(())
}

fn supported(requested: &str) -> Result<ProtocolVersion, Refusal> {
    ProtocolVersion::parse(requested).filter(|v| v.era() == Era::Stateless).ok_or_else(|| {
        let e = RpcError::new(jsonrpc::UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
            .with_data(json!({ "supported": ProtocolVersion::all_supported(), "requested": requested }));
        (400, e)
    })
}

/// Multi-round answers must be an object of objects.
fn check_input_responses(params: &Map<String, Value>) -> Result<(), Refusal> {
    let Some(responses) = params.get("inputResponses") else { return Ok(()) };
    if responses.as_object().is_some_and(|m| m.values().all(Value::is_object)) {
        return Ok(());
    }
    Err((200, RpcError::invalid_params("Invalid inputResponses: expected an object of response objects")))
}

/// `Mcp-Param-{Name}` headers of a `tools/call` against the arguments they mirror (SEP-2243).
pub fn check_param_headers(
    registry: &Registry,
    http: &dyn HttpRequest,
    params: &Map<String, Value>,
) -> Result<(), Refusal> {
    let tool = params.get("name").and_then(Value::as_str).and_then(|n| registry.find_tool(n));
    let none = Map::new();
    let (Some(tool), Some(args)) = (tool, params.get("arguments").map_or(Some(&none), Value::as_object)) else {
        return Ok(());
    };
    let Ok(mirrored) = &tool.param_headers else { return Ok(()) };
    super::param_headers::check(mirrored, args, |name| http.header(name)).map_err(|msg| mismatch(&msg))
}

/// 2026-07-28 result fields: `resultType`, caching hints and `serverInfo`.
pub fn decorate(server: &Server<'_>, method: &str, result: &mut Value) {
    let Value::Object(m) = result else { return };
    // A multi-round tool may already have said `input_required`; that gets no caching hints.
    let complete = m.get("resultType").and_then(Value::as_str).is_none_or(|t| t == "complete");
    if complete {
        m.insert("resultType".into(), "complete".into());
        if let Some((ttl, scope)) = cache_hint(method) {
            m.insert("ttlMs".into(), ttl.into());
            m.insert("cacheScope".into(), scope.into());
        }
    }
    let meta = m.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert(META_SERVER_INFO.into(), server.info.to_value(ProtocolVersion::V2026_07_28));
    }
}

/// Tool lists and resource contents depend on the caller's scopes and entitlements: private.
fn cache_hint(method: &str) -> Option<(u64, &'static str)> {
    match method {
        "server/discover" => Some((3_600_000, "public")),
        "prompts/list" | "resources/list" | "resources/templates/list" => Some((300_000, "public")),
        "tools/list" => Some((300_000, "private")),
        "resources/read" => Some((60_000, "private")),
        _ => None,
    }
}

/// The handshake era logs at info (a stateless server cannot remember `logging/setLevel`); the
/// stateless era logs only when the request's `_meta` asks for a level.
pub fn log_level(version: ProtocolVersion, meta: Option<&Map<String, Value>>) -> Result<Option<LogLevel>, RpcError> {
    if version.era() == Era::Handshake {
        return Ok(Some(LogLevel::Info));
    }
    match meta.and_then(|m| m.get(META_LOG_LEVEL)) {
        None => Ok(None),
        Some(l) => l
            .as_str()
            .and_then(LogLevel::parse)
            .map(Some)
            .ok_or_else(|| RpcError::invalid_params(format!("_meta[\"{META_LOG_LEVEL}\"] is not a log level"))),
    }
}
