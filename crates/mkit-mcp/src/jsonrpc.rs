//! JSON-RPC 2.0 framing: classify one message, build errors. Pure.

use serde_json::{json, Map, Value};

/// The body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Not a valid JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The method's params are wrong.
pub const INVALID_PARAMS: i64 = -32602;
/// The server failed.
pub const INTERNAL_ERROR: i64 = -32603;
/// 2026-07-28: an HTTP header disagrees with the body, or a required one is missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the request needs a client capability it did not declare.
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
/// 2026-07-28: the requested protocol version is not supported.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// 2025-11-25 and earlier: resource not found (2026-07-28 uses -32602).
pub const RESOURCE_NOT_FOUND_LEGACY: i64 = -32002;

/// A JSON-RPC request id: a string or a number (never null, per MCP).
#[derive(Debug, Clone, PartialEq)]
pub struct Id(pub Value);

/// One JSON-RPC message, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request, which gets a response.
    Request {
        /// Its id.
        id: Id,
        /// Its method.
        method: String,
        /// Its params, if any.
        params: Option<Value>,
    },
    /// A notification, which gets none.
    Notification {
        /// Its method.
        method: String,
    },
    /// A response the client sends to a server-to-client request, as it came.
    Response(Value),
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error code (`INVALID_PARAMS`, …).
    pub code: i64,
    /// A short description for the developer.
    pub message: String,
    /// Details, if any.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError { code, message: message.into(), data: None }
    }
    /// The same error with `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
    /// -32602, e.g. an unknown prompt argument.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }
    /// A stable name for the request log, e.g. `parse_error`.
    pub fn code_name(&self) -> &'static str {
        match self.code {
            PARSE_ERROR => "parse_error",
            INVALID_REQUEST => "invalid_request",
            METHOD_NOT_FOUND => "method_not_found",
            INVALID_PARAMS => "invalid_params",
            INTERNAL_ERROR => "internal_error",
            HEADER_MISMATCH => "header_mismatch",
            MISSING_REQUIRED_CLIENT_CAPABILITY => "missing_client_capability",
            UNSUPPORTED_PROTOCOL_VERSION => "unsupported_protocol_version",
            RESOURCE_NOT_FOUND_LEGACY => "resource_not_found",
            -32042 => "url_elicitation_required",
            _ => "rpc_error",
        }
    }

    /// The error object as JSON.
    pub fn to_value(&self) -> Value {
        let mut e = Map::new();
        e.insert("code".into(), self.code.into());
        e.insert("message".into(), self.message.clone().into());
        if let Some(d) = &self.data {
            e.insert("data".into(), d.clone());
        }
        Value::Object(e)
    }
}

/// Classifies one decoded JSON value. On failure returns the error and the id, if one could
/// be read, so the error response can carry it.
pub fn classify(v: Value) -> Result<Message, (RpcError, Option<Id>)> {
    let Value::Object(mut obj) = v else {
        return Err((RpcError::new(INVALID_REQUEST, "a JSON-RPC message must be an object"), None));
    };
    let id = match obj.remove("id") {
        None => None,
        Some(v @ (Value::String(_) | Value::Number(_))) => Some(Id(v)),
        Some(_) => return Err((RpcError::new(INVALID_REQUEST, "id must be a string or a number"), None)),
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((RpcError::new(INVALID_REQUEST, "jsonrpc must be \"2.0\""), id));
    }
    match obj.remove("method") {
        Some(Value::String(method)) => {
            let params = match obj.remove("params") {
                None => None,
                Some(p @ Value::Object(_)) => Some(p),
                Some(_) => return Err((RpcError::new(INVALID_REQUEST, "params must be an object"), id)),
            };
            Ok(match id {
                Some(id) => Message::Request { id, method, params },
                None => Message::Notification { method },
            })
        }
        Some(_) => Err((RpcError::new(INVALID_REQUEST, "method must be a string"), id)),
        None if id.is_some() && (obj.contains_key("result") ^ obj.contains_key("error")) => {
            obj.insert("id".into(), id.map(|i| i.0).unwrap_or_default());
            Ok(Message::Response(Value::Object(obj)))
        }
        None => Err((RpcError::new(INVALID_REQUEST, "not a request, notification or response"), id)),
    }
}

