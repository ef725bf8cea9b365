//! Tasks: the 2026-07-28 Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663). A client
//! that declares the extension gets a task for a `tools/call` of a task-supporting tool: the call
//! is stored before the answer (`CreateTaskResult`), runs elsewhere (the edge's per-caller
//! Durable Object, from an alarm), and is polled with `tasks/get`, which inlines the result.
//! A task that needs input parks as `input_required`; `tasks/update` answers it. The store is
//! per caller, so nobody else can see, answer or cancel a task. The 2025-11-25 tasks utility
//! (`mcp::tasks_2025`) is a second wire over the same store and runner.
// Without the `tasks` feature only `as_task` and the storeless answers are used.
#![cfg_attr(not(feature = "tasks"), allow(dead_code))]

use serde_json::{json, Map, Value};

use super::context::{LocalFuture, ToolContext};
use super::jsonrpc::{RpcError, MISSING_REQUIRED_CLIENT_CAPABILITY};
use super::server::{DispatchError, Server};
use super::stateless::{self, META_CAPABILITIES};
use super::tasks_2025;
use super::tool::ToolInfo;
use super::transport::{self, Caller};
use super::version::{Era, ProtocolVersion};

pub use super::task::{iso8601, Status, Task, MAX_ATTEMPTS};

/// The Tasks extension's identifier (2026-07-28).
pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";
/// How long a task stays readable after it was created.
pub const TTL_MS: u64 = 60 * 60 * 1000;
/// How often a client is asked to poll.
pub const POLL_INTERVAL_MS: u64 = 1000;

/// Whether a tool runs as a task (`ToolInfo::task_support`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskSupport {
    /// Always answered in the request.
    #[default]
    Forbidden,
    /// A task for clients that take tasks, else answered in the request.
    Optional,
    /// Only as a task: clients without the extension get -32021.
    Required,
}

/// The caller's tasks, as the protocol core uses them; the edge keeps them in a Durable Object.
pub trait TaskStore {
    /// Stores a new task and schedules its run, returning once it is durable. The store gives
    /// it its unguessable id, its times and the deployment's origin.
    fn create(&self, task: Task) -> LocalFuture<'_, Result<Task, RpcError>>;
    /// The caller's task `id`, if it exists and has not expired.
    fn get<'a>(&'a self, id: &'a str) -> LocalFuture<'a, Result<Option<Task>, RpcError>>;
    /// Answers pending input requests; `Ok(false)` for an unknown task.
    fn update<'a>(&'a self, id: &'a str, responses: &'a Map<String, Value>) -> LocalFuture<'a, Result<bool, RpcError>>;
    /// Cancels a task not yet finished: its status before, and the task now; `None` for an
    /// unknown task.
    fn cancel<'a>(&'a self, id: &'a str) -> LocalFuture<'a, Result<Option<(Status, Task)>, RpcError>>;
    /// Every live task of the caller, in no particular order.
    fn list(&self) -> LocalFuture<'_, Result<Vec<Task>, RpcError>>;
    /// The task once it is no longer `working` (finished, or waiting for input); `None` once it
    /// is unknown or expired. The edge polls; `tasks/result` blocks on it.
    fn settled<'a>(&'a self, id: &'a str) -> LocalFuture<'a, Result<Option<Task>, RpcError>>;
}

/// Whether this request's client takes tasks (per request, in `_meta`).
pub fn client_takes_tasks(ctx: &ToolContext<'_>) -> bool {
    ctx.client_capabilities.and_then(|c| c.get("extensions")?.get(EXTENSION)).is_some_and(Value::is_object)
}

/// -32021 naming the extension.
pub fn missing_extension(what: &str) -> RpcError {
    RpcError::new(MISSING_REQUIRED_CLIENT_CAPABILITY, format!("{what} needs the {EXTENSION} extension"))
        .with_data(json!({ "requiredCapabilities": { "extensions": { EXTENSION: {} } } }))
}

#[cfg(feature = "tasks")]
fn unknown(id: &str) -> RpcError {
    RpcError::invalid_params(format!("unknown task: {id}")).with_data(json!({ "taskId": id }))
}

pub(super) fn task_id(params: &Map<String, Value>) -> Result<&str, RpcError> {
    params.get("taskId").and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("taskId must be a string"))
}

#[cfg(feature = "tasks")]
fn store<'c>(ctx: &ToolContext<'c>, method: &str) -> Result<&'c dyn TaskStore, RpcError> {
    match ctx.tasks {
        Some(store) if client_takes_tasks(ctx) => Ok(store),
        _ => Err(no_store(ctx, method)),
    }
}

/// Why `method` finds no task store: the client did not declare the extension, or none is kept.
pub(super) fn no_store(ctx: &ToolContext<'_>, method: &str) -> RpcError {
    if !client_takes_tasks(ctx) {
        return missing_extension(method);
    }
    RpcError::new(super::jsonrpc::METHOD_NOT_FOUND, format!("{method}: no task store here"))
}

