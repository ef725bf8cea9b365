//! Handshake-era sessions (`Mcp-Session-Id`). mKit answers each POST on its own; a session id
//! carries what the client declared at `initialize`, sealed (`mkit_kernel::seal`) for this caller, so
//! any isolate can read it without storage. Two kinds:
//!
//! - **declaration only**: a 2025-11-25 client that declares URL-mode elicitation must be
//!   answered with it later, on requests that do not repeat the declaration. An id that does
//!   not open (altered, expired, another user's) counts as no declaration.
//! - **held**: on a deployment that holds sessions (`Registry::holds_sessions`: a tool asks the
//!   client, or a resource announces updates), a client that declares sampling, elicitation or
//!   roots gets a session held by the platform (`SessionHub`): the id also names it, so a tool
//!   can ask the client mid-call and the answer, posted later, finds the waiting call. A held id
//!   that does not open, or whose session ended, is refused with 404.

use serde_json::{json, Map, Value};

use super::context::LocalFuture;
use super::jsonrpc::RpcError;
use super::mrtr::Sealing;
use super::version::ProtocolVersion;

/// How long a declaration is honoured; a client re-initializes after that.
pub const SESSION_TTL_SECS: u64 = 24 * 60 * 60;

/// The x402 extension, the one client extension a session id remembers: a client that declared
/// it at `initialize` pays in-protocol (`paywall::x402`) on every later request.
pub const X402_EXTENSION: &str = "org.x402/payment";
const X402: &str = X402_EXTENSION;

/// The capabilities that make a client worth holding a session for: the server may send it
/// requests.
const ASKABLE: [&str; 3] = ["sampling", "elicitation", "roots"];

/// An opened session id.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// What the client declared (only what mKit reads later).
    pub capabilities: Value,
    /// The held session's id at the hub; `None` for a declaration-only id.
    pub held: Option<String>,
}

fn binding<'a>(sealing: &'a Sealing, sub: &'a str) -> [&'a str; 3] {
    ["mcp-session", &sealing.issuer, sub]
}

/// Whether an `initialize` declaring `capabilities` gets a held session, on a deployment that
/// holds them.
pub fn wants_held(capabilities: Option<&Value>) -> bool {
    capabilities.is_some_and(|c| ASKABLE.iter().any(|k| c.get(k).is_some_and(Value::is_object)))
}

/// The session id for an `initialize`: held when the hub opened one (`held`), else a
/// declaration-only id when the client declared URL-mode elicitation (from 2025-11-25) or the
/// x402 extension; `None` when nothing needs remembering.
pub fn mint(
    sealing: &Sealing,
    sub: &str,
    version: ProtocolVersion,
    capabilities: Option<&Value>,
    held: Option<&str>,
) -> Option<String> {
    let mut kept = Map::new();
    if let Some(pays) = capabilities.and_then(|c| c.get("extensions")?.get(X402)).filter(|v| v.is_object()) {
        kept.insert("extensions".into(), json!({ X402: pays }));
    }
    let declared = match held {
        Some(id) => {
            kept.extend(
                ASKABLE
                    .iter()
                    .filter_map(|k| Some(((*k).to_owned(), capabilities?.get(k).filter(|v| v.is_object())?.clone()))),
            );
            json!({ "capabilities": kept, "held": id })
        }
        None => {
            let url = capabilities.and_then(|c| c.get("elicitation")?.get("url")).filter(|u| u.is_object());
            if let Some(url) = url.filter(|_| version >= ProtocolVersion::V2025_11_25) {
                kept.insert("elicitation".into(), json!({ "url": url }));
            }
            if kept.is_empty() {
                return None;
            }
            json!({ "capabilities": kept })
        }
    };
    let key = sealing.keys.first()?;
    let expires = sealing.now_secs.saturating_add(SESSION_TTL_SECS);
    Some(mkit_kernel::seal::seal(key, &binding(sealing, sub), &declared, expires))
}

/// The session an id names, if it opens for this caller.
pub fn open(sealing: &Sealing, sub: &str, session_id: &str) -> Option<Session> {
    let v = mkit_kernel::seal::open(&sealing.keys, &binding(sealing, sub), session_id.trim(), sealing.now_secs).ok()?;
    Some(Session {
        capabilities: v.get("capabilities").cloned().unwrap_or(Value::Null),
        held: v.get("held").and_then(Value::as_str).map(str::to_owned),
    })
}

