//! A plain HTTP answer that pure code builds and the edge turns into a `worker::Response`.

use serde_json::Value;

use crate::auth::prm::Challenge;
use crate::log::Extras;

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

    #[cfg(test)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
