//! One structured JSON line per request. It carries no headers, bodies, tokens or secrets:
//! only fields listed here.

use serde::Serialize;

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
}
