//! What the protocol core's native tests share: a runner for futures that never wait on real
//! I/O, an HTTP request, a server description and a caller who pays nothing.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use super::server::ServerInfo;
use super::transport::{Caller, HttpRequest};
use mkit_auth::Principal;

/// Drives a future that never waits on real I/O (the tools and stores under test do not).
#[cfg_attr(not(feature = "tasks"), allow(dead_code))]
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Headers (looked up case-insensitively) and a body.
pub struct Req(pub Vec<(&'static str, String)>, pub Vec<u8>);

impl HttpRequest for Req {
    fn header(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

pub const INFO: ServerInfo =
    ServerInfo { name: "t", title: "T", version: "1", description: "d", website_url: None, instructions: "" };

/// A caller with nothing but a principal who pays for nothing: no bindings, session or store.
pub fn plain_caller(principal: &Principal) -> Caller<'_> {
    Caller {
        principal,
        gate: None,
        platform: None,
        sealing: None,
        session_capabilities: None,
        hub: None,
        held: false,
        tasks: None,
        task_ticket: None,
    }
}

/// A caller on the 2026-07-28 wire with a task store and no session: a request's, or (with
/// `ticket`) a task's own run.
#[cfg_attr(not(feature = "tasks"), allow(dead_code))]
pub fn task_caller<'a>(
    principal: &'a Principal,
    gate: Option<&'a dyn super::gate::Gate>,
    tasks: &'a dyn super::tasks::TaskStore,
    ticket: Option<&'a serde_json::Value>,
) -> Caller<'a> {
    Caller { gate, tasks: Some(tasks), task_ticket: ticket, ..plain_caller(principal) }
}

#[cfg(feature = "tasks")]
mod store {
    use serde_json::{json, Map, Value};
    use std::cell::RefCell;

    use crate::context::LocalFuture;
    use crate::jsonrpc::RpcError;
    use crate::server::DispatchError;
    use crate::tasks::{Status, Task, TaskStore};

    /// The outcome of a task's run, for `Store::settled`.
    pub type Runner = Box<dyn Fn(&Task) -> Result<Value, DispatchError>>;

    /// The caller's tasks in memory; `settled` runs a working task with the runner.
    #[derive(Default)]
    pub struct Store(pub RefCell<Vec<Task>>, pub Option<Runner>);

    impl TaskStore for Store {
        fn create(&self, mut task: Task) -> LocalFuture<'_, Result<Task, RpcError>> {
            task.id = format!("t{}", self.0.borrow().len() + 1);
            self.0.borrow_mut().push(task.clone());
            Box::pin(async { Ok(task) })
        }
        fn get<'a>(&'a self, id: &'a str) -> LocalFuture<'a, Result<Option<Task>, RpcError>> {
            let found = self.0.borrow().iter().find(|t| t.id == id).cloned();
            Box::pin(async { Ok(found) })
        }
        fn update<'a>(&'a self, id: &'a str, r: &'a Map<String, Value>) -> LocalFuture<'a, Result<bool, RpcError>> {
            let found = self.0.borrow_mut().iter_mut().find(|t| t.id == id).map(|t| t.answer(r, 1).is_ok());
            Box::pin(async move { Ok(found.is_some()) })
        }
        fn cancel<'a>(&'a self, id: &'a str) -> LocalFuture<'a, Result<Option<(Status, Task)>, RpcError>> {
            let found = self.0.borrow_mut().iter_mut().find(|t| t.id == id).map(|t| {
                let was = t.status;
                t.cancel(1);
                (was, t.clone())
            });
            Box::pin(async move { Ok(found) })
        }
        fn list(&self) -> LocalFuture<'_, Result<Vec<Task>, RpcError>> {
            let all = self.0.borrow().clone();
            Box::pin(async { Ok(all) })
        }
        /// A task still working is run here, as the edge's alarm would.
        fn settled<'a>(&'a self, id: &'a str) -> LocalFuture<'a, Result<Option<Task>, RpcError>> {
            Box::pin(async move {
                let working = self.0.borrow().iter().find(|t| t.id == id).cloned();
                if let Some(t) = working.filter(|t| t.status == Status::Working) {
                    let outcome = self.1.as_ref().map_or_else(|| Ok(json!({ "content": [] })), |run| run(&t));
                    if let Some(stored) = self.0.borrow_mut().iter_mut().find(|s| s.id == id) {
                        stored.settle(outcome, 2);
                    }
                }
                Ok(self.0.borrow().iter().find(|t| t.id == id).cloned())
            })
        }
    }
}
#[cfg(feature = "tasks")]
pub use store::{Runner, Store};
