//! Test-only tools, resources and prompts that the official MCP conformance suite calls.
//! Compiled only with the `fixtures` feature (`make worker-fixtures`); never deployed.

use serde_json::{json, Map, Value};

use crate::mcp::jsonrpc::RpcError;
use crate::mcp::registry::{Prompt, PromptArgument, Resource, ResourceBody, ResourceRead, ResourceTemplate};
use crate::mcp::ToolContext;
use crate::mcp::{LogLevel, Registry, ToolInfo};
use crate::price::{Priced, Window};

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

async fn simple_text(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    content(json!([{ "type": "text", "text": "This is a simple text response for testing." }]))
}

async fn echo_arguments(_: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    content(json!([{ "type": "text", "text": args.to_string() }]))
}

async fn image(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    content(json!([{ "type": "image", "data": PNG, "mimeType": "image/png" }]))
}

async fn audio(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    content(json!([{ "type": "audio", "data": WAV, "mimeType": "audio/wav" }]))
}

async fn embedded(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    content(json!([{ "type": "resource", "resource": {
        "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content." } }]))
}

async fn mixed(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    content(json!([
        { "type": "text", "text": "Multiple content types test:" },
        { "type": "image", "data": PNG, "mimeType": "image/png" },
        { "type": "resource", "resource": {
            "uri": "test://mixed-content-resource", "mimeType": "application/json", "text": "{\"test\":\"data\",\"value\":123}" } },
    ]))
}

async fn with_logging(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    for msg in ["Tool execution started", "Tool processing data", "Tool execution completed"] {
        ctx.log(LogLevel::Info, "conformance", json!(msg));
    }
    content(json!([{ "type": "text", "text": "Tool with logging executed successfully" }]))
}

async fn error(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    Ok(
        json!({ "isError": true, "content": [{ "type": "text", "text": "This tool intentionally returns an error for testing" }] }),
    )
}

async fn with_progress(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    for p in [0.0, 50.0, 100.0] {
        ctx.progress(p, Some(100.0), None);
    }
    content(json!([{ "type": "text", "text": "Tool with progress executed successfully" }]))
}

async fn free_quota(_: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    if args.get("fail") == Some(&Value::Bool(true)) {
        return Ok(json!({ "content": [{ "type": "text", "text": "failed as asked" }], "isError": true }));
    }
    content(json!([{ "type": "text", "text": "counted" }]))
}

/// Reports the `units` it was given as its output, for the meter value.
async fn units(_: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    if args.get("fail") == Some(&Value::Bool(true)) {
        return Ok(json!({ "content": [{ "type": "text", "text": "failed as asked" }], "isError": true }));
    }
    let units = args.get("units").and_then(Value::as_u64).unwrap_or(1);
    Ok(
        json!({ "content": [{ "type": "text", "text": format!("{units} units") }], "structuredContent": { "units": units } }),
    )
}

fn text_prompt(text: String) -> Value {
    json!({ "messages": [{ "role": "user", "content": { "type": "text", "text": text } }] })
}

