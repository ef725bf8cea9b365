//! Conformance fixtures (the fixtures build only) for tools that ask the client mid-call, and a
//! resource that announces its changes. Each tool is written once, the 2026-07-28 way
//! (`input_required`); on the 2025 wire mKit asks the client on a held session (`mcp::rounds`).

use serde_json::{json, Map, Value};

use crate::mcp::jsonrpc::{RpcError, MISSING_REQUIRED_CLIENT_CAPABILITY};
use crate::mcp::mrtr::input_required;
use crate::mcp::registry::{Resource, ResourceBody, ResourceRead};
use crate::mcp::{Registry, ToolContext, ToolInfo};

/// The resource `test_update_watched_resource` changes.
const WATCHED: &str = "test://watched-resource";

fn text(t: String) -> Result<Value, RpcError> {
    Ok(json!({ "content": [{ "type": "text", "text": t }] }))
}

fn needs(ctx: &ToolContext<'_>, capability: &str) -> Result<(), RpcError> {
    if ctx.client_has(capability) {
        return Ok(());
    }
    let message = format!("Missing required client capability: {capability}");
    Err(RpcError::new(MISSING_REQUIRED_CLIENT_CAPABILITY, message).with_data(json!({ "requiredCapabilities": {
        capability: {} } })))
}

/// The client's answer to the request named `key`, if this round has it.
fn answer<'c>(ctx: &ToolContext<'c>, key: &str) -> Option<&'c Value> {
    ctx.input_responses?.get(key)
}

fn ask(key: &str, request: Value) -> Result<Value, RpcError> {
    let mut requests = Map::new();
    requests.insert(key.to_owned(), request);
    Ok(input_required(requests, None))
}

fn elicit(message: &str, schema: Value) -> Value {
    json!({ "method": "elicitation/create", "params": { "message": message, "requestedSchema": schema } })
}

fn completed(a: &Value) -> Result<Value, RpcError> {
    text(format!("Elicitation completed: action={}, content={}", a["action"].as_str().unwrap_or("?"), a["content"]))
}

async fn sampling(ctx: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    needs(ctx, "sampling")?;
    if let Some(a) = answer(ctx, "sample") {
        return text(format!("LLM response: {}", a["content"]["text"].as_str().unwrap_or_default()));
    }
    let prompt = args["prompt"].as_str().unwrap_or_default();
    ask(
        "sample",
        json!({ "method": "sampling/createMessage", "params": {
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }], "maxTokens": 100 } }),
    )
}

async fn elicitation(ctx: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    needs(ctx, "elicitation")?;
    if let Some(a) = answer(ctx, "user") {
        return text(format!(
            "User response: action={}, content={}",
            a["action"].as_str().unwrap_or("?"),
            a["content"]
        ));
    }
    let schema = json!({ "type": "object", "properties": {
        "username": { "type": "string", "description": "User's response" },
        "email": { "type": "string", "description": "User's email address" } }, "required": ["username", "email"] });
    ask("user", elicit(args["message"].as_str().unwrap_or_default(), schema))
}

async fn defaults(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    needs(ctx, "elicitation")?;
    if let Some(a) = answer(ctx, "defaults") {
        return completed(a);
    }
    let schema = json!({ "type": "object", "properties": {
        "name": { "type": "string", "description": "User name", "default": "John Doe" },
        "age": { "type": "integer", "description": "User age", "default": 30 },
        "score": { "type": "number", "description": "User score", "default": 95.5 },
        "status": { "type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
            "default": "active" },
        "verified": { "type": "boolean", "description": "Verification status", "default": true } }, "required": [] });
    ask("defaults", elicit("Please review and confirm these values", schema))
}

async fn enums(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    needs(ctx, "elicitation")?;
    if let Some(a) = answer(ctx, "enums") {
        return completed(a);
    }
    let titled = |v: [(&str, &str); 3]| v.map(|(c, t)| json!({ "const": c, "title": t })).to_vec();
    let schema = json!({ "type": "object", "properties": {
        "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
        "titledSingle": { "type": "string",
            "oneOf": titled([("value1", "First Option"), ("value2", "Second Option"), ("value3", "Third Option")]) },
        "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"] },
        "untitledMulti": { "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
        "titledMulti": { "type": "array", "items": {
            "anyOf": titled([("value1", "First Choice"), ("value2", "Second Choice"), ("value3", "Third Choice")]) } }
    }, "required": [] });
    ask("enums", elicit("Please choose", schema))
}

async fn update_watched(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    ctx.resource_updated(WATCHED).await;
    text(format!("{WATCHED} updated"))
}

pub fn register(r: &mut Registry) {
    let asking = |name, description| ToolInfo::new(name, description).asks_client();
    let one_string = |field: &str| {
        json!({ "type": "object", "properties": { field: { "type": "string" } },
        "required": [field] })
    };
    let none = || json!({ "type": "object", "properties": {} });
    r.raw_tool(asking("test_sampling", "Asks the client's model"), one_string("prompt"), sampling);
    r.raw_tool(asking("test_elicitation", "Asks the user for a name and email"), one_string("message"), elicitation);
    r.raw_tool(asking("test_elicitation_sep1034_defaults", "Asks with defaults (SEP-1034)"), none(), defaults);
    r.raw_tool(asking("test_elicitation_sep1330_enums", "Asks with every enum form (SEP-1330)"), none(), enums);
    r.raw_tool(
        ToolInfo::new("test_update_watched_resource", "Changes test://watched-resource"),
        none(),
        update_watched,
    );
    r.resource(Resource {
        uri: WATCHED,
        name: "watched-resource",
        title: None,
        description: "A resource that announces its changes",
        mime_type: "text/plain",
        read: ResourceRead::Now(|_| ResourceBody::Text("Watched resource content".into())),
    });
    r.announces_updates(WATCHED);
}
