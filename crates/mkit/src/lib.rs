//! mKit: a paid, remote MCP server on Cloudflare Workers.
//!
//! A seller's server is a small crate depending on this one: its `serverInfo` and tools in a
//! [`Server`], and three entry points that call [`start`], [`fetch`] and [`scheduled`]:
//!
//! ```ignore
//! use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};
//!
//! static SERVER: mkit::Server = mkit::Server { info: tools::SERVER_INFO, registry: tools::registry };
//!
//! #[event(start)]
//! fn start() {
//!     mkit::start(&SERVER);
//! }
//!
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
//!     mkit::fetch(req, env).await
//! }
//!
//! #[event(scheduled)]
//! async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
//!     mkit::scheduled(env).await;
//! }
//! ```
//!
//! The Durable Object classes the kit needs (`McpSessions`, `McpTasks`) are exported from the
//! seller's Worker by linking this crate: nothing to write.
//!
//! Every module but `edge` is pure: it never touches the `worker` crate and is tested natively.
//! Dependencies point one way (docs/architecture.md): `auth`, `billing` and `oauth` (the optional
//! authorization server) know nothing of MCP;
//! `mcp` knows no price, no ledger and no shipped tool; `price` declares prices as extensions of a
//! tool's description; `paywall` joins `billing` to `mcp` as the core's gate; `tools` build on
//! `mcp`; `edge` binds everything to workers-rs.

#![deny(missing_docs)]

// A seller's API: what a server crate and its tools use.
pub mod app;
pub use mkit_mcp as mcp;
pub use mkit_paywall::{price, quota};
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tools;

// The kit's own parts. Public so that the fuzz targets, the examples, the benches and the kit's
// integration tests can reach them; not a seller's API, so hidden from the docs.
#[doc(hidden)]
pub use mkit_auth as auth;
#[doc(hidden)]
pub use mkit_billing as billing;
#[doc(hidden)]
pub mod bindings;
#[doc(hidden)]
pub mod build_info;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod health;
#[doc(hidden)]
pub use mkit_mcp::http;
#[doc(hidden)]
pub use mkit_mcp::log;
#[doc(hidden)]
pub use mkit_oauth as oauth;
#[doc(hidden)]
pub use mkit_paywall as paywall;
#[doc(hidden)]
pub use mkit_paywall::paylink;
#[doc(hidden)]
pub mod routes;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod web;

mod edge;

#[cfg(test)]
mod protocol_tests;

/// The kit's tests compile the template's example tools, which name the kit `mkit`.
#[cfg(test)]
extern crate self as mkit;

/// The kernel's primitives, under the paths the rest of the crate has always used.
#[doc(hidden)]
pub use mkit_kernel::{keyring, mac, seal};

use worker::{Env, Request, Response, Result};

pub use app::Server;

/// Installs the seller's server for this isolate; call it from `#[event(start)]`.
pub fn start(server: &'static Server) {
    console_error_panic_hook::set_once();
    edge::install(server);
}

/// Serves one request: `/mcp`, the OAuth endpoints, `/stripe/webhook`, the pay pages, `/healthz`.
pub async fn fetch(req: Request, env: Env) -> Result<Response> {
    edge::serve(req, env).await
}

/// The cron trigger (wrangler.jsonc `triggers`): housekeeping that no request should wait for.
pub async fn scheduled(env: Env) {
    edge::scheduled(env).await;
}
