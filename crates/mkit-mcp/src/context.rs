//! What a tool, resource or prompt handler is given about the request.

use serde_json::{json, Value};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use super::gate::Gate;
use super::jsonrpc::{RpcError, INTERNAL_ERROR};
use super::mrtr::{self, Binding, Sealing};
use super::platform::Platform;
use super::server::ServerInfo;
use super::session::SessionHub;
use super::tool::ToolError;
use super::version::ProtocolVersion;
use mkit_auth::Principal;

pub use super::log_level::LogLevel;

/// A boxed future that stays on its isolate (Workers futures are not `Send`).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a tool, resource or prompt handler is given about the request.
pub struct ToolContext<'a> {
    /// The server answering: the seller's `serverInfo`.
    pub server: &'a ServerInfo,
    /// The protocol version this request speaks.
    pub protocol_version: ProtocolVersion,
    /// The authenticated caller: `/mcp` never runs a tool without one.
    pub principal: &'a Principal,
    /// What decides whether a `tools/call` runs (`mcp::gate`); `None`: every ungated tool runs.
    pub(crate) gate: Option<&'a dyn Gate>,
    /// The keys and clock `seal_state`/`open_state` use; `None` where no secret is configured.
    pub(crate) sealing: Option<&'a Sealing>,
    /// The tool being called (`tools/call`), which a sealed state is bound to.
    pub(crate) tool: Option<&'a str>,
    /// The platform's database and clock (`ToolContext::platform`); `None` where there is none.
    pub platform: Option<&'a dyn Platform>,
    /// The client's declared capabilities: 2026-07-28's `_meta`; in the handshake era what its
    /// session id carries (`mcp::session`), else `None`.
    pub client_capabilities: Option<&'a Value>,
    /// The caller's held sessions (`mcp::session::SessionHub`), on a deployment that holds them;
    /// `held` says whether this request arrived on one (handshake era).
    #[cfg_attr(not(feature = "sessions"), allow(dead_code))]
    pub(crate) hub: Option<&'a dyn SessionHub>,
    pub(crate) held: bool,
    /// The caller's tasks (`mcp::tasks`); for a task's own run, the ticket its creation's gate
    /// kept (`Value::Null` for none).
    pub(crate) tasks: Option<&'a dyn super::tasks::TaskStore>,
    pub(crate) task_ticket: Option<&'a Value>,
    /// 2026-07-28 multi-round requests: the client's answers and the state we handed out.
    pub input_responses: Option<&'a Value>,
    /// The `requestState` the client sent back, still sealed (`ToolContext::open_state` opens it).
    pub request_state: Option<&'a str>,
    /// `_meta.progressToken` of the request, if the client wants progress.
    pub progress_token: Option<&'a Value>,
    /// The least severe level the client wants as `notifications/message`; `None`: no logs.
    pub log_level: Option<LogLevel>,
    /// Notifications emitted while handling the request, sent before the response when the
    /// client accepts an event stream.
    pub(crate) notifications: RefCell<Vec<Value>>,
    /// The paid-tool gate's decision, for the request log.
    pub(crate) billing: std::cell::Cell<Option<&'static str>>,
}

impl<'a> ToolContext<'a> {
    /// The platform's database and clock; an error result where the tool runs without them.
    ///
    /// ```
    /// use mkit_kernel::sql::{SqlValue, Statement}; // `mkit::sql` in a seller's crate
    /// use mkit_mcp::{ToolContext, ToolError}; // `mkit::mcp`
    ///
    /// /// The caller's latest note (the template's `notes` table).
    /// async fn latest(ctx: &ToolContext<'_>) -> Result<Option<String>, ToolError> {
    ///     let owner = SqlValue::Text(ctx.principal.sub.clone());
    ///     let query = Statement { sql: "SELECT text FROM notes WHERE owner = ?1 ORDER BY id DESC LIMIT 1", params: vec![owner] };
    ///     let rows = ctx.platform()?.query(query).await?;
    ///     Ok(rows.first().and_then(|r| r["text"].as_str()).map(str::to_owned))
    /// }
    /// ```
    pub fn platform(&self) -> Result<&'a dyn Platform, ToolError> {
        self.platform
            .ok_or_else(|| ToolError::new("this tool needs the platform's database, which is not available here"))
    }
}

