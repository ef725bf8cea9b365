//! Per-tool-call metrics: one Workers Analytics Engine data point per `tools/call`, written by
//! `edge::stats` when the Worker has the optional `MKIT_STATS` dataset binding, and read back by
//! `make stats` (scripts/stats.mjs) through the SQL API.
//!
//! The layout is a contract with that script and with any query an operator saves, so it only
//! ever grows at the end:
//!
//! | column | value |
//! | --- | --- |
//! | `index1` | the tool (the sampling key: each tool keeps its own sample) |
//! | `blob1` | the tool |
//! | `blob2` | the outcome: `ok`, `tool_error`, or the JSON-RPC error's code name |
//! | `blob3` | the paid-tool gate: `free`, `granted`, `free_quota`, `payment_required`, `quota_exceeded`, `unavailable`, `none` |
//! | `blob4` | the protocol version |
//! | `blob5` | the client, `name/version`, where the request names it |
//! | `double1` | the request's duration in ms (wall time waiting on I/O, as on the log line) |
//! | `double2` | the HTTP status |
//!
//! No subject, token or argument is ever written: the dataset is for rates and latencies.

use crate::log::{Extras, ToolCall};

/// One data point, in Analytics Engine's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    pub index: &'static str,
    pub blobs: [String; 5],
    pub doubles: [f64; 2],
}

/// The data point for one tool call of a request.
pub fn tool_call_point(call: &ToolCall, request: &Extras, status: u16, duration_ms: f64) -> DataPoint {
    DataPoint {
        index: call.tool,
        blobs: [
            call.tool.to_owned(),
            call.outcome.to_owned(),
            call.billing.to_owned(),
            request.protocol_version.unwrap_or_default().to_owned(),
            request.client.clone().unwrap_or_default(),
        ],
        doubles: [duration_ms.max(0.0), f64::from(status)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_documented_one() {
        let call = ToolCall { tool: "text_stats", outcome: "ok", billing: "granted" };
        let request = Extras {
            protocol_version: Some("2025-11-25"),
            client: Some("claude-ai/1.0".into()),
            subject: Some("0123456789abcdef".into()),
            ..Extras::default()
        };
        let p = tool_call_point(&call, &request, 200, 12.5);
        assert_eq!(p.index, "text_stats");
        assert_eq!(p.blobs, ["text_stats", "ok", "granted", "2025-11-25", "claude-ai/1.0"].map(String::from));
        assert_eq!(p.doubles, [12.5, 200.0]);
        assert!(!p.blobs.iter().any(|b| b.contains("0123456789abcdef")), "no subject, not even hashed");
    }

    #[test]
    fn missing_facts_are_empty_and_durations_never_negative() {
        let call = ToolCall { tool: "(unknown)", outcome: "invalid_params", billing: "none" };
        let p = tool_call_point(&call, &Extras::default(), 200, -3.0);
        assert_eq!(p.blobs[3..], ["", ""].map(String::from));
        assert_eq!(p.doubles[0], 0.0);
    }
}
