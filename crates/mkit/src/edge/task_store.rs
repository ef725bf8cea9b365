//! `TaskObject`: the caller's `McpTasks` Durable Object (`task_object.rs`) as the protocol
//! core's `TaskStore`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Env, Stub};

use super::sessions::call_object;
#[cfg(feature = "tasks")]
use super::sessions::caller_object;
use crate::auth::Principal;
#[cfg(feature = "tasks")]
use crate::bindings::Binding;
use crate::mcp::jsonrpc::RpcError;
use crate::mcp::tasks::{Status, Task, TaskStore};
use crate::mcp::LocalFuture;

/// Tasks one caller may have working at once; a new one waits until one finishes.
pub const MAX_WORKING: usize = 16;

const DEADLINE: Duration = Duration::from_secs(10);
/// How often a blocked `tasks/result` looks at its task again: soon at first (a short task is
/// done in a few milliseconds), then every 250 ms.
const FIRST_POLL: Duration = Duration::from_millis(10);
const SETTLE_POLL: Duration = Duration::from_millis(250);

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// The caller's tasks object, as the protocol core's `TaskStore`.
pub struct TaskObject {
    stub: Stub,
    base_url: String,
    /// Without the `tasks` feature no `TaskObject` can exist, so the compiler drops its code.
    #[cfg(not(feature = "tasks"))]
    _never: std::convert::Infallible,
}

impl TaskObject {
    /// Without the `tasks` feature: never.
    #[cfg(not(feature = "tasks"))]
    pub fn for_caller(_env: &Env, _issuer: &str, _principal: &Principal, _base_url: &str) -> Option<TaskObject> {
        None
    }

    /// The caller's object, when the binding exists.
    #[cfg(feature = "tasks")]
    pub fn for_caller(env: &Env, issuer: &str, principal: &Principal, base_url: &str) -> Option<TaskObject> {
        Some(TaskObject {
            stub: caller_object(env, Binding::Tasks, issuer, &principal.sub)?,
            base_url: base_url.to_owned(),
        })
    }

    /// The object as the protocol core's `TaskStore`. Without the `tasks` feature there is none,
    /// and the compiler sees it: the trait's methods stay out of the bundle.
    pub fn as_dyn(&self) -> &dyn TaskStore {
        #[cfg(not(feature = "tasks"))]
        match self._never {}
        #[cfg(feature = "tasks")]
        self
    }

    async fn found(&self, op: &str, body: Value) -> std::result::Result<bool, RpcError> {
        Ok(call_object(&self.stub, op, &body, DEADLINE).await?.0 == 200)
    }
}

impl TaskStore for TaskObject {
    fn create(&self, mut task: Task) -> LocalFuture<'_, std::result::Result<Task, RpcError>> {
        Box::pin(async move {
            let unavailable = || RpcError::new(crate::mcp::jsonrpc::INTERNAL_ERROR, "the task could not be stored");
            task.id = super::random::random_token(16).ok_or_else(unavailable)?;
            (task.created_ms, task.updated_ms) = (now_ms(), now_ms());
            task.base_url.clone_from(&self.base_url);
            match call_object(&self.stub, "/create", &json!({ "task": task }), DEADLINE).await?.0 {
                200 => Ok(task),
                429 => Err(RpcError::new(
                    crate::mcp::jsonrpc::INVALID_REQUEST,
                    format!("{MAX_WORKING} of your tasks are working already: wait for one to finish, or cancel one"),
                )),
                _ => Err(unavailable()),
            }
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> LocalFuture<'a, std::result::Result<Option<Task>, RpcError>> {
        Box::pin(async move {
            match call_object(&self.stub, "/get", &json!({ "id": id }), DEADLINE).await? {
                (200, v) => Ok(serde_json::from_value(v).ok()),
                _ => Ok(None),
            }
        })
    }

    fn update<'a>(
        &'a self,
        id: &'a str,
        responses: &'a Map<String, Value>,
    ) -> LocalFuture<'a, std::result::Result<bool, RpcError>> {
        Box::pin(self.found("/update", json!({ "id": id, "responses": responses })))
    }

    fn cancel<'a>(&'a self, id: &'a str) -> LocalFuture<'a, std::result::Result<Option<(Status, Task)>, RpcError>> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Cancelled {
                was: Status,
                task: Task,
            }
            match call_object(&self.stub, "/cancel", &json!({ "id": id }), DEADLINE).await? {
                (200, v) => Ok(serde_json::from_value::<Cancelled>(v).ok().map(|c| (c.was, c.task))),
                _ => Ok(None),
            }
        })
    }

    fn list(&self) -> LocalFuture<'_, std::result::Result<Vec<Task>, RpcError>> {
        Box::pin(async move {
            match call_object(&self.stub, "/list", &json!({}), DEADLINE).await? {
                (200, v) => Ok(serde_json::from_value(v).unwrap_or_default()),
                _ => Err(RpcError::new(crate::mcp::jsonrpc::INTERNAL_ERROR, "the tasks could not be listed")),
            }
        })
    }

    /// Polls the object: a run's end is written to its storage from its alarm, in another
    /// request than this one.
    fn settled<'a>(&'a self, id: &'a str) -> LocalFuture<'a, std::result::Result<Option<Task>, RpcError>> {
        Box::pin(async move {
            let mut pause = FIRST_POLL;
            loop {
                match self.get(id).await? {
                    Some(t) if t.status == Status::Working => worker::Delay::from(pause).await,
                    other => return Ok(other),
                }
                pause = (pause * 2).min(SETTLE_POLL);
            }
        })
    }
}
