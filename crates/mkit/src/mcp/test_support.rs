//! What the protocol core's native tests share: a runner for futures that never wait on real
//! I/O, an HTTP request, a server description and a caller who pays nothing.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use super::server::ServerInfo;
use super::transport::{Caller, HttpRequest};
use crate::auth::Principal;

/// Drives a future that never waits on real I/O (the tools and stores under test do not).
#[cfg_attr(not(feature = "tasks"), allow(dead_code))]
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Headers (looked up case-insensitively) and a body.
pub(crate) struct Req(pub(crate) Vec<(&'static str, String)>, pub(crate) Vec<u8>);

impl HttpRequest for Req {
    fn header(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

pub(crate) const INFO: ServerInfo =
    ServerInfo { name: "t", title: "T", version: "1", description: "d", website_url: None, instructions: "" };

/// A caller with nothing but a principal who pays for nothing: no bindings, session or store.
pub(crate) fn plain_caller(principal: &Principal) -> Caller<'_> {
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
#[cfg(test)]
#[cfg_attr(not(feature = "tasks"), allow(dead_code))]
pub(crate) fn task_caller<'a>(
    principal: &'a Principal,
    gate: Option<&'a dyn super::gate::Gate>,
    tasks: &'a dyn super::tasks::TaskStore,
    ticket: Option<&'a serde_json::Value>,
) -> Caller<'a> {
    Caller { gate, tasks: Some(tasks), task_ticket: ticket, ..plain_caller(principal) }
}
