//! Machine clients revoked since they got a token: `/mcp` refuses the access tokens mKit issued to
//! a machine client as soon as `make client-revoke` ran, not when they expire (15 minutes). One
//! point read per request of a machine's token (a replica near the caller may answer, so a
//! revocation shows once it has replicated, usually within seconds); a person's token pays none.
//! A store that cannot answer lets the token through: it is mKit's own, signed and unexpired, and
//! the operator's revocation must not take every machine down with the database.

use serde::Deserialize;
use worker::Env;

use super::super::d1;
use crate::auth::Principal;
use crate::oauth::machine::CLIENT_ID_PREFIX;
use crate::oauth::machine_store::revoked;

#[derive(Deserialize)]
struct Row {
    revoked_at: Option<f64>,
}

/// The machine client a token was issued to: its `client_id` (a machine's own or an enterprise
/// grant's token names it), else its subject (a machine's own token is its subject).
fn machine_client(p: &Principal) -> Option<&str> {
    let client = p.client_id.as_deref().filter(|c| c.starts_with(CLIENT_ID_PREFIX));
    client.or_else(|| Some(p.sub.as_str()).filter(|s| s.starts_with(CLIENT_ID_PREFIX)))
}

/// Whether `principal`'s token was issued to a machine client that has been revoked (or deleted).
pub async fn is_revoked(env: &Env, principal: &Principal) -> bool {
    let Some(client) = machine_client(principal) else { return false };
    match d1::replica_rows::<Row>(env, &revoked(client)).await {
        Ok(rows) => rows.first().is_none_or(|r| r.revoked_at.is_some()),
        Err(_) => false,
    }
}
