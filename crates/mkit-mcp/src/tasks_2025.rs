//! The 2025-11-25 tasks utility: the same tasks as the 2026-07-28 extension (`mcp::tasks`: one
//! store, one runner, one admission), on the handshake-era wire. A client asks for a task with
//! `params.task` on `tools/call` of a tool whose `execution.taskSupport` allows it, polls with
//! `tasks/get`, and fetches the outcome with `tasks/result`, which blocks until the task
//! finishes. A task waiting for input is answered inside `tasks/result`: on a held session its
//! input requests go to the client on that call's event stream, tagged with the task.
// Without the `tasks` feature only `as_task`, `refused` and `handle`'s storeless answers are used.
#![cfg_attr(not(feature = "tasks"), allow(dead_code, unused_imports))]

use serde_json::{json, Map, Value};

use super::context::ToolContext;
use super::jsonrpc::{RpcError, INVALID_REQUEST, METHOD_NOT_FOUND};
use super::rounds::{self, MAX_ROUNDS};
use super::tasks::{task_id, Status, Task, TaskStore, TaskSupport, POLL_INTERVAL_MS};
use super::tool::ToolInfo;

/// The `_meta` key tying a message to its task.
pub const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";
/// Tasks per `tasks/list` page.
const PAGE: usize = 50;

/// `capabilities.tasks`: listing, cancelling, and task-augmented `tools/call`.
pub fn capability() -> Value {
    json!({ "list": {}, "cancel": {}, "requests": { "tools": { "call": {} } } })
}

/// A tool's `execution` in `tools/list`, unless it never runs as a task.
pub fn execution(support: TaskSupport) -> Option<Value> {
    match support {
        TaskSupport::Forbidden => None,
        TaskSupport::Optional => Some(json!({ "taskSupport": "optional" })),
        TaskSupport::Required => Some(json!({ "taskSupport": "required" })),
    }
}

/// The lifetime the client asked for (`params.task.ttl`, milliseconds), if any.
pub fn requested_ttl(params: &Map<String, Value>) -> Option<u64> {
    params.get("task")?.get("ttl")?.as_u64()
}

/// Whether this handshake-era call becomes a task: on 2025-11-25, where tasks are kept, when the
/// client asks (`params.task`). -32601 for a task the tool does not run as, or a plain call of
/// a tool that runs only as one (the spec's codes); earlier versions ignore `task`.
pub fn as_task(ctx: &ToolContext<'_>, tool: &ToolInfo, params: &Map<String, Value>) -> Result<bool, RpcError> {
    if !ctx.protocol_version.has_tasks() || ctx.tasks.is_none() {
        return Ok(false);
    }
    let asked = match params.get("task") {
        None => false,
        Some(Value::Object(_)) => true,
        Some(_) => return Err(RpcError::invalid_params("task must be an object, such as {\"ttl\": 60000}")),
    };
    let name = tool.name;
    match (asked, tool.task_support) {
        (false, TaskSupport::Required) => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("tool {name} runs only as a task: call it with params.task (execution.taskSupport is required)"),
        )),
        (true, TaskSupport::Forbidden) => {
            Err(RpcError::new(METHOD_NOT_FOUND, format!("tool {name} does not run as a task: call it without task")))
        }
        (true, _) if tool.asks_client && !ctx.held => Err(rounds::needs_session()),
        (asked, _) => Ok(asked),
    }
}

/// The `Task` object of 2025-11-25. A tool result with `isError` is a failed task there.
pub fn task_object(t: &Task) -> Value {
    let tool_error = t.result.as_ref().and_then(|r| r.get("isError")).and_then(Value::as_bool) == Some(true);
    let said = || t.result.as_ref().and_then(|r| r["content"][0]["text"].as_str()).map(str::to_owned);
    let (status, message) = match t.status {
        Status::Completed if tool_error => ("failed", said().or_else(|| Some("the tool reported an error".to_owned()))),
        Status::Completed => ("completed", None),
        Status::Failed => ("failed", t.error.as_ref().and_then(|e| e["message"].as_str()).map(str::to_owned)),
        Status::Cancelled => ("cancelled", Some("The task was cancelled by request.".to_owned())),
        Status::InputRequired => ("input_required", Some("the tool needs input: call tasks/result".to_owned())),
        Status::Working => ("working", None),
    };
    let mut v = json!({ "taskId": t.id, "status": status, "createdAt": super::tasks::iso8601(t.created_ms),
        "lastUpdatedAt": super::tasks::iso8601(t.updated_ms), "ttl": t.ttl_ms, "pollInterval": POLL_INTERVAL_MS });
    if let Some(m) = message {
        v["statusMessage"] = m.into();
    }
    v
}

/// A task the client asked for but admission refused (payment required, a quota spent, the
/// ledger unavailable): on this wire a `tools/call` that asked for a task must answer with one,
/// so it gets one already finished with the refusal: `tasks/get` shows it failed, with the
/// refusal's text, and `tasks/result` returns the refusal (the pay link included) as the call
/// would have. Nothing was taken, so nothing is given back. Unstored, the refusal is the answer.
#[cfg(feature = "tasks")]
pub async fn refused(
    ctx: &ToolContext<'_>,
    params: &Map<String, Value>,
    refusal: Result<Value, RpcError>,
) -> Result<Value, RpcError> {
    let Some(store) = ctx.tasks else { return refusal };
    let mut task = super::tasks::to_store(ctx, params);
    task.settle(refusal.clone().map_err(super::server::DispatchError::Rpc), 0);
    match store.create(task).await {
        Ok(t) => Ok(created(&t)),
        Err(_) => refusal,
    }
}

/// `CreateTaskResult`.
pub fn created(t: &Task) -> Value {
    json!({ "task": task_object(t) })
}