/// The tools a POST body calls (`tools/call` `params.name`, in a single message or a batch), for a
/// per-tool limit in front of the protocol: every call a batch may carry (`MAX_BATCH_ITEMS`, the
/// one bound), so none runs uncounted; a longer batch is refused whole by the protocol. Anything
/// unparsable calls nothing here: the protocol answers it.
pub fn called_tools(body: Option<&Value>) -> Vec<String> {
    let messages = match body {
        Some(Value::Array(list)) => list.as_slice(),
        Some(one) => std::slice::from_ref(one),
        None => return Vec::new(),
    };
    messages
        .iter()
        .filter(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
        .filter_map(|m| m.get("params")?.get("name")?.as_str().map(str::to_owned))
        .take(super::batch::MAX_BATCH_ITEMS)
        .collect()
}

/// A response with `result` for request `id`.
pub fn success(id: &Id, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id.0, "result": result })
}

/// An error response; `id` is null when the request's id could not be read.
pub fn failure(id: Option<&Id>, err: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id.map_or(Value::Null, |i| i.0.clone()), "error": err.to_value() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::MAX_BATCH_ITEMS;

    fn c(s: &str) -> Result<Message, (RpcError, Option<Id>)> {
        classify(serde_json::from_str(s).expect("test json"))
    }

    #[test]
    fn request_notification_response() {
        assert_eq!(
            c(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Ok(Message::Request { id: Id(json!(1)), method: "ping".into(), params: None })
        );
        assert_eq!(
            c(r#"{"jsonrpc":"2.0","id":"a","method":"x","params":{"k":1}}"#),
            Ok(Message::Request { id: Id(json!("a")), method: "x".into(), params: Some(json!({"k":1})) })
        );
        assert_eq!(
            c(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification { method: "notifications/initialized".into() })
        );
        let r = r#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
        assert_eq!(c(r), Ok(Message::Response(serde_json::from_str(r).expect("json"))));
        let e = r#"{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"m"}}"#;
        assert_eq!(c(e), Ok(Message::Response(serde_json::from_str(e).expect("json"))));
    }

    #[test]
    fn malformed_messages_are_invalid_requests() {
        for (s, has_id) in [
            (r#"[]"#, false),
            (r#"1"#, false),
            (r#"{"id":1,"method":"ping"}"#, true),
            (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, true),
            (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, false),
            (r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#, false),
            (r#"{"jsonrpc":"2.0","id":1,"method":7}"#, true),
            (r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#, true),
            (r#"{"jsonrpc":"2.0","id":1}"#, true),
            (r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#, true),
            (r#"{"jsonrpc":"2.0","result":{}}"#, false),
        ] {
            let (err, id) = c(s).expect_err(s);
            assert_eq!(err.code, INVALID_REQUEST, "{s}");
            assert_eq!(id.is_some(), has_id, "{s}");
        }
    }

    #[test]
    fn envelopes() {
        assert_eq!(success(&Id(json!(7)), json!({})), json!({"jsonrpc":"2.0","id":7,"result":{}}));
        let err = RpcError::new(METHOD_NOT_FOUND, "nope").with_data(json!({"m":"x"}));
        assert_eq!(
            failure(None, &err),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"nope","data":{"m":"x"}}})
        );
    }

    #[test]
    fn called_tools_in_one_message_or_a_batch() {
        let called_tools = |body: &[u8]| called_tools(serde_json::from_slice::<Value>(body).ok().as_ref());
        let one = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}"#;
        assert_eq!(called_tools(one), ["search"]);
        let batch = br#"[{"method":"tools/call","params":{"name":"a"}},{"method":"ping"},{"method":"tools/call","params":{"name":7}},{"method":"tools/call","params":{"name":"b"}}]"#;
        assert_eq!(called_tools(batch), ["a", "b"]);
        for nothing in [&b"not json"[..], b"{}", br#"{"method":"tools/list"}"#, b"[]"] {
            assert!(called_tools(nothing).is_empty());
        }
        // Every call a batch may carry is counted (#28 item 10: it was the first 16 of 32); past
        // the bound the protocol refuses the batch whole, so no more are read.
        let call = |i: usize| format!(r#"{{"method":"tools/call","params":{{"name":"t{i}"}}}}"#);
        let full = format!("[{}]", (0..MAX_BATCH_ITEMS).map(call).collect::<Vec<_>>().join(","));
        assert_eq!(called_tools(full.as_bytes()), (0..MAX_BATCH_ITEMS).map(|i| format!("t{i}")).collect::<Vec<_>>());
        let many = format!("[{}]", vec![r#"{"method":"tools/call","params":{"name":"x"}}"#; 40].join(","));
        assert_eq!(called_tools(many.as_bytes()).len(), MAX_BATCH_ITEMS);
    }
}
