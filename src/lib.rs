//! mKit: a paid, remote MCP server on Cloudflare Workers.
//!
//! Pure modules (`config`, `routes`, `health`, `log`) never touch the `worker` crate and are
//! tested natively; `edge` binds them to workers-rs.

pub mod auth;
pub mod billing;
pub mod config;
pub mod health;
pub mod log;
pub mod mac;
pub mod mcp;
pub mod routes;
pub mod tools;

mod edge;

/// The README's Rust examples compile as doctests, so "Adding a tool" cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

use worker::{event, Context, Env, Request, Response, Result};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    edge::serve(req, env).await
}
