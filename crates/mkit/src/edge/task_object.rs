//! `McpTasks`: one Durable Object per caller holding that caller's tasks (`mcp::tasks`); the
//! protocol core reaches it through `task_store::TaskObject`.
//!
//! A task is written to the object's storage before `tools/call` answers, and its run starts
//! from the object's alarm, not from the request: an alarm outlives the request and is kept
//! across restarts. The alarm starts each waiting run and returns, so a caller's tasks run side
//! by side; while any task works it sets the next alarm 15 s on as a watchdog, which starts
//! again a run that an isolate restart cut off (`MAX_ATTEMPTS` runs a round at most; a task failed
//! by that cap gives back what its creation took, as a cancelled one does). A run that finishes
//! records its outcome unless the task was cancelled meanwhile. Storage: the object's
//! SQLite-backed storage, one JSON value per task, deleted once its `ttlMs` has passed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{select, Either};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{
    durable_object, wasm_bindgen_futures, DurableObject, Env, ListOptions, Request, Response, Result, State, Storage,
};

use super::isolate::Isolate;
use super::object_storage::{get_json, put_json};
use crate::mcp::jsonrpc::RpcError;
use crate::mcp::tasks::{self, Status, Task};
use crate::mcp::transport::Caller;
use crate::mcp::Server;
use crate::paywall::Gatekeeper;

/// A run still going after this is presumed cut off and started again.
const WATCHDOG: Duration = Duration::from_secs(15);
use super::task_store::MAX_WORKING;
/// Tasks kept per caller, working or finished: past it the oldest finished one is forgotten.
pub const MAX_KEPT: usize = 128;

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

#[durable_object]
pub struct McpTasks {
    runs: Rc<Runs>,
}

/// What a run needs of its object, owned, so each run goes on by itself after the alarm that
/// started it returns (a caller's tasks run side by side, not one after another).
struct Runs {
    storage: Storage,
    env: Env,
    /// The isolate's composition root: the seller's registry and the configuration.
    isolate: Rc<Isolate>,
    /// Runs in progress in this instance: dropping the sender cancels nothing, sending does.
    running: RefCell<HashMap<String, oneshot::Sender<()>>>,
}

#[derive(Deserialize, Default)]
struct Op {
    #[serde(default)]
    id: String,
    #[serde(default)]
    task: Option<Task>,
    #[serde(default)]
    responses: Map<String, Value>,
}

impl DurableObject for McpTasks {
    fn new(state: State, env: Env) -> Self {
        McpTasks {
            runs: Rc::new(Runs {
                storage: state.storage(),
                env,
                isolate: super::isolate::current(),
                running: RefCell::default(),
            }),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: Op = req.json().await.unwrap_or_default();
        let now = now_ms();
        match (req.path().as_str(), op.task) {
            ("/create", Some(task)) => {
                let working =
                    self.runs.all().await.iter().filter(|t| t.status == Status::Working && !t.expired(now)).count();
                if working >= MAX_WORKING {
                    return Response::error("too many tasks working", 429);
                }
                self.runs.forget_oldest_finished(now).await;
                self.runs.put(&task).await?;
                self.runs.storage.set_alarm(Duration::from_millis(0)).await?;
                return Response::empty();
            }
            ("/list", _) => {
                return Response::from_json(
                    &self.runs.all().await.into_iter().filter(|t| !t.expired(now)).collect::<Vec<_>>(),
                )
            }
            _ => {}
        }
        let Some(mut task) = self.runs.get(&op.id, now).await else { return Response::error("no such task", 404) };
        match req.path().as_str() {
            "/get" => Response::from_json(&task),
            "/update" => {
                if task.answer(&op.responses, now).unwrap_or(false) {
                    self.runs.put(&task).await?;
                    self.runs.storage.set_alarm(Duration::from_millis(0)).await?;
                } else {
                    self.runs.put(&task).await?;
                }
                Response::empty()
            }
            "/cancel" => {
                let was = task.status;
                if was.terminal() {
                    return Response::from_json(&json!({ "was": was, "task": task }));
                }
                task.cancel(now);
                self.runs.put(&task).await?;
                if let Some(stop) = self.runs.running.borrow_mut().remove(&task.id) {
                    let _ = stop.send(());
                }
                self.runs.give_back(&task).await;
                Response::from_json(&json!({ "was": was, "task": task }))
            }
            _ => Response::error("unknown operation", 400),
        }
    }

    /// Starts each working task not running here, and sets the watchdog while any works.
    async fn alarm(&self) -> Result<Response> {
        let now = now_ms();
        let mut working = false;
        for task in self.runs.all().await {
            if task.expired(now) {
                let _ = self.runs.storage.delete(&key(&task.id)).await;
            } else if task.status == Status::Working {
                working = true;
                if !self.runs.running.borrow().contains_key(&task.id) {
                    let runs = self.runs.clone();
                    wasm_bindgen_futures::spawn_local(async move { runs.run(task).await });
                }
            }
        }
        if working {
            self.runs.storage.set_alarm(WATCHDOG).await?;
        }
        Response::empty()
    }
}

impl Runs {
    async fn put(&self, task: &Task) -> Result<()> {
        put_json(&self.storage, &key(&task.id), task).await
    }

