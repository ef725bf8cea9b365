//! One structured JSON line per request. It carries no headers, bodies, tokens or secrets:
//! only fields listed here.

use serde::Serialize;

/// What a reply tells the log line and the metrics (they travel with the reply, `crate::http`).
pub use crate::http::{Extras, ToolCall};

#[derive(Debug, Serialize)]
pub struct RequestLog<'a> {
    pub method: &'a str,
    /// The matched route's stable name, or `"unmatched"`: never the raw path, which may carry data.
    pub route: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cf_ray: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// What the route learned about the request (MCP method, tool, caller…).
    #[serde(flatten)]
    pub extras: &'a Extras,
}

/// A client-supplied value fit for a log line: at most `max` characters of printable ASCII.
pub fn clean(v: &str, max: usize) -> Option<String> {
    let ok = !v.is_empty() && v.len() <= max && v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"');
    ok.then(|| v.to_owned())
}

/// A W3C Trace Context `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if `v` is one.
pub fn traceparent(v: &str) -> Option<String> {
    let parts: Vec<&str> = v.trim().split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let ok = parts.len() == 4
        && hex(parts[0], 2)
        && parts[0] != "ff"
        && hex(parts[1], 32)
        && parts[1] != "0".repeat(32)
        && hex(parts[2], 16)
        && parts[2] != "0".repeat(16)
        && hex(parts[3], 2);
    ok.then(|| parts.join("-"))
}

/// The caller's `sub` as a log-safe keyed hash: the first 8 bytes of HMAC-SHA256 under a key
/// derived from the deployment secret, hex.
pub fn subject_hash(key: &[u8; 32], sub: &str) -> String {
    mkit_kernel::mac::hex(&mkit_kernel::mac::hmac_sha256(key, sub.as_bytes())[..8])
}

impl RequestLog<'_> {
    pub fn to_line(&self) -> String {
        // Serialising plain strings and numbers cannot fail; keep a fixed line if it ever does.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"error":"log_serialisation_failed"}"#.to_owned())
    }
}

/// A `cf-ray` value is logged only if it looks like one (hex id and a colo), so a forged
/// header cannot inject text into the log line.
pub fn sanitize_cf_ray(v: &str) -> Option<&str> {
    let ok = !v.is_empty() && v.len() <= 40 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_the_fields() {
        let line = RequestLog {
            method: "GET",
            route: "/healthz",
            status: 200,
            duration_ms: 1.5,
            cf_ray: Some("8f1e2d3c4b5a6978-AMS"),
            error: None,
            extras: &Extras::default(),
        }
        .to_line();
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["route"], "/healthz");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["cf_ray"], "8f1e2d3c4b5a6978-AMS");
        assert!(v.get("error").is_none());
        assert!(!line.contains('\n'));
    }

    #[test]
    fn forged_cf_ray_is_dropped() {
        assert_eq!(sanitize_cf_ray("abc-AMS"), Some("abc-AMS"));
        assert_eq!(sanitize_cf_ray("x\"}{\"admin\":true"), None);
        assert_eq!(sanitize_cf_ray(""), None);
        assert_eq!(sanitize_cf_ray(&"a".repeat(41)), None);
    }

    #[test]
    fn extras_are_flat_and_clean() {
        let extras = Extras {
            mcp_method: Some("tools/call".into()),
            tool: Some("text_stats".into()),
            protocol_version: Some("2025-11-25"),
            billing: Some("granted"),
            subject: Some(subject_hash(&[1; 32], "alice@example.com")),
            ..Extras::default()
        };
        let line = RequestLog {
            method: "POST",
            route: "/mcp",
            status: 200,
            duration_ms: 1.0,
            cf_ray: None,
            error: None,
            extras: &extras,
        }
        .to_line();
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(
            (v["mcp_method"].as_str(), v["tool"].as_str(), v["billing"].as_str()),
            (Some("tools/call"), Some("text_stats"), Some("granted"))
        );
        assert!(v.get("client").is_none() && !line.contains("alice"));
        assert_eq!(v["subject"].as_str().map(str::len), Some(16));
        assert_eq!(clean("claude-ai/1.0", 64).as_deref(), Some("claude-ai/1.0"));
        assert_eq!(clean("a\"b", 64), None);
        assert_eq!(clean("é", 64), None);
        assert_eq!(clean(&"a".repeat(65), 64), None);
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(traceparent(tp).as_deref(), Some(tp));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(traceparent(bad), None, "{bad}");
        }
    }
}
