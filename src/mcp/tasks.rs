//! Tasks: the 2026-07-28 Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663). A client
//! that declares the extension gets a task for a `tools/call` of a task-supporting tool: the call
//! is stored before the answer (`CreateTaskResult`), runs elsewhere (the edge's per-caller
//! Durable Object, from an alarm), and is polled with `tasks/get`, which inlines the result.
//! A task that needs input parks as `input_required`; `tasks/update` answers it. The store is
//! per caller, so nobody else can see, answer or cancel a task.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::context::{LocalFuture, ToolContext};
use super::jsonrpc::{RpcError, MISSING_REQUIRED_CLIENT_CAPABILITY};
use super::server::{DispatchError, Server};
use super::stateless::{self, META_CAPABILITIES};
use super::transport::{self, Caller};
use super::version::ProtocolVersion;
use crate::auth::Principal;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub fn terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// One task as stored: what to run, for whom, and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub status: Status,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub ttl_ms: u64,
    /// The call: `tools/call` params without `_meta`, and the request's protocol version and
    /// declared capabilities.
    pub call: Map<String, Value>,
    pub version: String,
    pub capabilities: Value,
    pub principal: Principal,
    /// The deployment's own origin, for pay links a result may carry.
    pub base_url: String,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
    /// Pending input requests (`input_required`), the answers given so far, and the tool's state.
    #[serde(default)]
    pub input_requests: Map<String, Value>,
    #[serde(default)]
    pub input_responses: Map<String, Value>,
    #[serde(default)]
    pub request_state: Option<String>,
    /// Runs started: a run cut off (an isolate restart) is started again, a few times.
    #[serde(default)]
    pub attempts: u32,
}

/// Runs a task may start before it fails.
pub const MAX_ATTEMPTS: u32 = 3;

impl Task {
    /// `CreateTaskResult`: flat, without result, error or input requests.
    pub fn created(&self) -> Value {
        let mut v = self.envelope();
        v["resultType"] = "task".into();
        v
    }

    /// `tasks/get`'s `DetailedTask`: the envelope with the result, error or pending requests.
    pub fn detailed(&self) -> Value {
        let mut v = self.envelope();
        v["resultType"] = "complete".into();
        match self.status {
            Status::Completed => v["result"] = self.result.clone().unwrap_or(Value::Null),
            Status::Failed => v["error"] = self.error.clone().unwrap_or(Value::Null),
            Status::InputRequired => v["inputRequests"] = Value::Object(self.input_requests.clone()),
            Status::Working | Status::Cancelled => {}
        }
        v
    }

    fn envelope(&self) -> Value {
        json!({ "taskId": self.id, "status": self.status, "createdAt": iso8601(self.created_ms),
            "lastUpdatedAt": iso8601(self.updated_ms), "ttlMs": self.ttl_ms, "pollIntervalMs": POLL_INTERVAL_MS })
    }

    /// Records a run's outcome, unless the task was cancelled meanwhile.
    pub fn settle(&mut self, outcome: Result<Value, DispatchError>, now_ms: u64) {
        if self.status.terminal() {
            return;
        }
        self.updated_ms = now_ms;
        match outcome {
            Ok(r) if r.get("resultType").and_then(Value::as_str) == Some("input_required") => {
                self.status = Status::InputRequired;
                self.input_requests = r.get("inputRequests").and_then(Value::as_object).cloned().unwrap_or_default();
                self.request_state = r.get("requestState").and_then(Value::as_str).map(str::to_owned);
                self.input_responses.clear();
            }
            Ok(mut r) => {
                if let Some(meta) = r.get_mut("_meta").and_then(Value::as_object_mut) {
                    meta.remove("io.modelcontextprotocol/related-task");
                }
                self.status = Status::Completed;
                self.result = Some(r);
            }
            Err(DispatchError::Rpc(e)) => self.fail(&e),
            Err(DispatchError::Forbidden { scopes }) => self
                .fail(&RpcError::new(super::jsonrpc::INVALID_REQUEST, format!("needs scopes: {}", scopes.join(" ")))),
        }
    }

