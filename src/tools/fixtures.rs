//! Test-only tools, resources and prompts that the official MCP conformance suite calls.
//! Compiled only with the `fixtures` feature (`make worker-fixtures`); never deployed.

use serde_json::{json, Map, Value};

use crate::mcp::jsonrpc::RpcError;
use crate::mcp::tool::{LocalFuture, Prompt, PromptArgument, Resource, ResourceBody, ResourceTemplate, ToolContext};
use crate::mcp::{LogLevel, Registry, ToolInfo};

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A WAV header with no samples.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=";

fn no_args() -> Value {
    json!({ "type": "object", "properties": {} })
}

fn content(blocks: Value) -> Result<Value, RpcError> {
    Ok(json!({ "content": blocks }))
}

fn simple_text<'a>(_: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async { content(json!([{ "type": "text", "text": "This is a simple text response for testing." }])) })
}

fn image<'a>(_: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async { content(json!([{ "type": "image", "data": PNG, "mimeType": "image/png" }])) })
}

fn audio<'a>(_: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async { content(json!([{ "type": "audio", "data": WAV, "mimeType": "audio/wav" }])) })
}

fn embedded<'a>(_: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async {
        content(json!([{ "type": "resource", "resource": {
            "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content." } }]))
    })
}

fn mixed<'a>(_: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async {
        content(json!([
            { "type": "text", "text": "Multiple content types test:" },
            { "type": "image", "data": PNG, "mimeType": "image/png" },
            { "type": "resource", "resource": {
                "uri": "test://mixed-content-resource", "mimeType": "application/json", "text": "{\"test\":\"data\",\"value\":123}" } },
        ]))
    })
}

fn with_logging<'a>(ctx: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async move {
        for msg in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ] {
            ctx.log(LogLevel::Info, "conformance", json!(msg));
        }
        content(json!([{ "type": "text", "text": "Tool with logging executed successfully" }]))
    })
}

fn error<'a>(_: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async {
        Ok(
            json!({ "isError": true, "content": [{ "type": "text", "text": "This tool intentionally returns an error for testing" }] }),
        )
    })
}

fn with_progress<'a>(ctx: &'a ToolContext<'a>, _: Value) -> LocalFuture<'a, Result<Value, RpcError>> {
    Box::pin(async move {
        for p in [0.0, 50.0, 100.0] {
            ctx.progress(p, Some(100.0), None);
        }
        content(json!([{ "type": "text", "text": "Tool with progress executed successfully" }]))
    })
}

fn text_prompt(text: String) -> Value {
    json!({ "messages": [{ "role": "user", "content": { "type": "text", "text": text } }] })
}

pub fn register(r: &mut Registry) {
    let tools: [(&'static str, &'static str, crate::mcp::tool::RawHandler); 8] = [
        ("test_simple_text", "Returns simple text content", simple_text),
        ("test_image_content", "Returns image content", image),
        ("test_audio_content", "Returns audio content", audio),
        ("test_embedded_resource", "Returns an embedded resource", embedded),
        (
            "test_multiple_content_types",
            "Returns text, image and resource content",
            mixed,
        ),
        (
            "test_tool_with_logging",
            "Sends log notifications while it runs",
            with_logging,
        ),
        ("test_error_handling", "Always returns a tool error", error),
        (
            "test_tool_with_progress",
            "Reports progress while it runs",
            with_progress,
        ),
    ];
    for (name, description, handler) in tools {
        r.raw_tool(ToolInfo::new(name, description), no_args(), handler);
    }

    r.resource(Resource {
        uri: "test://static-text",
        name: "static-text",
        title: None,
        description: "A static text resource",
        mime_type: "text/plain",
        read: |_| ResourceBody::Text("This is the content of the static text resource.".into()),
    });
    r.resource(Resource {
        uri: "test://static-binary",
        name: "static-binary",
        title: None,
        description: "A static binary resource",
        mime_type: "image/png",
        read: |_| ResourceBody::Blob(PNG.into()),
    });
    r.template(ResourceTemplate {
        uri_template: "test://template/{id}/data",
        name: "template",
        title: None,
        description: "A resource template",
        mime_type: "application/json",
        read: |uri, _| {
            let id = uri.strip_prefix("test://template/")?.strip_suffix("/data")?;
            (!id.is_empty() && !id.contains('/')).then(|| {
                ResourceBody::Text(
                    json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") }).to_string(),
                )
            })
        },
    });

    r.prompt(Prompt {
        name: "test_simple_prompt",
        title: None,
        description: "A simple prompt",
        arguments: vec![],
        render: |_, _, _| Ok(text_prompt("This is a simple prompt for testing.".into())),
    });
    r.prompt(Prompt {
        name: "test_prompt_with_arguments",
        title: None,
        description: "A prompt with arguments",
        arguments: vec![
            PromptArgument {
                name: "arg1",
                description: "First argument",
                required: true,
                complete: Some(|_| vec!["test".into(), "testValue1".into()]),
            },
            PromptArgument {
                name: "arg2",
                description: "Second argument",
                required: true,
                complete: None,
            },
        ],
        render: |args: &Map<String, Value>, _, _| {
            let get = |k| args.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(text_prompt(format!(
                "Prompt with arguments: arg1='{}', arg2='{}'",
                get("arg1"),
                get("arg2")
            )))
        },
    });
    r.prompt(Prompt {
        name: "test_prompt_with_embedded_resource",
        title: None,
        description: "A prompt with an embedded resource",
        arguments: vec![PromptArgument { name: "resourceUri", description: "URI of the resource", required: true, complete: None }],
        render: |args, _, _| {
            let uri = args.get("resourceUri").and_then(Value::as_str).unwrap_or_default();
            Ok(json!({ "messages": [
                { "role": "user", "content": { "type": "resource", "resource": {
                    "uri": uri, "mimeType": "text/plain", "text": "Embedded resource content for testing." } } },
                { "role": "user", "content": { "type": "text", "text": "Please process the embedded resource above." } },
            ] }))
        },
    });
    r.prompt(Prompt {
        name: "test_prompt_with_image",
        title: None,
        description: "A prompt with an image",
        arguments: vec![],
        render: |_, _, _| {
            Ok(json!({ "messages": [
                { "role": "user", "content": { "type": "image", "data": PNG, "mimeType": "image/png" } },
                { "role": "user", "content": { "type": "text", "text": "Please analyze the image above." } },
            ] }))
        },
    });
}
