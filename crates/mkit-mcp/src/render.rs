//! How tools, resources, templates, prompts and tool results look to a client of a given
//! protocol version: one function each.

use serde_json::{json, Value};

use super::registry::{Prompt, Resource, ResourceTemplate};
use super::tool::{RegisteredTool, ToolError, ToolOutcome};
use super::version::ProtocolVersion;

/// Adds `title` where the version has titles (2025-06-18 and later).
fn with_title(mut m: Value, title: Option<&str>, v: ProtocolVersion) -> Value {
    if let (Some(t), true) = (title, v.has_structured_output()) {
        m["title"] = t.into();
    }
    m
}

/// A tool as `tools/list` shows it.
pub fn render_tool(t: &RegisteredTool, v: ProtocolVersion) -> Value {
    let i = &t.info;
    let mut m = json!({ "name": i.name, "description": i.description, "inputSchema": t.input_schema });
    if i.annotations != Default::default() {
        m["annotations"] = serde_json::to_value(&i.annotations).unwrap_or_default();
    }
    if v.has_structured_output() {
        if let Some(schema) = &t.output_schema {
            m["outputSchema"] = schema.clone();
        }
    }
    if v.has_icons() && !i.icons.is_empty() {
        m["icons"] = serde_json::to_value(&i.icons).unwrap_or_default();
    }
    if let (true, Some(execution)) = (v.has_tasks(), super::tasks_2025::execution(i.task_support)) {
        m["execution"] = execution;
    }
    // What layers above the core attach (a price, say), so a client can show it.
    let meta = i.extensions.list_meta(i.name);
    if !meta.is_empty() {
        m["_meta"] = Value::Object(meta);
    }
    with_title(m, i.title, v)
}

/// A resource as `resources/list` shows it.
pub fn render_resource(r: &Resource, v: ProtocolVersion) -> Value {
    let m = json!({ "uri": r.uri, "name": r.name, "description": r.description, "mimeType": r.mime_type });
    with_title(m, r.title, v)
}

/// A template as `resources/templates/list` shows it.
pub fn render_template(t: &ResourceTemplate, v: ProtocolVersion) -> Value {
    let m =
        json!({ "uriTemplate": t.uri_template, "name": t.name, "description": t.description, "mimeType": t.mime_type });
    with_title(m, t.title, v)
}

/// A prompt as `prompts/list` shows it.
pub fn render_prompt(p: &Prompt, v: ProtocolVersion) -> Value {
    let args: Vec<Value> = p
        .arguments
        .iter()
        .map(|a| json!({ "name": a.name, "description": a.description, "required": a.required }))
        .collect();
    with_title(json!({ "name": p.name, "description": p.description, "arguments": args }), p.title, v)
}

/// A `CallToolResult`, or the protocol error a raw tool asked for.
pub fn render_outcome(tool: &str, outcome: ToolOutcome, v: ProtocolVersion) -> Result<Value, super::jsonrpc::RpcError> {
    let structured = v.has_structured_output();
    Ok(match outcome {
        ToolOutcome::Ok(out) => {
            let text = serde_json::to_string(&out).unwrap_or_default();
            let mut r = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
            if structured {
                r["structuredContent"] = out;
            }
            r
        }
        ToolOutcome::InvalidInput(msg) => json!({
            "content": [{ "type": "text", "text": format!("Invalid arguments for tool {tool}: {msg}") }],
            "isError": true,
        }),
        ToolOutcome::Raw(result) => result,
        ToolOutcome::Protocol(e) => return Err(e),
        ToolOutcome::Failed(err) => render_error(err, v),
    })
}

/// A tool result with `isError: true`; the structured part where the version has one.
pub fn render_error(err: ToolError, v: ProtocolVersion) -> Value {
    let mut r = json!({ "content": [{ "type": "text", "text": err.message }], "isError": true });
    if let (Some(s), true) = (err.structured, v.has_structured_output()) {
        r["structuredContent"] = s;
    }
    r
}
