//! 2026-07-28 multi-round tool results (`input_required`): the `requestState` a server hands
//! out must come back unmodified, so it is sealed with HMAC-SHA256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::jsonrpc::RpcError;

/// `base64url(json) "." base64url(HMAC-SHA256(key, base64url(json)))`.
pub fn seal(key: &[u8], payload: &Value) -> String {
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(crate::mac::hmac_sha256(key, body.as_bytes())))
}

/// The payload of a state this key sealed; an error for anything altered or foreign.
pub fn open(key: &[u8], state: &str) -> Result<Value, RpcError> {
    let invalid = || RpcError::invalid_params("Invalid requestState: integrity check failed");
    let (body, tag) = state.split_once('.').ok_or_else(invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    if !crate::mac::ct_eq(&crate::mac::hmac_sha256(key, body.as_bytes()), &tag) {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

/// `{"resultType":"input_required","inputRequests":…,"requestState"?:…}`.
pub fn input_required(requests: Map<String, Value>, state: Option<String>) -> Value {
    let mut r = json!({ "resultType": "input_required", "inputRequests": requests });
    if let Some(s) = state {
        r["requestState"] = s.into();
    }
    r
}

/// The accepted content of an elicitation answer, if the client accepted.
pub fn accepted_content<'v>(responses: Option<&'v Value>, key: &str) -> Option<&'v Map<String, Value>> {
    let answer = responses?.get(key)?;
    (answer.get("action")?.as_str()? == "accept").then(|| answer.get("content")?.as_object())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_state_round_trips_and_detects_tampering() {
        let key = b"k";
        let s = seal(key, &json!({"stage": 2, "name": "Alice"}));
        assert_eq!(open(key, &s).expect("valid"), json!({"stage": 2, "name": "Alice"}));
        assert!(open(key, &format!("{s}-TAMPERED")).is_err());
        assert!(open(b"other", &s).is_err());
        assert!(open(key, "no-dot").is_err());
        let (body, tag) = s.split_once('.').expect("dot");
        let forged = URL_SAFE_NO_PAD.encode(r#"{"stage":3}"#);
        assert!(open(key, &format!("{forged}.{tag}")).is_err());
        assert!(open(key, &format!("{body}.")).is_err());
    }

    #[test]
    fn accepted_content_needs_accept() {
        let r = json!({"a": {"action": "accept", "content": {"name": "x"}}, "b": {"action": "decline"}, "c": 1});
        assert_eq!(accepted_content(Some(&r), "a").and_then(|c| c.get("name")), Some(&json!("x")));
        assert!(accepted_content(Some(&r), "b").is_none());
        assert!(accepted_content(Some(&r), "c").is_none());
        assert!(accepted_content(None, "a").is_none());
    }
}