fn unknown(id: &str) -> RpcError {
    RpcError::invalid_params(format!("Failed to retrieve task: task not found: {id}"))
}

/// Without the `tasks` feature no store is kept: what `refused` and `handle` answer without one.
/// (Variants, not the `None` store the edge passes: the code after an `.await` stays in the
/// bundle where it cannot run.)
#[cfg(not(feature = "tasks"))]
pub async fn refused(
    _: &ToolContext<'_>,
    _: &Map<String, Value>,
    refusal: Result<Value, RpcError>,
) -> Result<Value, RpcError> {
    refusal
}

/// Without the `tasks` feature: see `refused`.
#[cfg(not(feature = "tasks"))]
pub async fn handle(_: &ToolContext<'_>, method: &str, _: &Map<String, Value>) -> Result<Value, RpcError> {
    Err(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {method}")))
}

/// `tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel` on 2025-11-25.
#[cfg(feature = "tasks")]
pub async fn handle(ctx: &ToolContext<'_>, method: &str, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let store = ctx
        .tasks
        .filter(|_| ctx.protocol_version.has_tasks())
        .ok_or_else(|| RpcError::new(METHOD_NOT_FOUND, format!("method not found: {method}")))?;
    match method {
        "tasks/list" => list(store, params).await,
        "tasks/get" => {
            let id = task_id(params)?;
            store.get(id).await?.map(|t| task_object(&t)).ok_or_else(|| unknown(id))
        }
        "tasks/cancel" => cancel(store, task_id(params)?).await,
        _ => result(ctx, store, task_id(params)?).await,
    }
}

async fn cancel(store: &dyn TaskStore, id: &str) -> Result<Value, RpcError> {
    let (was, task) = store.cancel(id).await?.ok_or_else(|| unknown(id))?;
    if was.terminal() {
        let shown = task_object(&task)["status"].as_str().unwrap_or_default().to_owned();
        return Err(RpcError::invalid_params(format!("Cannot cancel task: already in terminal status '{shown}'")));
    }
    Ok(task_object(&task))
}

/// Blocks until the task finishes, answering its input requests on the way; then exactly what
/// the `tools/call` would have answered, tagged with the task.
async fn result(ctx: &ToolContext<'_>, store: &dyn TaskStore, id: &str) -> Result<Value, RpcError> {
    for _ in 0..=MAX_ROUNDS {
        let task = store.settled(id).await?.ok_or_else(|| unknown(id))?;
        match task.status {
            Status::Working => continue,
            Status::InputRequired => {
                let hub = ctx.hub.filter(|_| ctx.held).ok_or_else(needs_session)?;
                let answers = rounds::ask_all(hub, &related(&task.input_requests, id)).await?;
                store.update(id, &answers).await?;
            }
            Status::Completed => return Ok(tagged(task.result.unwrap_or_else(|| json!({})), id)),
            Status::Failed => return Err(stored_error(task.error.as_ref())),
            Status::Cancelled => {
                return Err(RpcError::new(INVALID_REQUEST, "the task was cancelled; it has no result"))
            }
        }
    }
    Err(rounds::too_many_rounds())
}

fn needs_session() -> RpcError {
    RpcError::new(
        INVALID_REQUEST,
        "the task waits for input (elicitation, sampling or roots): call tasks/result on the session that \
         declared the capability, accepting text/event-stream",
    )
}

/// The task's input requests, each tagged with the task, as the spec asks.
fn related(requests: &Map<String, Value>, id: &str) -> Map<String, Value> {
    let mut out = requests.clone();
    for request in out.values_mut() {
        if let Some(params) = request.as_object_mut().and_then(|r| r.get_mut("params")).and_then(Value::as_object_mut) {
            let meta = params.entry("_meta").or_insert_with(|| json!({}));
            meta[RELATED_TASK] = json!({ "taskId": id });
        }
    }
    out
}

fn tagged(mut result: Value, id: &str) -> Value {
    if let Value::Object(r) = &mut result {
        let meta = r.entry("_meta").or_insert_with(|| json!({}));
        meta[RELATED_TASK] = json!({ "taskId": id });
    }
    result
}

/// The JSON-RPC error the task's run ended with.
fn stored_error(error: Option<&Value>) -> RpcError {
    let code = error.and_then(|e| e["code"].as_i64()).unwrap_or(super::jsonrpc::INTERNAL_ERROR);
    let message = error.and_then(|e| e["message"].as_str()).unwrap_or("the task failed");
    let e = RpcError::new(code, message);
    match error.map(|e| &e["data"]) {
        Some(data) if !data.is_null() => e.with_data(data.clone()),
        _ => e,
    }
}

/// One page of the caller's tasks, oldest first; the cursor names the last task shown.
async fn list(store: &dyn TaskStore, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let after = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(parse_cursor(c).ok_or_else(|| RpcError::invalid_params("invalid cursor"))?),
        Some(_) => return Err(RpcError::invalid_params("cursor must be a string")),
    };
    let mut tasks = store.list().await?;
    tasks.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    let rest: Vec<&Task> =
        tasks.iter().filter(|t| after.as_ref().is_none_or(|(ms, id)| (t.created_ms, &t.id) > (*ms, id))).collect();
    let page: Vec<Value> = rest.iter().take(PAGE).map(|t| task_object(t)).collect();
    let mut out = json!({ "tasks": page });
    if let (true, Some(last)) = (rest.len() > PAGE, rest.get(PAGE - 1)) {
        out["nextCursor"] = format!("{}.{}", last.created_ms, last.id).into();
    }
    Ok(out)
}

fn parse_cursor(c: &str) -> Option<(u64, String)> {
    let (ms, id) = c.split_once('.')?;
    Some((ms.parse().ok()?, id.to_owned()))
}
