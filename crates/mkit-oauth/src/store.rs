//! The authorization server's D1 tables (migrations/0006_oauth.sql, 0010_oauth_installation.sql)
//! as statements and row decoders. Redemption and rotation are single batches whose later statements only act when
//! the first changed a row (`changes() = 1`), so two concurrent redemptions of one code, or two
//! uses of one refresh token, can never both succeed: the loser sees zero changes and revokes.

use serde_json::{json, Map, Value};

use super::client::Client;
use super::grant::{secret_hash, Code, Grant, Refresh, FAMILY_MAX_SECS, REFRESH_TTL_SECS};
use mkit_kernel::sql::{SqlValue, Statement};

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn int(n: u64) -> SqlValue {
    SqlValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A grant as stored (the `grant_json` columns).
pub fn grant_json(g: &Grant) -> String {
    json!({ "client_id": g.client_id, "sub": g.sub, "scope": g.scope, "resource": g.resource, "claims": g.claims })
        .to_string()
}

/// A grant from its stored JSON; `None` if malformed.
pub fn grant_from_json(s: &str) -> Option<Grant> {
    let v: Value = serde_json::from_str(s).ok()?;
    let f = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Grant {
        client_id: f("client_id")?,
        sub: f("sub")?,
        scope: f("scope")?,
        resource: f("resource")?,
        claims: v.get("claims").and_then(Value::as_object).cloned().unwrap_or_else(Map::new),
    })
}

// ---- clients ----------------------------------------------------------------------------------

/// A registered client's row by `client_id`, for `client_from_row`.
pub const CLIENT_SQL: &str =
    "SELECT client_name, redirect_uris, refresh, application_type FROM oauth_clients WHERE client_id = ?1";

/// The most registrations waiting for their first grant at any one time: with the 5 KiB cap on a
/// request, at most about 50 MB of the D1 database the ledger shares, whatever a stranger sends.
pub const MAX_PENDING_REGISTRATIONS: u64 = 10_000;
/// A registration not granted a code within this long is swept.
pub const PENDING_REGISTRATION_SECS: u64 = 86_400;

/// Stores a registered client unless `max_pending` registrations already wait for a first grant
/// (then it changes no row: the caller answers "try later").
pub fn insert_client(c: &Client, now: u64, max_pending: u64) -> Statement {
    Statement {
        sql:
            "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, refresh, created_at, application_type) \
              SELECT ?1, ?2, ?3, ?4, ?5, ?7 WHERE (SELECT COUNT(*) FROM oauth_clients WHERE granted_at IS NULL) < ?6",
        params: vec![
            text(&c.client_id),
            c.client_name.as_deref().map_or(SqlValue::Null, text),
            SqlValue::Text(json!(c.redirect_uris).to_string()),
            int(u64::from(c.refresh)),
            int(now),
            int(max_pending),
            c.application_type.map_or(SqlValue::Null, text),
        ],
    }
}

/// Marks a registered client as granted (its first code), which keeps it from the sweep. A
/// metadata-document client has no row: nothing changes.
pub fn mark_granted(client_id: &str, now: u64) -> Statement {
    Statement {
        sql: "UPDATE oauth_clients SET granted_at = ?2 WHERE client_id = ?1 AND granted_at IS NULL",
        params: vec![text(client_id), int(now)],
    }
}

/// A registered client from its row.
pub fn client_from_row(client_id: &str, row: ClientRow) -> Option<Client> {
    let redirect_uris: Vec<String> = serde_json::from_str(&row.redirect_uris).ok()?;
    let application_type = match row.application_type.as_deref() {
        Some("native") => Some("native"),
        Some("web") => Some("web"),
        _ => None,
    };
    let (client_id, client_name, refresh) = (client_id.to_owned(), row.client_name, row.refresh == 1);
    Some(Client { client_id, client_name, redirect_uris, refresh, application_type })
}

/// A row of `CLIENT_SQL`.
#[derive(Debug, Clone)]
pub struct ClientRow {
    /// `client_name`.
    pub client_name: Option<String>,
    /// `redirect_uris`, a JSON array.
    pub redirect_uris: String,
    /// `refresh`: 1 when the client may use refresh tokens.
    pub refresh: i64,
    /// `application_type`, as stated.
    pub application_type: Option<String>,
}

// ---- codes ------------------------------------------------------------------------------------

/// A code's row by its digest, for `code_from_row`.
pub const CODE_SQL: &str =
    "SELECT grant_json, redirect_uri, code_challenge, family, expires_at, used FROM oauth_codes WHERE code_hash = ?1";

/// Stores a code (as its digest) with the family its redemption will start.
pub fn insert_code(code_secret: &str, code: &Code, family: &str) -> Statement {
    Statement {
        sql: "INSERT INTO oauth_codes (code_hash, grant_json, redirect_uri, code_challenge, family, expires_at) \
              VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params: vec![
            SqlValue::Text(secret_hash(code_secret)),
            SqlValue::Text(grant_json(&code.grant)),
            text(&code.redirect_uri),
            text(&code.code_challenge),
            text(family),
            int(code.expires_at),
        ],
    }
}

/// A stored code and its family from its row.
pub fn code_from_row(grant: &str, redirect_uri: String, challenge: String, expires_at: i64, used: i64) -> Option<Code> {
    Some(Code {
        grant: grant_from_json(grant)?,
        redirect_uri,
        code_challenge: challenge,
        expires_at: u64::try_from(expires_at).ok()?,
        used: used != 0,
    })
}