impl ToolContext<'_> {
    /// What the caller's gate knows of them (the kit's paywall: entitlements, quotas, credits),
    /// as a value of the gate's own type; `None` where no gate is set.
    pub async fn account(&self) -> Result<Option<Box<dyn std::any::Any>>, ToolError> {
        match self.gate {
            Some(gate) => gate.account(self).await.map(Some),
            None => Ok(None),
        }
    }

    /// For a task's own run, the ticket its creation's gate kept (what the admission took).
    pub fn task_ticket(&self) -> Option<&Value> {
        self.task_ticket
    }

    /// Names the gate's decision in the request log (e.g. `granted`, `payment_required`).
    pub fn note_billing(&self, decision: &'static str) {
        self.billing.set(Some(decision));
    }

    /// Tells the caller's sessions subscribed to `uri` that it changed
    /// (`notifications/resources/updated`). Nothing happens on a deployment without sessions.
    pub async fn resource_updated(&self, uri: &str) {
        #[cfg(feature = "sessions")]
        if let Some(hub) = self.hub {
            hub.resource_updated(uri).await;
        }
        #[cfg(not(feature = "sessions"))]
        let _ = uri;
    }

    /// Whether the client takes URL-mode elicitations (`capabilities.elicitation.url`).
    pub fn client_takes_url_elicitation(&self) -> bool {
        self.client_capabilities.and_then(|c| c.get("elicitation")?.get("url")).is_some_and(Value::is_object)
    }

    /// Seals `payload` as this call's 2026-07-28 `requestState`: only this caller, calling this
    /// tool, within `mrtr::STATE_TTL_SECS`, can hand it back.
    pub fn seal_state(&self, payload: &Value) -> Result<String, RpcError> {
        let (sealing, binding) = self.sealing_binding()?;
        let key = sealing.keys.first().ok_or_else(no_secret)?;
        Ok(mrtr::seal(key, &binding, payload, sealing.now_secs))
    }

    /// The payload of the `requestState` the client sent back, checked; `None` when it sent none.
    pub fn open_state(&self) -> Result<Option<Value>, RpcError> {
        let Some(state) = self.request_state else { return Ok(None) };
        let (sealing, binding) = self.sealing_binding()?;
        mrtr::open(&sealing.keys, &binding, state, sealing.now_secs).map(Some)
    }

    fn sealing_binding(&self) -> Result<(&Sealing, Binding<'_>), RpcError> {
        let sealing = self.sealing.ok_or_else(no_secret)?;
        let binding = Binding { issuer: &sealing.issuer, subject: &self.principal.sub, tool: self.tool.unwrap_or("") };
        Ok((sealing, binding))
    }

    /// Reports progress if the client asked for it (`notifications/progress`).
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = self.progress_token else { return };
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Some(t) = total {
            params["total"] = t.into();
        }
        if let Some(m) = message {
            params["message"] = m.into();
        }
        self.notify("notifications/progress", params);
    }

    /// Sends a log message to the client if it wants that level (`notifications/message`).
    pub fn log(&self, level: LogLevel, logger: &str, data: Value) {
        if self.log_level.is_none_or(|min| level < min) {
            return;
        }
        self.notify("notifications/message", json!({ "level": level.as_str(), "logger": logger, "data": data }));
    }

    fn notify(&self, method: &str, params: Value) {
        self.notifications.borrow_mut().push(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Whether the client declared a capability (2026-07-28 `_meta`).
    pub fn client_has(&self, capability: &str) -> bool {
        self.client_capabilities.and_then(|c| c.get(capability)).is_some_and(|c| !c.is_null())
    }
}

fn no_secret() -> RpcError {
    RpcError::new(INTERNAL_ERROR, "request state needs the deployment secret (MKIT_SECRET)")
}
