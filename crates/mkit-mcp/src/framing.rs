//! How an answer travels: `Accept` negotiation, and JSON or `text/event-stream` framing.

use std::rc::Rc;

use serde_json::Value;

use crate::http::HttpReply;

/// A JSON-RPC message to send: built as a `Value`, or a response whose result was rendered to
/// text once per isolate (`mcp::rendered`) and is written as it is.
#[derive(Debug, Clone)]
pub enum Body {
    Value(Value),
    Rendered { id: Value, result: Rc<str> },
}

impl Body {
    pub fn text(&self) -> String {
        match self {
            Body::Value(v) => v.to_string(),
            Body::Rendered { id, result } => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Sse,
}

/// What the client accepts. JSON is the default answer; an event stream is used when it is all
/// the client takes, or when the answer has notifications to deliver before the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    pub json: bool,
    pub sse: bool,
}

impl Accepts {
    pub fn format(self, has_notifications: bool) -> Format {
        if self.sse && (has_notifications || !self.json) {
            Format::Sse
        } else {
            Format::Json
        }
    }
}

pub fn negotiate(accept: Option<&str>) -> Option<Accepts> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Accepts { json: true, sse: false });
    };
    let types: Vec<String> = accept
        .split(',')
        .filter(|part| !part.split(';').skip(1).any(|p| p.trim().replace(' ', "") == "q=0"))
        .map(|part| part.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .collect();
    let json = types.iter().any(|t| matches!(t.as_str(), "application/json" | "application/*" | "*/*"));
    let sse = types.iter().any(|t| matches!(t.as_str(), "text/event-stream" | "text/*"));
    (json || sse).then_some(Accepts { json, sse })
}

pub fn encode(
    format: Format,
    status: u16,
    notifications: &[Value],
    text: String,
    error: Option<&'static str>,
) -> HttpReply {
    match format {
        Format::Json => HttpReply::new(status, text, error).with_header("Content-Type", "application/json"),
        Format::Sse => {
            let mut events = String::new();
            for n in notifications {
                events.push_str(&format!("event: message\ndata: {n}\n\n"));
            }
            events.push_str(&format!("event: message\ndata: {text}\n\n"));
            HttpReply::new(status, events, error)
                .with_header("Content-Type", "text/event-stream")
                .with_header("Cache-Control", "no-cache")
        }
    }
}
