//! Conformance fixtures (the fixtures build only) for the 2026-07-28 Tasks extension: a sync
//! tool, and task-supporting tools that sleep, fail, break, and wait for input.

use serde_json::{json, Map, Value};

use crate::mcp::jsonrpc::{RpcError, INTERNAL_ERROR};
use crate::mcp::mrtr::{accepted_content, input_required};
use crate::mcp::tasks::TaskSupport;
use crate::mcp::{Registry, ToolContext, ToolInfo};
use crate::price::Priced;

fn text(t: String) -> Result<Value, RpcError> {
    Ok(json!({ "content": [{ "type": "text", "text": t }] }))
}

/// Waits on the platform's clock (none in native tests: no wait).
async fn sleep(ctx: &ToolContext<'_>, seconds: f64) {
    let ms = (seconds.clamp(0.0, 600.0) * 1000.0) as u64;
    if let (Ok(platform), true) = (ctx.platform(), ms > 0) {
        platform.sleep(ms).await;
    }
}

async fn greet(_: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    text(format!("Hello, {}!", args["name"].as_str().unwrap_or("World")))
}

async fn slow_compute(ctx: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    let seconds = args["seconds"].as_f64().unwrap_or(1.0);
    sleep(ctx, seconds).await;
    text(format!("Computed {} after {seconds} seconds", args["label"].as_str().unwrap_or("result")))
}

/// A task priced in credits (issue #30): sleeps, then answers, or fails when asked (its credits
/// go back); its settle runs inside the tasks object, where `waitUntil` defers it.
async fn paid_job(ctx: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    sleep(ctx, args["seconds"].as_f64().unwrap_or(1.0)).await;
    let failed = args["fail"].as_bool().unwrap_or(false);
    let said = if failed { "The paid job failed" } else { "The paid job is done" };
    Ok(json!({ "content": [{ "type": "text", "text": said }], "isError": failed }))
}

async fn failing_job(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    sleep(ctx, 1.0).await;
    Ok(json!({ "content": [{ "type": "text", "text": "The job failed" }], "isError": true }))
}

async fn protocol_error_job(_: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    Err(RpcError::new(INTERNAL_ERROR, "the job broke before it could answer"))
}

fn confirm(key: &str, message: &str) -> (String, Value) {
    let schema =
        json!({ "type": "object", "properties": { "confirm": { "type": "boolean" } }, "required": ["confirm"] });
    (
        key.to_owned(),
        json!({ "method": "elicitation/create", "params": { "message": message, "requestedSchema": schema } }),
    )
}

async fn confirm_delete(ctx: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    let path = args["path"].as_str().unwrap_or("the file");
    match accepted_content(ctx.input_responses, "confirm_delete").and_then(|c| c.get("confirm")?.as_bool()) {
        Some(true) => text(format!("Deleted {path}")),
        Some(false) => text(format!("Kept {path}")),
        None if ctx.input_responses.is_some() => text(format!("Kept {path} (not confirmed)")),
        None => Ok(input_required([confirm("confirm_delete", &format!("Delete {path}?"))].into_iter().collect(), None)),
    }
}

async fn multi_input(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    let answered = |k| accepted_content(ctx.input_responses, k).is_some();
    if answered("first") && answered("second") {
        return text("Both answers received".into());
    }
    let requests: Map<String, Value> = [confirm("first", "First?"), confirm("second", "Second?")].into_iter().collect();
    Ok(input_required(requests, None))
}

/// Asks three times, one question a round (the round in its sealed state), then answers: a task
/// whose input rounds must not count as runs cut off (issue 28 item 10).
async fn ask_three_times(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    let asked = ctx.open_state()?.and_then(|s| s["round"].as_u64()).unwrap_or(0);
    if asked >= 3 {
        return text(format!("Answered {asked} rounds"));
    }
    let round = asked + 1;
    let ask = confirm("round", &format!("Round {round}?"));
    Ok(input_required([ask].into_iter().collect(), Some(ctx.seal_state(&json!({ "round": round }))?)))
}

/// Asks for a name in the request (multi-round), then runs as a task with the answer.
async fn with_task(ctx: &ToolContext<'_>, _: Value) -> Result<Value, RpcError> {
    match accepted_content(ctx.input_responses, "user_name").and_then(|c| c.get("name")?.as_str()) {
        Some(name) => text(format!("Hello, {name}! (asked before the task, answered in it)")),
        None => {
            let schema =
                json!({ "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] });
            let ask = json!({ "method": "elicitation/create", "params": { "message": "Your name?", "requestedSchema": schema } });
            Ok(input_required([("user_name".to_owned(), ask)].into_iter().collect(), None))
        }
    }
}

pub fn register(r: &mut Registry) {
    let task = |name, description, support| ToolInfo::new(name, description).task_support(support);
    let object = |properties: Value| json!({ "type": "object", "properties": properties });
    let optional = TaskSupport::Optional;
    r.raw_tool(ToolInfo::new("greet", "Greets, at once"), object(json!({ "name": { "type": "string" } })), greet);
    let compute = object(json!({ "seconds": { "type": "number" }, "label": { "type": "string" } }));
    r.raw_tool(task("slow_compute", "Sleeps, then answers", optional), compute, slow_compute);
    r.raw_tool(task("failing_job", "Fails after a second", TaskSupport::Required), object(json!({})), failing_job);
    r.raw_tool(task("protocol_error_job", "Breaks", optional), object(json!({})), protocol_error_job);
    let paid = object(json!({ "seconds": { "type": "number" }, "fail": { "type": "boolean" } }));
    r.raw_tool(task("test_credits_task", "One credit a task", TaskSupport::Required).credits(1), paid, paid_job);
    let path = object(json!({ "path": { "type": "string" } }));
    r.raw_tool(task("confirm_delete", "Asks before deleting", optional), path, confirm_delete);
    r.raw_tool(task("multi_input", "Asks two questions at once", optional), object(json!({})), multi_input);
    r.raw_tool(task("ask_three_times", "Asks three times, then answers", optional), object(json!({})), ask_three_times);
    let asks_first = task("test_tool_with_task", "Asks, then runs as a task", TaskSupport::Required).asks_client();
    r.raw_tool(asks_first, object(json!({})), with_task);
}
