//! POST /mcp end to end: `classify` on the parsed body, the `Origin` check, then the whole
//! Streamable HTTP transport (`transport::handle_post`) with the shipped registry, as the edge
//! calls it after auth.
//!
//! Input: two selector bytes, then the body. Selector 0: bits 0-1 `Accept`, bits 2-3
//! `Content-Type`, bits 4-6 `MCP-Protocol-Version`, bit 7 `Mcp-Method`/`Mcp-Name` copied from the
//! body (so stateless-era requests get past the header checks). Selector 1: bit 0 `Mcp-Name` in
//! its `=?base64?…?=` form, bit 1 the caller holds every scope, bit 2 the ledger is unreadable,
//! bit 3 page size 1, bit 4 the body's first line is one raw `Name: value` header that overrides
//! the others, bit 5 no sealing keys are configured, bit 6 the caller has paid for nothing, bit 7
//! an `Mcp-Session-Id` that declares URL-mode elicitation.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use mkit::auth::Principal;
use mkit::mcp::mrtr::Sealing;
use mkit::mcp::transport::{handle_post, parse_body, Caller, HttpRequest};
use mkit::mcp::{cors, jsonrpc, session, ProtocolVersion, Registry, Server, ToolError};
use mkit::paywall::{Denial, Entitlements, Gatekeeper, PayLink};
use serde_json::Value;
use std::future::Future;
use std::task::{Context, Poll, Waker};

// The template's example tools (the repository's root crate): a D1 tool and a paid tool.
#[path = "../../src/tools/notes.rs"]
mod notes;
#[path = "../../src/tools/text_stats.rs"]
mod text_stats;

fn registry() -> Registry {
    let mut r = mkit::tools::standard();
    r.tool(notes::Remember).tool(text_stats::TextStats);
    r
}

const SERVER_INFO: mkit::mcp::ServerInfo = mkit::mcp::ServerInfo {
    name: "mkit",
    title: "mKit",
    version: "0",
    description: "fuzzed",
    website_url: None,
    instructions: "",
};

thread_local! {
    static REGISTRY: Registry = registry();
}

/// Drives a future that never waits on real I/O. Without the platform (no database) no tool does:
/// one that stays pending is a hang, and reported as one.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("handle_post stayed pending without any I/O to wait on");
}

struct Req {
    headers: Vec<(String, String)>,
}

impl HttpRequest for Req {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

/// A fixed ledger: `pro`; nothing (with a pay link); or unreadable (fail closed).
struct Ledger {
    readable: bool,
    paid: bool,
}

impl Entitlements for Ledger {
    async fn keys(&self) -> Result<Vec<String>, ToolError> {
        match (self.readable, self.paid) {
            (false, _) => Err(ToolError::new("entitlements unavailable")),
            (true, true) => Ok(vec!["pro".to_owned()]),
            (true, false) => Ok(Vec::new()),
        }
    }
    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), Denial> {
        match self.keys().await.map_err(Denial::Unavailable)?.iter().any(|k| k == entitlement) {
            true => Ok(()),
            false => Err(Denial::PaymentRequired {
                result: ToolError::new(format!("{tool} needs {entitlement}")),
                pay: Some(PayLink { url: "https://pay.example.com/p/1".into(), id: "pay-1".into() }),
            }),
        }
    }
    fn manage_url(&self) -> Option<String> {
        (!self.paid).then(|| "https://pay.example.com/manage".to_owned())
    }
}

const NOW: u64 = 1_800_000_000;
const SUB: &str = "fuzz-user";

const ACCEPT: [Option<&str>; 4] =
    [None, Some("application/json, text/event-stream"), Some("application/json"), Some("text/event-stream")];
const CONTENT_TYPE: [Option<&str>; 4] =
    [None, Some("application/json"), Some("application/json; charset=utf-8"), Some("text/plain")];
/// `MCP-Protocol-Version`; "meta" takes the body's `_meta` version.
const VERSION: [Option<&str>; 8] = [
    None,
    Some("2025-03-26"),
    Some("2025-06-18"),
    Some("2025-11-25"),
    Some("2026-07-28"),
    Some("meta"),
    Some("2024-11-05"),
    Some(" 2026-07-28\t"),
];