/// The caller's held sessions, as the protocol core uses them. The edge keeps them in a
/// Durable Object per caller; tests in memory. Every method works on the session the request
/// arrived on, except `resource_updated`, which reaches all of the caller's sessions.
pub trait SessionHub {
    /// Opens a new session for the caller: its id at the hub.
    fn open(&self) -> LocalFuture<'_, Result<String, RpcError>>;
    /// Sends `request` (`{method, params}`) to the client on this request's stream and waits
    /// for its answer: the `result`, or the client's error.
    fn ask<'a>(&'a self, request: &'a Value) -> LocalFuture<'a, Result<Value, RpcError>>;
    /// Hands a JSON-RPC response the client posted to the call waiting for it.
    fn deliver<'a>(&'a self, response: &'a Value) -> LocalFuture<'a, Result<(), RpcError>>;
    /// Adds (`on`) or removes a `resources/subscribe` of this session.
    fn subscribe<'a>(&'a self, uri: &'a str, on: bool) -> LocalFuture<'a, Result<(), RpcError>>;
    /// `notifications/resources/updated` to every session of the caller subscribed to `uri`.
    fn resource_updated<'a>(&'a self, uri: &'a str) -> LocalFuture<'a, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealing() -> Sealing {
        Sealing { keys: vec![[3; 32]], issuer: "https://issuer/".into(), now_secs: 1_800_000_000 }
    }

    #[test]
    fn only_a_url_elicitation_declaration_from_2025_11_25_on_is_remembered() {
        let s = sealing();
        let url = json!({ "elicitation": { "url": {} } });
        let id = mint(&s, "alice", ProtocolVersion::V2025_11_25, Some(&url), None).expect("minted");
        let opened = open(&s, "alice", &id).expect("opens");
        assert_eq!(opened.capabilities, json!({ "elicitation": { "url": {} } }));
        assert_eq!(opened.held, None);
        assert_eq!(open(&s, "bob", &id), None, "bound to the caller");
        let v0618 = ProtocolVersion::V2025_06_18;
        assert_eq!(mint(&s, "alice", v0618, Some(&url), None), None, "no URL mode before 2025-11-25");
        let form = json!({ "elicitation": {} });
        assert_eq!(mint(&s, "alice", ProtocolVersion::V2025_11_25, Some(&form), None), None);
        assert_eq!(mint(&s, "alice", ProtocolVersion::V2025_11_25, None, None), None);
        let later = Sealing { now_secs: s.now_secs + SESSION_TTL_SECS, ..sealing() };
        assert_eq!(open(&later, "alice", &id), None, "expired");
        assert_eq!(open(&s, "alice", "not-a-session"), None);
    }

    #[test]
    fn an_x402_declaration_is_remembered_in_every_version_and_beside_the_rest() {
        let s = sealing();
        let pays = json!({ "extensions": { X402: {}, "other/ext": {} } });
        let id = mint(&s, "alice", ProtocolVersion::V2025_03_26, Some(&pays), None).expect("minted");
        assert_eq!(open(&s, "alice", &id).expect("opens").capabilities, json!({ "extensions": { X402: {} } }));
        let both = json!({ "extensions": { X402: {} }, "elicitation": { "url": {} }, "sampling": {} });
        let id = mint(&s, "alice", ProtocolVersion::V2025_11_25, Some(&both), Some("h2")).expect("minted");
        let kept = open(&s, "alice", &id).expect("opens").capabilities;
        assert_eq!(kept, json!({ "extensions": { X402: {} }, "elicitation": { "url": {} }, "sampling": {} }));
        let other = json!({ "extensions": { "other/ext": {} } });
        assert_eq!(mint(&s, "alice", ProtocolVersion::V2025_11_25, Some(&other), None), None);
    }

    #[test]
    fn a_held_session_keeps_the_askable_capabilities_and_its_id() {
        let s = sealing();
        let caps = json!({ "sampling": {}, "elicitation": { "form": {} }, "roots": { "listChanged": true },
            "experimental": { "x": 1 } });
        let id = mint(&s, "alice", ProtocolVersion::V2025_03_26, Some(&caps), Some("h1")).expect("minted");
        let opened = open(&s, "alice", &id).expect("opens");
        assert_eq!(opened.held.as_deref(), Some("h1"));
        assert_eq!(
            opened.capabilities,
            json!({ "sampling": {}, "elicitation": { "form": {} }, "roots": { "listChanged": true } })
        );
        assert_eq!(open(&s, "bob", &id), None, "another caller cannot use it");
        assert!(!id.contains("h1"), "sealed, not readable");
    }

    #[test]
    fn a_held_session_is_wanted_only_by_a_client_the_server_may_ask() {
        assert!(wants_held(Some(&json!({ "sampling": {} }))));
        assert!(wants_held(Some(&json!({ "elicitation": {} }))));
        assert!(wants_held(Some(&json!({ "roots": {} }))));
        assert!(!wants_held(Some(&json!({}))));
        assert!(!wants_held(Some(&json!({ "sampling": null, "experimental": {} }))));
        assert!(!wants_held(None));
    }
}