/// Redeems a code and starts its family with the first refresh token, as one batch. Success is
/// `[1, 1, 1]` changes; anything else means another redemption won (a replay). The family records
/// the redirect URI the code went to: with a Client ID Metadata Document every installation of a
/// client shares its `client_id`, and (client, redirect URI) is what tells one installation's
/// sign-in from another's.
pub fn redeem(code_secret: &str, family: &str, code: &Code, refresh_secret: &str, now: u64) -> Vec<Statement> {
    let grant = &code.grant;
    vec![
        Statement {
            sql: "UPDATE oauth_codes SET used = 1 WHERE code_hash = ?1 AND used = 0",
            params: vec![SqlValue::Text(secret_hash(code_secret))],
        },
        Statement {
            sql: "INSERT INTO oauth_families (family, client_id, redirect_uri, sub, signed_in_at, expires_at) \
                  SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE changes() = 1",
            params: vec![
                text(family),
                text(&grant.client_id),
                text(&code.redirect_uri),
                text(&grant.sub),
                int(now),
                int(now + FAMILY_MAX_SECS),
            ],
        },
        insert_refresh(refresh_secret, family, grant, now),
    ]
}

/// On a replayed code: revoke every refresh token its first redemption started.
pub fn revoke_family_of_code(code_secret: &str) -> Statement {
    Statement {
        sql:
            "UPDATE oauth_families SET revoked = 1 WHERE family = (SELECT family FROM oauth_codes WHERE code_hash = ?1)",
        params: vec![SqlValue::Text(secret_hash(code_secret))],
    }
}

// ---- refresh tokens ---------------------------------------------------------------------------

/// A refresh token's row and its family's state, by the token's digest, for `refresh_from_row`.
pub const REFRESH_SQL: &str =
    "SELECT r.family, r.grant_json, r.expires_at, r.rotated, f.expires_at AS family_expires_at, \
     f.revoked, f.signed_in_at FROM oauth_refresh r JOIN oauth_families f USING (family) WHERE r.token_hash = ?1";

fn insert_refresh(refresh_secret: &str, family: &str, grant: &Grant, now: u64) -> Statement {
    Statement {
        sql: "INSERT INTO oauth_refresh (token_hash, family, grant_json, expires_at) SELECT ?1, ?2, ?3, ?4 WHERE changes() = 1",
        params: vec![SqlValue::Text(secret_hash(refresh_secret)), text(family), SqlValue::Text(grant_json(grant)), int(now + REFRESH_TTL_SECS)],
    }
}

/// A stored refresh token from its row.
pub fn refresh_from_row(
    family: String,
    grant: &str,
    expires_at: i64,
    rotated: i64,
    family_expires_at: i64,
    revoked: i64,
    signed_in_at: i64,
) -> Option<Refresh> {
    Some(Refresh {
        family,
        grant: grant_from_json(grant)?,
        expires_at: u64::try_from(expires_at).ok()?,
        family_expires_at: u64::try_from(family_expires_at).ok()?,
        signed_in_at: u64::try_from(signed_in_at).ok()?,
        rotated: rotated != 0,
        family_revoked: revoked != 0,
    })
}

/// Rotates `old` to `new` in its family, as one batch: `[1, 1]` changes on success; `[0, 0]`
/// means `old` was used concurrently (reuse: revoke the family).
pub fn rotate(old_secret: &str, new_secret: &str, family: &str, grant: &Grant, now: u64) -> Vec<Statement> {
    vec![
        Statement {
            sql: "UPDATE oauth_refresh SET rotated = 1 WHERE token_hash = ?1 AND rotated = 0",
            params: vec![SqlValue::Text(secret_hash(old_secret))],
        },
        insert_refresh(new_secret, family, grant, now),
    ]
}

/// Revokes every refresh token of `family`.
pub fn revoke_family(family: &str) -> Statement {
    Statement { sql: "UPDATE oauth_families SET revoked = 1 WHERE family = ?1", params: vec![text(family)] }
}

/// RFC 7009: revoking a refresh token revokes its family, when it belongs to `client_id`.
pub fn revoke_by_refresh(refresh_secret: &str, client_id: &str) -> Statement {
    Statement {
        sql: "UPDATE oauth_families SET revoked = 1 WHERE client_id = ?2 AND family = \
              (SELECT family FROM oauth_refresh WHERE token_hash = ?1)",
        params: vec![SqlValue::Text(secret_hash(refresh_secret)), text(client_id)],
    }
}

/// What the scheduled sweep deletes: codes an hour past expiry, families past their lifetime
/// with their refresh tokens, refresh tokens past theirs, and registrations never granted a code
/// within `PENDING_REGISTRATION_SECS`.
pub fn sweep(now: u64) -> Vec<Statement> {
    let p = || vec![int(now)];
    vec![
        Statement {
            sql: "DELETE FROM oauth_clients WHERE granted_at IS NULL AND created_at < ?1 - ?2",
            params: vec![int(now), int(PENDING_REGISTRATION_SECS)],
        },
        Statement { sql: "DELETE FROM oauth_codes WHERE expires_at < ?1 - 3600", params: p() },
        Statement {
            sql: "DELETE FROM oauth_refresh WHERE expires_at < ?1 OR family IN (SELECT family FROM oauth_families WHERE expires_at < ?1)",
            params: p(),
        },
        Statement { sql: "DELETE FROM oauth_families WHERE expires_at < ?1", params: p() },
    ]
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
