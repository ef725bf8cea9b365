//! 2026-07-28 multi-round tool results (`input_required`). The `requestState` a server hands out
//! comes back through the client, so it is sealed: a version byte, an expiry and the payload,
//! under an HMAC that also covers who it was minted for (issuer, subject) and which tool. A state
//! altered, expired, replayed by another user or sent to another tool is refused.

use serde_json::{json, Map, Value};

use super::jsonrpc::RpcError;

/// How long a sealed state stays valid: as long as a pay link, so a user who pays within the
/// link's life can still answer the elicitation that carried it.
pub const STATE_TTL_SECS: u64 = 30 * 60;

/// What a state is bound to: it opens only for the same caller and tool.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The issuer of the caller's token.
    pub issuer: &'a str,
    /// The caller.
    pub subject: &'a str,
    /// The tool being called.
    pub tool: &'a str,
}

impl Binding<'_> {
    fn parts(&self) -> [&str; 4] {
        ["mcp-request-state", self.issuer, self.subject, self.tool]
    }
}

/// This deployment's sealing keys (derived from `MKIT_SECRET`; the first seals, all open), the
/// issuer tokens come from, and the request's clock.
pub struct Sealing {
    /// Keys derived from each `MKIT_SECRET` entry; the first seals.
    pub keys: Vec<[u8; 32]>,
    /// The issuer of the callers' tokens.
    pub issuer: String,
    /// The request's clock, in Unix seconds.
    pub now_secs: u64,
}

/// A state for `binding`, expiring `STATE_TTL_SECS` after `now` (`mkit_kernel::seal`'s format).
pub fn seal(key: &[u8; 32], binding: &Binding<'_>, payload: &Value, now_secs: u64) -> String {
    mkit_kernel::seal::seal(key, &binding.parts(), payload, now_secs.saturating_add(STATE_TTL_SECS))
}

/// The payload of a state one of `keys` sealed for `binding`, unexpired at `now`.
pub fn open(keys: &[[u8; 32]], binding: &Binding<'_>, state: &str, now_secs: u64) -> Result<Value, RpcError> {
    mkit_kernel::seal::open(keys, &binding.parts(), state, now_secs).map_err(|e| {
        let hint = if e == mkit_kernel::seal::SealError::Expired { "; start the call again" } else { "" };
        RpcError::invalid_params(format!("Invalid requestState: {}{hint}", e.reason()))
    })
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

    const NOW: u64 = 1_800_000_000;
    const ME: Binding<'static> = Binding { issuer: "https://issuer/", subject: "alice", tool: "t" };

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn sealed_state_round_trips_and_detects_tampering() {
        let key = [1u8; 32];
        let s = seal(&key, &ME, &json!({"stage": 2, "name": "Alice"}), NOW);
        assert_eq!(open(&[key], &ME, &s, NOW + 1).expect("valid"), json!({"stage": 2, "name": "Alice"}));
        assert!(open(&[key], &ME, &format!("{s}-TAMPERED"), NOW).is_err());
        assert!(open(&[[2u8; 32]], &ME, &s, NOW).is_err(), "another key");
        assert!(open(&[key], &ME, "no-dot", NOW).is_err());
        let (body, sig) = s.split_once('.').expect("dot");
        let forged = URL_SAFE_NO_PAD.encode(r#"{"stage":3}"#);
        assert!(open(&[key], &ME, &format!("{forged}.{sig}"), NOW).is_err());
        assert!(open(&[key], &ME, &format!("{body}."), NOW).is_err());
        assert!(!s.contains("alice"), "no personal data in the state");
    }

    #[test]
    fn a_state_opens_only_for_its_caller_and_tool_and_only_in_time() {
        let key = [1u8; 32];
        let s = seal(&key, &ME, &json!({"stage": 1}), NOW);
        let bob = Binding { subject: "bob", ..ME };
        assert!(open(&[key], &bob, &s, NOW).is_err(), "another user replaying it");
        let other_tool = Binding { tool: "u", ..ME };
        assert!(open(&[key], &other_tool, &s, NOW).is_err(), "another tool");
        let other_issuer = Binding { issuer: "https://evil/", ..ME };
        assert!(open(&[key], &other_issuer, &s, NOW).is_err(), "another issuer");
        let e = open(&[key], &ME, &s, NOW + STATE_TTL_SECS).expect_err("expired");
        assert!(e.message.contains("expired"));
        // Rotation: a state sealed under the old key still opens while the old key is listed.
        assert!(open(&[[9u8; 32], key], &ME, &s, NOW).is_ok());
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
