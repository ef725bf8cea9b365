//! Whether a `tools/call` runs is decided above the protocol core, which knows no price: each call
//! goes to the caller's `Gate` (the kit's paywall), which admits, refuses or takes payment for it
//! and runs it with the core's own steps (`run`, `tasks::create`, `render_outcome`). Without a
//! gate, a tool whose extensions say it is gated is refused (fail closed) and every other runs.

use serde_json::{Map, Value};
use std::any::Any;

use super::context::{LocalFuture, ToolContext};
use super::jsonrpc::RpcError;
use super::render::{render_error, render_outcome};
use super::tool::{RegisteredTool, ToolError};

/// One `tools/call`, its scopes checked.
pub struct Call<'a> {
    /// The tool called.
    pub tool: &'a RegisteredTool,
    /// Its arguments (an object).
    pub args: Value,
    /// The request's params: `name`, `arguments`, `_meta`, `task`.
    pub params: &'a Map<String, Value>,
    /// Whether the call becomes a task (`tasks::as_task`).
    pub as_task: bool,
}

/// What decides whether a call runs, and what it costs.
pub trait Gate {
    /// Answers `call`: its refusal, or its result once let through (`run` or the steps in it).
    fn call_tool<'a>(&'a self, ctx: &'a ToolContext<'a>, call: Call<'a>) -> LocalFuture<'a, Result<Value, RpcError>>;
    /// What the gate knows of the caller, as a value of the gate's own type, for the tools that
    /// show it (`whoami`), which know that type (`mkit::price::account`).
    fn account<'a>(&'a self, ctx: &'a ToolContext<'a>) -> LocalFuture<'a, Result<Box<dyn Any>, ToolError>>;
}

/// Answers `call` through the caller's gate, or, without one, runs it unless it is gated.
pub async fn dispatch(ctx: &ToolContext<'_>, call: Call<'_>) -> Result<Value, RpcError> {
    match ctx.gate {
        Some(gate) => gate.call_tool(ctx, call).await,
        None if call.tool.info.extensions.gated() => {
            let refused = ToolError::new(format!("{} is priced, and nothing here takes payment", call.tool.info.name));
            Ok(render_error(refused, ctx.protocol_version))
        }
        None => run(ctx, call, None).await,
    }
}

/// Runs a call let through: stored as a task (with `ticket`, what its admission took, for the
/// task's own run) or run now and rendered for the request's version.
pub async fn run(ctx: &ToolContext<'_>, call: Call<'_>, ticket: Option<Value>) -> Result<Value, RpcError> {
    if call.as_task {
        return super::tasks::create(ctx, &call.tool.info, call.params, ticket).await;
    }
    let outcome = call.tool.call(ctx, call.args).await;
    render_outcome(call.tool.info.name, outcome, ctx.protocol_version)
}