    async fn get(&self, id: &str, now: u64) -> Option<Task> {
        get_json::<Task>(&self.storage, &key(id)).await.filter(|t| !t.expired(now))
    }

    /// Makes room for one more task under `MAX_KEPT`: finished tasks (their results) go oldest
    /// first before their hour is up. Working ones are at most `MAX_WORKING`, so never touched.
    async fn forget_oldest_finished(&self, now: u64) {
        let mut finished: Vec<(u64, String)> = Vec::new();
        let mut kept: usize = 0;
        for t in self.all().await {
            if t.expired(now) {
                let _ = self.storage.delete(&key(&t.id)).await;
                continue;
            }
            kept += 1;
            if t.status != Status::Working {
                finished.push((t.updated_ms, t.id));
            }
        }
        finished.sort();
        for (_, id) in finished.into_iter().take((kept + 1).saturating_sub(MAX_KEPT)) {
            let _ = self.storage.delete(&key(&id)).await;
        }
    }

    async fn all(&self) -> Vec<Task> {
        let Ok(map) = self.storage.list_with_options(ListOptions::new().prefix("t:")).await else {
            return Vec::new();
        };
        map.values().into_iter().flatten().filter_map(|v| serde_json::from_str(&v.as_string()?).ok()).collect()
    }

    /// One run of a task: started, then settled with its outcome unless cancelled meanwhile. A
    /// round whose runs were cut off `MAX_ATTEMPTS` times fails the task, and what its creation
    /// took goes back (input rounds are not counted: `Task::start_run`).
    async fn run(&self, mut task: Task) {
        if !task.start_run() {
            // As stored now: a task that ended meanwhile (a cancel gives back itself) is left be.
            let Some(mut current) = self.get(&task.id, now_ms()).await.filter(|t| !t.status.terminal()) else {
                return;
            };
            current.give_up(now_ms());
            if self.put(&current).await.is_ok() {
                self.give_back(&current).await;
            }
            return;
        }
        if self.put(&task).await.is_err() {
            return;
        }
        let (stop, stopped) = oneshot::channel();
        self.running.borrow_mut().insert(task.id.clone(), stop);
        let outcome = select(Box::pin(self.execute(&task)), stopped).await;
        self.running.borrow_mut().remove(&task.id);
        let Some(mut current) = self.get(&task.id, now_ms()).await else { return };
        if let Either::Left((outcome, _)) = outcome {
            current.attempts = task.attempts;
            current.settle(outcome, now_ms());
            let _ = self.put(&current).await;
        }
    }

    /// A cancelled task's run never settles, nor does one failed by the attempt cap: what its
    /// creation took goes back, a free call to the window it was taken from (`Admission`).
    async fn give_back(&self, task: &Task) {
        let (Some(ticket), Ok(config)) = (&task.admission, self.isolate.config(&self.env)) else { return };
        let Some(admission) = crate::paywall::admission::from_ticket(ticket) else { return };
        let name = task.call.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(info) = self.isolate.registry.find_tool(name).map(|t| t.info.clone()) else { return };
        let (env, iso, sub, now_secs) = (&self.env, &self.isolate, &task.principal.sub, now_ms() / 1000);
        let paywall = super::caller::paywall(env, iso, &config, sub, &task.base_url, now_secs);
        crate::paywall::admission::give_back(&paywall, &info, &admission).await;
    }

    /// The task's `tools/call`, through the same dispatch and paywall as a direct call.
    async fn execute(&self, task: &Task) -> std::result::Result<Value, crate::mcp::server::DispatchError> {
        let config = self.isolate.config(&self.env).map_err(|_| {
            RpcError::new(crate::mcp::jsonrpc::INTERNAL_ERROR, "the deployment's configuration is invalid")
        })?;
        let now_secs = now_ms() / 1000;
        let iso = &self.isolate;
        let server = Server {
            registry: &iso.registry,
            info: iso.info,
            page_size: 50,
            extensions: super::caller::extensions(&config),
        };
        let paywall = super::caller::paywall(&self.env, iso, &config, &task.principal.sub, &task.base_url, now_secs);
        let sealing = super::caller::sealing(&config, now_secs);
        let hub = super::sessions::Hub::for_caller(&self.env, &config.oauth_issuer, &task.principal.sub);
        let ticket = task.admission.clone().unwrap_or(Value::Null);
        let gate = Gatekeeper { access: &paywall, machine: None };
        let platform = super::platform::WorkersPlatform { env: &self.env };
        let caller = Caller {
            principal: &task.principal,
            gate: Some(&gate),
            platform: Some(&platform),
            sealing: Some(&sealing),
            session_capabilities: None,
            hub: hub.as_ref().map(|h| h as &dyn crate::mcp::session::SessionHub),
            held: false,
            tasks: None,
            task_ticket: Some(&ticket),
        };
        tasks::run(&server, &caller, task).await
    }
}

fn key(id: &str) -> String {
    format!("t:{id}")
}