    pub fn fail(&mut self, e: &RpcError) {
        self.status = Status::Failed;
        self.error = Some(json!({ "code": e.code, "message": e.message, "data": e.data }));
    }

    /// `tasks/update`: answers to pending requests. `true` when none is left, so the task runs
    /// again with all the answers.
    pub fn answer(&mut self, responses: &Map<String, Value>, now_ms: u64) -> Result<bool, RpcError> {
        if self.status != Status::InputRequired {
            return Ok(false);
        }
        for (key, answer) in responses {
            if self.input_requests.remove(key).is_some() {
                self.input_responses.insert(key.clone(), answer.clone());
            }
        }
        self.updated_ms = now_ms;
        if self.input_requests.is_empty() {
            self.status = Status::Working;
            return Ok(true);
        }
        Ok(false)
    }

    /// `tasks/cancel`: a task not yet finished is cancelled; a finished one stays as it is.
    pub fn cancel(&mut self, now_ms: u64) {
        if !self.status.terminal() {
            self.status = Status::Cancelled;
            self.updated_ms = now_ms;
        }
    }

    pub fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.created_ms.saturating_add(self.ttl_ms)
    }

    /// The `tools/call` params of the next run: the call, with the answers and state gathered.
    pub fn params(&self) -> Map<String, Value> {
        let mut p = self.call.clone();
        if !self.input_responses.is_empty() {
            p.insert("inputResponses".into(), Value::Object(self.input_responses.clone()));
        }
        if let Some(s) = &self.request_state {
            p.insert("requestState".into(), s.clone().into());
        }
        p
    }
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
    /// Cancels; `Ok(false)` for an unknown task.
    fn cancel<'a>(&'a self, id: &'a str) -> LocalFuture<'a, Result<bool, RpcError>>;
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

fn unknown(id: &str) -> RpcError {
    RpcError::invalid_params(format!("unknown task: {id}")).with_data(json!({ "taskId": id }))
}

fn task_id(params: &Map<String, Value>) -> Result<&str, RpcError> {
    params.get("taskId").and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("taskId must be a string"))
}

fn store<'c>(ctx: &ToolContext<'c>, method: &str) -> Result<&'c dyn TaskStore, RpcError> {
    if !client_takes_tasks(ctx) {
        return Err(missing_extension(method));
    }
    ctx.tasks.ok_or_else(|| RpcError::new(super::jsonrpc::METHOD_NOT_FOUND, format!("{method}: no task store here")))
}

/// `tasks/get`, `tasks/update`, `tasks/cancel`.
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
        _ => store.cancel(id).await?,
    };
    if !found {
        return Err(unknown(id));
    }
    Ok(json!({ "resultType": "complete" }))
}

/// A new task for this `tools/call`, stored before the answer.
pub async fn create(ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let store = ctx.tasks.ok_or_else(|| missing_extension("tools/call"))?;
    let mut call = params.clone();
    call.remove("_meta");
    call.remove("task");
    let task = Task {
        id: String::new(),
        status: Status::Working,
        created_ms: 0,
        updated_ms: 0,
        ttl_ms: TTL_MS,
        call,
        version: ctx.protocol_version.as_str().to_owned(),
        capabilities: ctx.client_capabilities.cloned().unwrap_or(Value::Null),
        principal: ctx.principal.clone(),
        base_url: String::new(),
        result: None,
        error: None,
        input_requests: Map::new(),
        input_responses: Map::new(),
        request_state: None,
        attempts: 0,
    };
    Ok(store.create(task).await?.created())
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
    let ctx = transport::context(caller, "tools/call", version, &params, Some(&meta), None);
    let mut outcome = server.dispatch(&ctx, "tools/call", &params).await;
    if let Ok(result) = &mut outcome {
        stateless::decorate(server, "tools/call", result);
    }
    outcome
}

/// RFC 3339 UTC with milliseconds, from Unix milliseconds (civil-from-days, no date crate).
pub fn iso8601(ms: u64) -> String {
    let (secs, millis) = (ms / 1000, ms % 1000);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}