/// The `=?base64?…?=` form of an MCP header value.
fn b64_header(v: &str) -> String {
    format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(v))
}

fuzz_target!(|data: &[u8]| {
    let [s0, s1, rest @ ..] = data else { return };
    let (s0, s1) = (*s0, *s1);

    let (raw_header, body) = match (s1 & 16 != 0, rest.iter().position(|b| *b == b'\n')) {
        (true, Some(nl)) => (Some(&rest[..nl]), &rest[nl + 1..]),
        _ => (None, rest),
    };
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(v) = &parsed {
        let _ = jsonrpc::classify(v.clone());
    }

    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some((name, value)) = raw_header.and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| h.split_once(':')) {
        headers.push((name.trim().to_owned(), value.to_owned()));
    }
    let mut add = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            headers.push((name.to_owned(), v));
        }
    };
    add("Accept", ACCEPT[usize::from(s0 & 3)].map(str::to_owned));
    add("Content-Type", CONTENT_TYPE[usize::from((s0 >> 2) & 3)].map(str::to_owned));
    let params = parsed.as_ref().and_then(|v| v.get("params"));
    let version = match VERSION[usize::from((s0 >> 4) & 7)] {
        Some("meta") => params
            .and_then(|p| p.pointer("/_meta/io.modelcontextprotocol~1protocolVersion"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        v => v.map(str::to_owned),
    };
    add("MCP-Protocol-Version", version);
    if s0 & 128 != 0 {
        let method = parsed.as_ref().and_then(|v| v.get("method")).and_then(Value::as_str);
        add("Mcp-Method", method.map(str::to_owned));
        let name = params.and_then(|p| p.get("name").or_else(|| p.get("uri"))).and_then(Value::as_str);
        add("Mcp-Name", name.map(|n| if s1 & 1 != 0 { b64_header(n) } else { n.to_owned() }));
    }

    let sealing = Sealing { keys: vec![[0x5e; 32]], issuer: "https://issuer.example.com/".into(), now_secs: NOW };
    if s1 & 128 != 0 {
        let declared = serde_json::json!({ "elicitation": { "url": {} } });
        add("Mcp-Session-Id", session::mint(&sealing, SUB, ProtocolVersion::V2025_11_25, Some(&declared), None));
    }

    let req = Req { headers };
    // The edge's Origin check (a raw `Origin:` header line reaches it).
    let allowed = ["https://app.example.com".to_owned()];
    let _ = cors::check_origin(req.header("Origin"), &allowed);
    let _ = cors::preflight(req.header("Origin"), &allowed);
    // As the edge does: a session id counts only if it opens for this caller.
    let declared =
        req.header("Mcp-Session-Id").and_then(|id| session::open(&sealing, SUB, &id)).map(|s| s.capabilities);
    REGISTRY.with(|registry| {
        let scopes = if s1 & 2 != 0 { registry.scopes().into_iter().map(str::to_owned).collect() } else { Vec::new() };
        let principal = Principal::new(SUB, Some("fuzz-client".into()), scopes);
        let ledger = Ledger { readable: s1 & 4 == 0, paid: s1 & 64 == 0 };
        let server =
            Server { registry, info: &SERVER_INFO, page_size: if s1 & 8 != 0 { 1 } else { 50 }, extensions: &[] };
        let gate = Gatekeeper { access: &ledger, machine: None };
        let caller = Caller {
            principal: &principal,
            gate: Some(&gate),
            platform: None,
            sealing: (s1 & 32 == 0).then_some(&sealing),
            session_capabilities: declared.as_ref(),
            hub: None,
            held: false,
            tasks: None,
            task_ticket: None,
        };
        let reply = block_on(handle_post(&server, &req, parse_body(body), &caller));
        assert!((200..600).contains(&reply.status), "status {}", reply.status);
        // A session id is only ever the caller's own sealed declaration.
        for (_, id) in reply.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("Mcp-Session-Id")) {
            assert!(session::open(&sealing, SUB, id).is_some(), "a session id that does not open");
        }
    });
});
