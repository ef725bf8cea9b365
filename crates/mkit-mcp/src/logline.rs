//! What the request log line says about one MCP request: the method, the tool, the protocol
//! version, the client and the trace context. Client-supplied values go through `log::clean`.

use serde_json::{Map, Value};

use super::server::Server;
use super::stateless::META_CLIENT_INFO;
use super::version::ProtocolVersion;
use crate::log::{self, Extras, ToolCall};

/// The request log's view of one request: method, tool, version, client, trace.
pub fn request_log(
    method: &str,
    version: ProtocolVersion,
    params: &Map<String, Value>,
    meta: Option<&Map<String, Value>>,
) -> Extras {
    let client_info = match method {
        "initialize" => params.get("clientInfo"),
        _ => meta.and_then(|m| m.get(META_CLIENT_INFO)),
    };
    let client = client_info.and_then(|c| {
        let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
        log::clean(&format!("{}/{}", field("name"), field("version")), 96)
    });
    let tool = params.get("name").and_then(Value::as_str).filter(|_| method == "tools/call");
    Extras {
        mcp_method: log::clean(method, 64),
        tool: tool.and_then(|t| log::clean(t, 64)),
        protocol_version: Some(version.as_str()),
        client,
        traceparent: meta.and_then(|m| m.get("traceparent")).and_then(Value::as_str).and_then(log::traceparent),
        ..Extras::default()
    }
}

/// The metrics' view of one `tools/call`: the registered tool (else `(unknown)`), how it ended
/// (the answer's error code, or `ok`) and the paid-tool gate's decision.
pub fn tool_call(
    server: &Server<'_>,
    params: &Map<String, Value>,
    error: Option<&'static str>,
    billing: Option<&'static str>,
) -> ToolCall {
    let name = params.get("name").and_then(Value::as_str).unwrap_or_default();
    ToolCall {
        tool: server.registry.find_tool(name).map_or("(unknown)", |t| t.info.name),
        outcome: error.unwrap_or("ok"),
        billing: billing.unwrap_or("none"),
    }
}
