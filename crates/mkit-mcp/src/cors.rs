//! CORS for browser clients of `/mcp`: only origins in `MCP_ALLOWED_ORIGINS` (and the origin of
//! `MCP_RESOURCE`). The one place `Origin` is checked and CORS headers are added.

use crate::http::HttpReply;

use super::jsonrpc::{self, RpcError};

pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, Last-Event-ID";
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id";

pub enum OriginCheck {
    /// No `Origin` header: not a browser, nothing to add.
    Absent,
    Allowed(String),
    Denied,
}

pub fn check_origin(origin: Option<String>, allowed: &[String]) -> OriginCheck {
    match origin {
        None => OriginCheck::Absent,
        Some(o) if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&o)) => OriginCheck::Allowed(o),
        Some(_) => OriginCheck::Denied,
    }
}

/// The headers that let an allowed page read `reply`.
pub fn allow(reply: HttpReply, origin: &str) -> HttpReply {
    reply
        .with_header("Access-Control-Allow-Origin", origin)
        .with_header("Access-Control-Expose-Headers", EXPOSE_HEADERS)
        .with_header("Vary", "Origin")
}

/// OPTIONS /mcp: a CORS preflight.
pub fn preflight(origin: Option<String>, allowed: &[String]) -> HttpReply {
    match check_origin(origin, allowed) {
        OriginCheck::Allowed(o) => allow(HttpReply::empty(204), &o)
            .with_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            .with_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
            .with_header("Access-Control-Max-Age", "600"),
        OriginCheck::Denied => forbidden_origin(),
        OriginCheck::Absent => HttpReply::empty(204).with_header("Allow", "POST, OPTIONS"),
    }
}

pub fn forbidden_origin() -> HttpReply {
    let err = RpcError::new(jsonrpc::INVALID_REQUEST, "Origin not allowed");
    HttpReply::json(403, &jsonrpc::failure(None, &err), Some("origin_forbidden"))
}