pub fn register(r: &mut Registry) {
    let info = ToolInfo::new;
    r.raw_tool(info("test_simple_text", "Returns simple text content"), no_args(), simple_text);
    r.raw_tool(info("test_image_content", "Returns image content"), no_args(), image);
    r.raw_tool(info("test_audio_content", "Returns audio content"), no_args(), audio);
    r.raw_tool(info("test_embedded_resource", "Returns an embedded resource"), no_args(), embedded);
    r.raw_tool(info("test_multiple_content_types", "Returns text, image and resource content"), no_args(), mixed);
    r.raw_tool(info("test_tool_with_logging", "Sends log notifications while it runs"), no_args(), with_logging);
    r.raw_tool(info("test_error_handling", "Always returns a tool error"), no_args(), error);
    r.raw_tool(info("test_tool_with_progress", "Reports progress while it runs"), no_args(), with_progress);
    register_stateless(r);
    // SEP-2243: parameters mirrored into Mcp-Param-* headers (the suite's
    // http-custom-header-server-validation scenario looks for such a tool).
    let mirrored = json!({ "type": "object", "properties": {
        "region": { "type": "string", "x-mcp-header": "Region" },
        "priority": { "type": "integer", "x-mcp-header": "Priority" },
        "query": { "type": "string" } }, "required": ["region"] });
    r.raw_tool(info("test_custom_headers", "Echoes arguments mirrored into headers"), mirrored, echo_arguments);

    r.resource(Resource {
        uri: "test://static-text",
        name: "static-text",
        title: None,
        description: "A static text resource",
        mime_type: "text/plain",
        read: ResourceRead::Now(|_| ResourceBody::Text("This is the content of the static text resource.".into())),
    });
    r.resource(Resource {
        uri: "test://static-binary",
        name: "static-binary",
        title: None,
        description: "A static binary resource",
        mime_type: "image/png",
        read: ResourceRead::Now(|_| ResourceBody::Blob(PNG.into())),
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
            PromptArgument { name: "arg2", description: "Second argument", required: true, complete: None },
        ],
        render: |args: &Map<String, Value>, _, _| {
            let get = |k| args.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(text_prompt(format!("Prompt with arguments: arg1='{}', arg2='{}'", get("arg1"), get("arg2"))))
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

fn ask(message: &str, field: &str, kind: &str) -> Value {
    json!({ "method": "elicitation/create", "params": { "message": message, "requestedSchema": {
        "type": "object", "properties": { field: { "type": kind } }, "required": [field] } } })
}

fn sample(text: &str, max_tokens: u32) -> Value {
    json!({ "method": "sampling/createMessage", "params": {
        "messages": [{ "role": "user", "content": { "type": "text", "text": text } }], "maxTokens": max_tokens } })
}

fn roots() -> Value {
    json!({ "method": "roots/list", "params": {} })
}

fn requests(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn complete_text(text: String) -> Result<Value, RpcError> {
    Ok(json!({ "content": [{ "type": "text", "text": text }] }))
}

fn missing(cap: &str) -> RpcError {
    RpcError::new(
        crate::mcp::jsonrpc::MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!("Missing required client capability: {cap}"),
    )
    .with_data(json!({ "requiredCapabilities": { cap: {} } }))
}

/// The sealed state sent back, checked; `Ok(None)` when the client sent none.
fn state(ctx: &ToolContext<'_>) -> Result<Option<Value>, RpcError> {
    ctx.open_state()
}

fn sampled_text(ctx: &ToolContext<'_>, key: &str) -> Option<String> {
    ctx.input_responses?.get(key)?.get("content")?.get("text")?.as_str().map(str::to_owned)
}

use crate::mcp::mrtr::{accepted_content, input_required};

async fn mrtr_elicitation(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    state(ctx)?;
    match accepted_content(ctx.input_responses, "user_name").and_then(|c| c.get("name")?.as_str()) {
        Some(name) => complete_text(format!("Hello, {name}!")),
        None => Ok(input_required(requests(&[("user_name", ask("What is your name?", "name", "string"))]), None)),
    }
}

async fn mrtr_sampling(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    match sampled_text(ctx, "capital_question") {
        Some(answer) => complete_text(answer),
        None => {
            Ok(input_required(requests(&[("capital_question", sample("What is the capital of France?", 100))]), None))
        }
    }
}

async fn mrtr_roots(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    let listed = ctx.input_responses.and_then(|r| r.get("client_roots")?.get("roots")?.as_array());
    match listed {
        Some(roots) => {
            let uris: Vec<&str> = roots.iter().filter_map(|r| r.get("uri")?.as_str()).collect();
            complete_text(format!("Client roots: {}", uris.join(", ")))
        }
        None => Ok(input_required(requests(&[("client_roots", roots())]), None)),
    }
}

/// Shared by the request-state and tampered-state fixtures: a confirmation bound to a sealed state.
async fn mrtr_confirm(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    let sealed = state(ctx)?;
    match (sealed, accepted_content(ctx.input_responses, "confirm")) {
        (Some(s), Some(c)) if s["stage"] == "confirm" => {
            complete_text(format!("state-ok: confirmed={}", c.get("ok").unwrap_or(&Value::Null)))
        }
        _ => Ok(input_required(
            requests(&[("confirm", ask("Please confirm", "ok", "boolean"))]),
            Some(ctx.seal_state(&json!({ "stage": "confirm" }))?),
        )),
    }
}

async fn mrtr_multiple(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    let sealed = state(ctx)?;
    let name = accepted_content(ctx.input_responses, "user_name").and_then(|c| c.get("name")?.as_str());
    let greeting = sampled_text(ctx, "greeting");
    let rooted = ctx.input_responses.and_then(|r| r.get("client_roots")?.get("roots")?.as_array()).is_some();
    match (sealed, name, greeting, rooted) {
        (Some(_), Some(name), Some(greeting), true) => {
            complete_text(format!("{greeting} {name}, your roots were received."))
        }
        _ => Ok(input_required(
            requests(&[
                ("user_name", ask("What is your name?", "name", "string")),
                ("greeting", sample("Generate a greeting", 50)),
                ("client_roots", roots()),
            ]),
            Some(ctx.seal_state(&json!({ "stage": "multiple" }))?),
        )),
    }
}

async fn mrtr_multi_round(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    let sealed = state(ctx)?.unwrap_or(Value::Null);
    let step1 = || -> Result<Value, RpcError> {
        Ok(input_required(
            requests(&[("step1", ask("Step 1: What is your name?", "name", "string"))]),
            Some(ctx.seal_state(&json!({ "stage": "step1" }))?),
        ))
    };
    match sealed["stage"].as_str() {
        Some("step1") => match accepted_content(ctx.input_responses, "step1").and_then(|c| c.get("name")?.as_str()) {
            Some(name) => Ok(input_required(
                requests(&[("step2", ask("Step 2: What is your favorite color?", "color", "string"))]),
                Some(ctx.seal_state(&json!({ "stage": "step2", "name": name }))?),
            )),
            None => step1(),
        },
        Some("step2") => {
            let name = sealed["name"].as_str().unwrap_or_default();
            match accepted_content(ctx.input_responses, "step2").and_then(|c| c.get("color")?.as_str()) {
                Some(color) => complete_text(format!("{name}'s favorite color is {color}")),
                None => step1(),
            }
        }
        _ => step1(),
    }
}

async fn mrtr_capabilities(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    if let Some(summary) = sampled_text(ctx, "summary") {
        return complete_text(summary);
    }
    let mut asks = Vec::new();
    if ctx.client_has("sampling") {
        asks.push(("summary", sample("Summarize", 50)));
    }
    if ctx.client_has("elicitation") {
        asks.push(("confirm", ask("Please confirm", "ok", "boolean")));
    }
    if asks.is_empty() {
        return Err(missing("sampling"));
    }
    Ok(input_required(requests(&asks), None))
}

async fn missing_capability(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    if !ctx.client_has("sampling") {
        return Err(missing("sampling"));
    }
    match sampled_text(ctx, "sample") {
        Some(text) => complete_text(text),
        None => Ok(input_required(requests(&[("sample", sample("Say hello", 50))]), None)),
    }
}

async fn streaming_elicitation(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    if !ctx.client_has("elicitation") {
        return Err(missing("elicitation"));
    }
    match accepted_content(ctx.input_responses, "user_input").and_then(|c| c.get("value")?.as_str()) {
        Some(v) => complete_text(format!("Received: {v}")),
        None => Ok(input_required(requests(&[("user_input", ask("Please provide a value", "value", "string"))]), None)),
    }
}

async fn logging_tool(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    ctx.log(LogLevel::Info, "test_logging_tool", json!("Logging tool running"));
    complete_text("Logging tool executed".into())
}

async fn json_schema_2020_12(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    complete_text("ok".into())
}

fn json_schema_2020_12_input() -> Value {
    json!({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
        "$defs":{"address":{"$anchor":"addressDef","type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},
        "properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"},"contactMethod":{"type":"string","enum":["phone","email"]},
            "phone":{"type":"string"},"email":{"type":"string"}},
        "allOf":[{"anyOf":[{"required":["phone"]},{"required":["email"]}]}],
        "if":{"properties":{"contactMethod":{"const":"phone"}},"required":["contactMethod"]},"then":{"required":["phone"]},"else":{"required":["email"]},
        "additionalProperties":false})
}

fn register_stateless(r: &mut Registry) {
    let info = ToolInfo::new;
    r.raw_tool(info("test_input_required_result_elicitation", "Asks for the user's name"), no_args(), mrtr_elicitation);
    r.raw_tool(
        info("test_input_required_result_sampling", "Asks the client's model a question"),
        no_args(),
        mrtr_sampling,
    );
    r.raw_tool(info("test_input_required_result_list_roots", "Asks for the client's roots"), no_args(), mrtr_roots);
    r.raw_tool(
        info("test_input_required_result_request_state", "Confirms with a sealed request state"),
        no_args(),
        mrtr_confirm,
    );
    r.raw_tool(
        info("test_input_required_result_tampered_state", "Rejects an altered request state"),
        no_args(),
        mrtr_confirm,
    );
    r.raw_tool(
        info("test_input_required_result_multiple_inputs", "Asks for three inputs at once"),
        no_args(),
        mrtr_multiple,
    );
    r.raw_tool(info("test_input_required_result_multi_round", "Asks in two rounds"), no_args(), mrtr_multi_round);
    r.raw_tool(
        info("test_input_required_result_capabilities", "Asks only for what the client supports"),
        no_args(),
        mrtr_capabilities,
    );
    r.raw_tool(info("test_missing_capability", "Needs the sampling capability"), no_args(), missing_capability);
    r.raw_tool(
        info("test_streaming_elicitation", "Needs the elicitation capability"),
        no_args(),
        streaming_elicitation,
    );
    r.raw_tool(info("test_logging_tool", "Logs only when the request asks for a level"), no_args(), logging_tool);
    r.raw_tool(
        ToolInfo::new("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features"),
        json_schema_2020_12_input(),
        json_schema_2020_12,
    );
    // For the quota tests: 10 free calls a day; `fail: true` makes the run fail (its call is given back).
    r.raw_tool(
        ToolInfo::new("test_free_quota", "Ten free calls a day").free_quota(10, Window::Day),
        json!({ "type": "object", "properties": { "fail": { "type": "boolean" } } }),
        free_quota,
    );
    // For the credit tests: one credit a call; `fail: true` refunds it.
    r.raw_tool(
        ToolInfo::new("test_credits", "One credit a call").credits(1),
        json!({ "type": "object", "properties": { "fail": { "type": "boolean" } } }),
        free_quota,
    );
    // For the meter tests: the "pro" entitlement, each call metered by the units it reports.
    r.raw_tool(
        ToolInfo::new("test_metered", "Metered by units under pro")
            .entitlement("pro")
            .meter("mkit_test_units")
            .meter_value(|out| out.get("units")?.as_u64()),
        json!({ "type": "object", "properties": { "units": { "type": "integer" }, "fail": { "type": "boolean" } } }),
        units,
    );
    // For the auth tests: a tool behind a scope the test issuer never grants.
    r.raw_tool(
        ToolInfo::new("test_scoped_admin", "Needs the admin scope").scopes(&["admin"]),
        no_args(),
        json_schema_2020_12,
    );
    r.prompt(Prompt {
        name: "test_input_required_result_prompt",
        title: None,
        description: "A prompt that asks for context first",
        arguments: vec![],
        render: |_, _, ctx| match accepted_content(ctx.input_responses, "user_context")
            .and_then(|c| c.get("context")?.as_str())
        {
            Some(context) => Ok(text_prompt(format!("Use this context: {context}"))),
            None => Ok(input_required(
                requests(&[("user_context", ask("What context should the prompt use?", "context", "string"))]),
                None,
            )),
        },
    });
}
