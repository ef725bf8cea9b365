//! A plain HTTP answer that pure code builds and the edge turns into a `worker::Response`, with
//! what it tells the request log (`crate::log` writes the line). The lowest reply type: it
//! imports nothing of mKit but the bearer challenge of `mkit-auth`, a crate below.

use serde::Serialize;
use serde_json::Value;

use mkit_auth::prm::Challenge;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// A short code for the request log, e.g. `parse_error`.
    pub error: Option<&'static str>,
    /// A bearer challenge the edge renders as `WWW-Authenticate` (it knows the metadata URL).
    pub challenge: Option<Challenge>,
    /// What the request log line should say besides route and status (boxed: most replies
    /// carry none, and a reply travels in `Result`s).
    pub log: Box<Extras>,
}

impl HttpReply {
    pub fn new(status: u16, body: String, error: Option<&'static str>) -> Self {
        HttpReply { status, headers: Vec::new(), body, error, challenge: None, log: Box::default() }
    }

    /// An empty body, e.g. 202 or 204.
    pub fn empty(status: u16) -> Self {
        HttpReply::new(status, String::new(), None)
    }

    /// A JSON body.
    pub fn json(status: u16, v: &Value, error: Option<&'static str>) -> Self {
        HttpReply::new(status, v.to_string(), error).with_header("Content-Type", "application/json")
    }

    /// `{"error": code}` with `status`.
    pub fn error(status: u16, code: &'static str) -> Self {
        HttpReply::json(status, &serde_json::json!({ "error": code }), Some(code))
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_challenge(mut self, c: Challenge) -> Self {
        self.challenge = Some(c);
        self
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Request facts a route adds to its log line. Every value is either fixed by mKit or cleaned
/// (`clean`): bounded, printable, never a token or a raw subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extras {
    /// The JSON-RPC method (`tools/call`, or `batch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<&'static str>,
    /// `clientInfo` name/version, where the request carries it (`initialize`, 2026-07-28 `_meta`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The token check: `ok`, or why not (`token_expired`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<&'static str>,
    /// The call's admission (`paywall::admission`): `free`, `granted`, `free_quota`, `payment_required`, `quota_exceeded`, `unavailable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing: Option<&'static str>,
    /// The caller, as a keyed hash (`subject_hash`): correlates one user's lines, names no one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// W3C `traceparent` of the request (header or `_meta`), when well formed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// A misconfiguration: each failing variable and why (`STRIPE_WEBHOOK_SECRET: required …`),
    /// names and fixed reasons only, never a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Each `tools/call` the request made (one, or several in a 2025-03-26 batch): not on the log
    /// line, which has `tool` and `billing`, but one metrics data point each (`stats`).
    #[serde(skip)]
    pub tool_calls: Vec<ToolCall>,
}

/// One `tools/call` as the metrics see it. Only registered tools are named: a client's made-up
/// name is counted as `(unknown)`, so no caller can grow the metric's key space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub tool: &'static str,
    /// `ok`, `tool_error` (a result with `isError`), or the JSON-RPC error's code name.
    pub outcome: &'static str,
    /// The paid-tool gate, as on the log line; `none` when the call never reached it.
    pub billing: &'static str,
}
