//! What a handshake-era client declared at `initialize`, carried without server state. mKit
//! keeps no sessions; but a 2025-11-25 client that declares URL-mode elicitation must be
//! answered with it later, on requests that do not repeat the declaration. So `initialize`
//! answers such a client with an `Mcp-Session-Id` that is the declaration itself, sealed (see
//! `crate::seal`) for this caller; the client sends it back on every request, as the transport
//! spec requires, and mKit reads the capabilities from it. An id that does not open (altered,
//! expired, another user's) simply counts as no declaration.

use serde_json::{json, Value};

use super::mrtr::Sealing;
use super::version::ProtocolVersion;

/// How long a declaration is honoured; a client re-initializes after that.
pub const SESSION_TTL_SECS: u64 = 24 * 60 * 60;

fn binding<'a>(sealing: &'a Sealing, sub: &'a str) -> [&'a str; 3] {
    ["mcp-session", &sealing.issuer, sub]
}

/// The session id for an `initialize` whose client declared what only a session can remember
/// (today: URL-mode elicitation, from 2025-11-25); `None` when nothing needs remembering.
pub fn mint(sealing: &Sealing, sub: &str, version: ProtocolVersion, capabilities: Option<&Value>) -> Option<String> {
    let url = capabilities.and_then(|c| c.get("elicitation")?.get("url")).filter(|u| u.is_object())?;
    if version < ProtocolVersion::V2025_11_25 {
        return None;
    }
    let declared = json!({ "elicitation": { "url": url } });
    let key = sealing.keys.first()?;
    let expires = sealing.now_secs.saturating_add(SESSION_TTL_SECS);
    Some(crate::seal::seal(key, &binding(sealing, sub), &declared, expires))
}

/// The capabilities a session id declares, if it opens for this caller.
pub fn capabilities(sealing: &Sealing, sub: &str, session_id: &str) -> Option<Value> {
    crate::seal::open(&sealing.keys, &binding(sealing, sub), session_id.trim(), sealing.now_secs).ok()
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
        let id = mint(&s, "alice", ProtocolVersion::V2025_11_25, Some(&url)).expect("minted");
        assert_eq!(capabilities(&s, "alice", &id), Some(json!({ "elicitation": { "url": {} } })));
        assert_eq!(capabilities(&s, "bob", &id), None, "bound to the caller");
        assert_eq!(mint(&s, "alice", ProtocolVersion::V2025_06_18, Some(&url)), None, "no URL mode before 2025-11-25");
        assert_eq!(mint(&s, "alice", ProtocolVersion::V2025_11_25, Some(&json!({ "elicitation": {} }))), None);
        assert_eq!(mint(&s, "alice", ProtocolVersion::V2025_11_25, None), None);
        let later = Sealing { now_secs: s.now_secs + SESSION_TTL_SECS, ..sealing() };
        assert_eq!(capabilities(&later, "alice", &id), None, "expired");
        assert_eq!(capabilities(&s, "alice", "not-a-session"), None);
    }
}
