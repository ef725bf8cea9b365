//! Machine clients' D1 tables (migrations/0011_machine_clients.sql) as statements and row
//! decoders. `make client-create` writes the clients; requests only read them, and write the
//! `jti` of each accepted assertion, once (`remember_assertion` changes no row for a replay).

use mkit_kernel::sql::{SqlValue, Statement};

use crate::machine::{Assertion, Credential, MachineClient, LEEWAY_SECS};

/// A machine client's row by `client_id`, for `machine_client_from_row`.
pub const MACHINE_CLIENT_SQL: &str =
    "SELECT name, scopes, secret_hash, jwks_uri, jwks, revoked_at FROM machine_clients WHERE client_id = ?1";

/// Whether machine client `?1` was revoked: one row with `revoked_at` (NULL while it stands), or
/// none for an unknown client.
pub const REVOKED_SQL: &str = "SELECT revoked_at FROM machine_clients WHERE client_id = ?1";

/// `REVOKED_SQL` for `client_id`.
pub fn revoked(client_id: &str) -> Statement {
    Statement { sql: REVOKED_SQL, params: vec![SqlValue::Text(client_id.to_owned())] }
}

/// A `machine_clients` row's columns, as `MACHINE_CLIENT_SQL` reads them.
#[derive(Debug, Clone, Default)]
pub struct MachineRow {
    /// What the operator named it.
    pub name: String,
    /// Its scopes, space-separated.
    pub scopes: String,
    /// The hex SHA-256 of its secret, if it has one.
    pub secret_hash: Option<String>,
    /// Its JWK Set URL, if it has one.
    pub jwks_uri: Option<String>,
    /// Its JWK Set document, if it has one.
    pub jwks: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<f64>,
}

/// The client a row describes; `None` if the row has no single credential (the table's CHECK
/// forbids it, so only a hand-edited row could).
pub fn machine_client_from_row(client_id: &str, row: MachineRow) -> Option<MachineClient> {
    let credential = match (row.secret_hash, row.jwks_uri, row.jwks) {
        (Some(h), None, None) => Credential::Secret(h),
        (None, Some(u), None) => Credential::JwksUri(u),
        (None, None, Some(k)) => Credential::Keys(k),
        _ => return None,
    };
    Some(MachineClient {
        client_id: client_id.to_owned(),
        name: row.name,
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        credential,
        revoked: row.revoked_at.is_some(),
    })
}

/// Records an accepted assertion's `jti`; changes no row when it was seen before (a replay).
pub fn remember_assertion(client_id: &str, a: &Assertion) -> Statement {
    Statement {
        sql: "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params: vec![
            SqlValue::Text(client_id.to_owned()),
            SqlValue::Text(a.jti.clone()),
            SqlValue::Int(i64::try_from(a.exp + LEEWAY_SECS).unwrap_or(i64::MAX)),
        ],
    }
}

/// Forgets assertions past their expiry (with the leeway): they could not be replayed anyway.
pub fn sweep_assertions(now: u64) -> Statement {
    Statement {
        sql: "DELETE FROM assertion_jtis WHERE expires_at < ?1",
        params: vec![SqlValue::Int(i64::try_from(now).unwrap_or(i64::MAX))],
    }
}
