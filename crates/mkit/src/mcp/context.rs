//! What a tool, resource or prompt handler is given about the request, and the one interface
//! through which the protocol core asks about paid access.

use serde_json::{json, Value};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use super::jsonrpc::{RpcError, INTERNAL_ERROR};
use super::mrtr::{self, Binding, Sealing};
use super::platform::Platform;
use super::server::ServerInfo;
use super::session::SessionHub;
use super::tool::ToolError;
use super::version::ProtocolVersion;
use crate::auth::Principal;
use crate::quota::{FreeQuota, QuotaUsage};

pub use super::log_level::LogLevel;

/// A boxed future that stays on its isolate (Workers futures are not `Send`).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The caller's paid access, as the protocol core asks about it. The core never sees the
/// billing ledger: `crate::paywall` answers from it, tests from a fixed list.
#[allow(async_fn_in_trait)]
pub trait Entitlements {
    /// The caller's entitlement keys; an error result (fail closed) when they cannot be read now.
    async fn keys(&self) -> Result<Vec<String>, ToolError>;
    /// `Ok` when the caller holds `entitlement`; otherwise why a call of `tool` does not run.
    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), Denial>;
    /// Where the caller manages what they pay for (a billing portal), if anywhere.
    fn manage_url(&self) -> Option<String> {
        None
    }
    /// Takes one call of the caller's free quota `key`: the start (Unix seconds) of the window it
    /// was taken from when one was left, else `Denial::QuotaExceeded` (saying when it resets).
    /// Without counters, nothing is free.
    async fn take_free_call(&self, _key: &str, _quota: &FreeQuota) -> Result<i64, Denial> {
        Err(Denial::Unavailable(ToolError::new("free quotas are not counted here")))
    }
    /// Gives back a call taken for a run that failed, to the window it was taken from
    /// (`window_start`, as `take_free_call` answered): never to a later one, and not at all once
    /// that window has ended.
    async fn give_back_free_call(&self, _key: &str, _quota: &FreeQuota, _window_start: i64) {}
    /// The caller's standing on every declared free quota.
    async fn quota_usage(&self) -> Result<Vec<QuotaUsage>, ToolError> {
        Ok(Vec::new())
    }
    /// Reserves `credits` of the caller's prepaid balance for one call of `tool`: the debit's id,
    /// or `Denial::PaymentRequired` when the balance is short. Without a balance, nothing is paid.
    async fn reserve_credits(&self, _tool: &str, _credits: u32) -> Result<String, Denial> {
        Err(Denial::Unavailable(ToolError::new("credits are not kept here")))
    }
    /// After a run that succeeded: settles the debit and records the metered usage, together.
    async fn settle_call(&self, _debit: Option<&str>, _usage: Option<MeterUsage<'_>>) {}
    /// After a run that failed: the reserved credits go back.
    async fn refund_credits(&self, _debit: &str) {}
    /// The caller's prepaid balance, if credits are kept.
    async fn credit_balance(&self) -> Result<Option<i64>, ToolError> {
        Ok(None)
    }
}

/// One successful metered call: the Stripe meter's event name and the value to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterUsage<'a> {
    /// The Stripe meter's event name.
    pub event_name: &'a str,
    /// The value to report for this call.
    pub value: i64,
}

/// Why a paid tool did not run.
#[derive(Debug, Clone, PartialEq)]
pub enum Denial {
    /// The caller lacks the entitlement. `result` is the tool error every client can read;
    /// `pay` is a link to pay that proves who opens it, offered as a URL-mode elicitation to
    /// clients that declare one.
    PaymentRequired {
        /// The `payment_required` tool error.
        result: ToolError,
        /// A link to pay, for clients that take URL elicitations.
        pay: Option<PayLink>,
    },
    /// The ledger cannot be read now: fail closed.
    Unavailable(ToolError),
    /// A tool without an entitlement, past its free quota: the result says when it resets.
    QuotaExceeded(ToolError),
}

/// A pay link: the URL, and a unique id for it (2025-11-25's `elicitationId`).
#[derive(Debug, Clone, PartialEq)]
pub struct PayLink {
    /// The link the caller opens to pay.
    pub url: String,
    /// A unique id for it (the `elicitationId`).
    pub id: String,
}

/// `Entitlements` behind a reference: `async fn` in traits is not object safe, so the boxing
/// lives here once instead of in every implementation.
pub trait DynEntitlements {
    /// `Entitlements::keys`, boxed.
    fn keys_boxed(&self) -> LocalFuture<'_, Result<Vec<String>, ToolError>>;
    /// `Entitlements::require`, boxed.
    fn require_boxed<'a>(&'a self, tool: &'a str, entitlement: &'a str) -> LocalFuture<'a, Result<(), Denial>>;
    /// `Entitlements::manage_url`.
    fn manage_url_dyn(&self) -> Option<String>;
    /// `Entitlements::take_free_call`, boxed.
    fn take_free_call_boxed<'a>(&'a self, key: &'a str, quota: &'a FreeQuota) -> LocalFuture<'a, Result<i64, Denial>>;
    /// `Entitlements::give_back_free_call`, boxed.
    fn give_back_free_call_boxed<'a>(
        &'a self,
        key: &'a str,
        quota: &'a FreeQuota,
        window_start: i64,
    ) -> LocalFuture<'a, ()>;
    /// `Entitlements::quota_usage`, boxed.
    fn quota_usage_boxed(&self) -> LocalFuture<'_, Result<Vec<QuotaUsage>, ToolError>>;
    /// `Entitlements::reserve_credits`, boxed.
    fn reserve_credits_boxed<'a>(&'a self, tool: &'a str, credits: u32) -> LocalFuture<'a, Result<String, Denial>>;
    /// `Entitlements::settle_call`, boxed.
    fn settle_call_boxed<'a>(&'a self, debit: Option<&'a str>, usage: Option<MeterUsage<'a>>) -> LocalFuture<'a, ()>;
    /// `Entitlements::refund_credits`, boxed.
    fn refund_credits_boxed<'a>(&'a self, debit: &'a str) -> LocalFuture<'a, ()>;
    /// `Entitlements::credit_balance`, boxed.
    fn credit_balance_boxed(&self) -> LocalFuture<'_, Result<Option<i64>, ToolError>>;
}

