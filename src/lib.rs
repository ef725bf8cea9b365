//! mKit: a paid, remote MCP server on Cloudflare Workers.
//!
//! Every module but `edge` is pure: it never touches the `worker` crate and is tested natively.
//! Dependencies point one way (docs/architecture.md): `auth`, `billing` and `oauth` (the optional
//! authorization server) know nothing of MCP;
//! `mcp` knows no ledger and no shipped tool; `paywall` joins `billing` to `mcp`; `tools` build on
//! `mcp`; `edge` binds everything to workers-rs.

pub mod auth;
pub mod billing;
pub mod bindings;
pub mod build_info;
pub mod config;
pub mod health;
pub mod http;
pub mod keyring;
pub mod log;
pub mod mcp;
pub mod oauth;
pub mod paylink;
pub mod paywall;
pub mod quota;
pub mod routes;
pub mod sql;
pub mod stats;
pub mod tools;
pub mod web;

mod edge;

/// The kernel's primitives, under the paths the rest of the crate has always used.
pub use mkit_kernel::{mac, seal};

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    edge::serve(req, env).await
}

/// The cron trigger (wrangler.jsonc `triggers`): housekeeping that no request should wait for.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    edge::scheduled(env).await;
}