/// Without the `tasks` feature no store is kept: what `handle` answers without one. (Variants,
/// not the `None` store the edge passes: the code after an `.await` stays in the bundle where it
/// cannot run.)
#[cfg(not(feature = "tasks"))]
pub async fn handle(ctx: &ToolContext<'_>, method: &str, _: &Map<String, Value>) -> Result<Value, RpcError> {
    Err(no_store(ctx, method))
}

/// `tasks/get`, `tasks/update`, `tasks/cancel`.
#[cfg(feature = "tasks")]
pub async fn handle(ctx: &ToolContext<'_>, method: &str, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let store = store(ctx, method)?;
    let id = task_id(params)?;
    let found = match method {
        "tasks/get" => return store.get(id).await?.map(|t| t.detailed()).ok_or_else(|| unknown(id)),
        "tasks/update" => {
            let responses = params
                .get("inputResponses")
                .and_then(Value::as_object)
                .ok_or_else(|| RpcError::invalid_params("inputResponses must be an object"))?;
            store.update(id, responses).await?
        }
        _ => store.cancel(id).await?.is_some(),
    };
    if !found {
        return Err(unknown(id));
    }
    Ok(json!({ "resultType": "complete" }))
}

/// Whether this call becomes a task: a task-supporting tool and a client that takes tasks
/// (2026-07-28); -32021 for a tool that runs only as a task. A tool that asks first answers its
/// asking rounds in the request and becomes a task with the round that brings the answers.
pub fn as_task(ctx: &ToolContext<'_>, tool: &ToolInfo, params: &Map<String, Value>) -> Result<bool, RpcError> {
    let support = tool.task_support;
    if ctx.task_ticket.is_some() {
        return Ok(false);
    }
    if ctx.protocol_version.era() == Era::Handshake {
        return tasks_2025::as_task(ctx, tool, params);
    }
    if support == TaskSupport::Forbidden {
        return Ok(false);
    }
    match (client_takes_tasks(ctx), support) {
        (false, TaskSupport::Required) => Err(missing_extension("this tool")),
        (false, _) => Ok(false),
        (true, _) => Ok(!tool.asks_client || params.contains_key("inputResponses")),
    }
}

/// Without the `tasks` feature: what `create` answers without a store.
#[cfg(not(feature = "tasks"))]
pub async fn create(
    _: &ToolContext<'_>,
    _: &ToolInfo,
    _: &Map<String, Value>,
    _: Option<Value>,
) -> Result<Value, RpcError> {
    Err(not_kept())
}

/// A new task for this `tools/call`, stored before the answer with `ticket`, what its gate's
/// admission took (so it is charged once, at its creation). A task that cannot be stored is an
/// error: the gate gives back what the ticket took.
#[cfg(feature = "tasks")]
pub async fn create(
    ctx: &ToolContext<'_>,
    _tool: &ToolInfo,
    params: &Map<String, Value>,
    ticket: Option<Value>,
) -> Result<Value, RpcError> {
    let Some(store) = ctx.tasks else {
        return Err(not_kept());
    };
    let task = Task { admission: ticket, ..to_store(ctx, params) };
    match store.create(task).await? {
        task if ctx.protocol_version.era() == Era::Handshake => Ok(tasks_2025::created(&task)),
        task => Ok(task.created()),
    }
}

/// What a task answers where none is kept.
fn not_kept() -> RpcError {
    RpcError::new(super::jsonrpc::INTERNAL_ERROR, "tasks are not kept here")
}

/// The task for this `tools/call`, as it is stored: the call without `_meta` and `task`, the
/// request's version and declared capabilities, the caller, and its lifetime (a 2025-11-25
/// client may ask for a shorter one; the extension has no such field).
pub(super) fn to_store(ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Task {
    let mut call = params.clone();
    call.remove("_meta");
    call.remove("task");
    let capabilities = ctx.client_capabilities.cloned().unwrap_or(Value::Null);
    let mut task = Task::new(call, ctx.protocol_version.as_str(), capabilities, ctx.principal.clone());
    if ctx.protocol_version.era() == Era::Handshake {
        task.ttl_ms = tasks_2025::requested_ttl(params).map_or(TTL_MS, |ms| ms.clamp(1000, TTL_MS));
    }
    task
}

/// One run of a task: its `tools/call` through the same dispatch (admission, billing) as a
/// direct call, with the answers gathered so far.
pub async fn run(server: &Server<'_>, caller: &Caller<'_>, task: &Task) -> Result<Value, DispatchError> {
    let Some(version) = ProtocolVersion::parse(&task.version) else {
        return Err(DispatchError::Rpc(RpcError::invalid_params("the task's protocol version is not served")));
    };
    let params = task.params();
    let mut meta = Map::new();
    meta.insert(META_CAPABILITIES.into(), task.capabilities.clone());
    // A handshake-era task's client declared its capabilities at `initialize`, as a session does.
    let caller = Caller { session_capabilities: Some(&task.capabilities), ..*caller };
    let ctx = transport::context(server.info, &caller, "tools/call", version, &params, Some(&meta), None);
    let mut outcome = server.dispatch(&ctx, super::method::Method::ToolsCall, &params).await;
    if let (Ok(result), Era::Stateless) = (&mut outcome, version.era()) {
        stateless::decorate(server, "tools/call", result);
    }
    outcome
}