impl<T: Entitlements> DynEntitlements for T {
    fn keys_boxed(&self) -> LocalFuture<'_, Result<Vec<String>, ToolError>> {
        Box::pin(self.keys())
    }
    fn require_boxed<'a>(&'a self, tool: &'a str, entitlement: &'a str) -> LocalFuture<'a, Result<(), Denial>> {
        Box::pin(self.require(tool, entitlement))
    }
    fn manage_url_dyn(&self) -> Option<String> {
        Entitlements::manage_url(self)
    }
    fn take_free_call_boxed<'a>(&'a self, key: &'a str, quota: &'a FreeQuota) -> LocalFuture<'a, Result<i64, Denial>> {
        Box::pin(self.take_free_call(key, quota))
    }
    fn give_back_free_call_boxed<'a>(
        &'a self,
        key: &'a str,
        quota: &'a FreeQuota,
        window_start: i64,
    ) -> LocalFuture<'a, ()> {
        Box::pin(self.give_back_free_call(key, quota, window_start))
    }
    fn quota_usage_boxed(&self) -> LocalFuture<'_, Result<Vec<QuotaUsage>, ToolError>> {
        Box::pin(self.quota_usage())
    }
    fn reserve_credits_boxed<'a>(&'a self, tool: &'a str, credits: u32) -> LocalFuture<'a, Result<String, Denial>> {
        Box::pin(self.reserve_credits(tool, credits))
    }
    fn settle_call_boxed<'a>(&'a self, debit: Option<&'a str>, usage: Option<MeterUsage<'a>>) -> LocalFuture<'a, ()> {
        Box::pin(self.settle_call(debit, usage))
    }
    fn refund_credits_boxed<'a>(&'a self, debit: &'a str) -> LocalFuture<'a, ()> {
        Box::pin(self.refund_credits(debit))
    }
    fn credit_balance_boxed(&self) -> LocalFuture<'_, Result<Option<i64>, ToolError>> {
        Box::pin(self.credit_balance())
    }
}

/// What a tool, resource or prompt handler is given about the request.
pub struct ToolContext<'a> {
    /// The server answering: the seller's `serverInfo`.
    pub server: &'a ServerInfo,
    /// The protocol version this request speaks.
    pub protocol_version: ProtocolVersion,
    /// The authenticated caller: `/mcp` never runs a tool without one.
    pub principal: &'a Principal,
    pub(crate) entitlements: &'a dyn DynEntitlements,
    /// Per-call machine payments (x402), where the deployment takes them.
    pub(crate) machine_pay: Option<&'a dyn super::x402::MachinePay>,
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
    /// The caller's tasks (`mcp::tasks`); for a task's own run, what its creation was admitted as.
    pub(crate) tasks: Option<&'a dyn super::tasks::TaskStore>,
    pub(crate) task_admission: Option<&'a super::admission::Admission>,
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
    /// use mkit::mcp::{ToolContext, ToolError};
    /// use mkit::sql::{SqlValue, Statement};
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
    /// The caller's entitlement keys (read from the ledger on first use, once per request).
    pub async fn entitlements(&self) -> Result<Vec<String>, ToolError> {
        self.entitlements.keys_boxed().await
    }

    /// The caller's standing on every free quota the server declares.
    pub async fn quota_usage(&self) -> Result<Vec<QuotaUsage>, ToolError> {
        self.entitlements.quota_usage_boxed().await
    }

    /// The caller's prepaid credit balance, if credits are kept.
    pub async fn credit_balance(&self) -> Result<Option<i64>, ToolError> {
        self.entitlements.credit_balance_boxed().await
    }

    /// Where the caller manages their subscription (a signed-in billing portal link), if billing
    /// is set up for it.
    pub fn manage_url(&self) -> Option<String> {
        self.entitlements.manage_url_dyn()
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

    /// What the caller has paid in machine payments (x402); `None` where the deployment takes
    /// none.
    pub async fn machine_payments(&self) -> Result<Option<super::x402::MachinePaid>, ToolError> {
        match self.machine_pay {
            Some(pay) => pay.paid().await.map(Some),
            None => Ok(None),
        }
    }

    /// Whether the client declared a capability (2026-07-28 `_meta`).
    pub fn client_has(&self, capability: &str) -> bool {
        self.client_capabilities.and_then(|c| c.get(capability)).is_some_and(|c| !c.is_null())
    }
}

fn no_secret() -> RpcError {
    RpcError::new(INTERNAL_ERROR, "request state needs the deployment secret (MKIT_SECRET)")
}
