//! One task as stored (`mcp::tasks`): what to run, for whom, where it stands, and how each
//! protocol message shows it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::jsonrpc::RpcError;
use super::server::DispatchError;
use super::tasks::POLL_INTERVAL_MS;
use mkit_auth::Principal;

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
    /// Runs started for the current round: a run cut off (an isolate restart) is started again,
    /// a few times. A round that ends asking for input was not cut off, so the count starts over.
    #[serde(default)]
    pub attempts: u32,
    /// What the creating request's gate kept of its admission (`mcp::gate`): each run hands it
    /// back, so the task is charged once. Opaque to the core.
    #[serde(default)]
    pub admission: Option<Value>,
}

/// Runs a task may start for one round (its first run, or the run after `input_required` is
/// answered) before it fails: the cap is on runs cut off, not on input rounds, which are bounded
/// by the task's TTL and each need the client's answer (#28 item 10).
pub const MAX_ATTEMPTS: u32 = 3;

impl Task {
    /// A task about to be stored: working, not yet run. The store gives it its id, its times
    /// and the deployment's origin.
    pub fn new(call: Map<String, Value>, version: &str, capabilities: Value, principal: Principal) -> Task {
        Task {
            id: String::new(),
            status: Status::Working,
            created_ms: 0,
            updated_ms: 0,
            ttl_ms: super::tasks::TTL_MS,
            call,
            version: version.to_owned(),
            capabilities,
            principal,
            base_url: String::new(),
            result: None,
            error: None,
            input_requests: Map::new(),
            input_responses: Map::new(),
            request_state: None,
            attempts: 0,
            admission: None,
        }
    }

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
                // The round ended as the tool meant it to: the next round's runs count afresh.
                self.attempts = 0;
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

    /// Counts a run about to start: `false` once this round's runs were cut off `MAX_ATTEMPTS`
    /// times, when the task must `give_up` instead.
    pub fn start_run(&mut self) -> bool {
        self.attempts = self.attempts.saturating_add(1);
        self.attempts <= MAX_ATTEMPTS
    }

    /// Fails a task whose runs were cut off too often. No run settled it, so what its creation
    /// took is still held: the caller's gate gives it back (`paywall::admission::give_back`).
    pub fn give_up(&mut self, now_ms: u64) {
        self.fail(&RpcError::new(super::jsonrpc::INTERNAL_ERROR, "the task's runs were cut off too often"));
        self.updated_ms = now_ms;
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

/// RFC 3339 UTC with milliseconds, from Unix milliseconds.
pub fn iso8601(ms: u64) -> String {
    mkit_kernel::time::rfc3339_millis(ms)
}
