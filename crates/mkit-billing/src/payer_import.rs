//! The payer's D1 claims read into their object once, at its first claim: a payment claimed in D1
//! before `MKIT_COUNTERS` was bound (or by a version still counting in D1) is refused here too,
//! until a copy could no longer run, as the object's own claims are. Read at the primary, once
//! per payer and key prefix, by the primary key's range: no scan of other payers' rows.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PayerPayments, MAX_HELD, MAX_HOLD_SECS, SETTLED_HOLD_SECS};
use mkit_kernel::sql::{SqlValue, Statement};

/// A payment D1 held, refused until `until` (Unix seconds); never written back from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Known {
    pub(super) key: String,
    pub(super) until: i64,
}

/// The most D1 claims read in: half the object's bound, so claims can still be taken after.
const MAX_IMPORTED: usize = MAX_HELD / 2;

/// D1's claims under one key prefix that a copy could still run: settled ones within the
/// settled hold, any other within the longest hold (their `validBefore` is not in D1).
const IMPORT_SQL: &str = "\
SELECT id, state, created_at, updated_at FROM machine_payments WHERE id >= ?1 AND id < ?2 \
AND ((state = 'settled' AND updated_at >= ?3) OR (state <> 'settled' AND created_at >= ?4)) \
ORDER BY created_at DESC LIMIT ?5";

/// `network:asset:payer:` of a payment key (`x402::Matched::key`), the nonce left off.
fn prefix(key: &str) -> Option<&str> {
    key.rfind(':').map(|at| &key[..=at])
}

impl PayerPayments {
    pub(super) fn known_now(&self, key: &str, now: i64) -> bool {
        self.known.iter().any(|k| k.key == key && k.until >= now)
    }

    /// `key`'s prefix, unless its D1 claims were read in.
    fn unread<'k>(&self, key: &'k str) -> Option<&'k str> {
        prefix(key).filter(|prefix| !self.imported.iter().any(|p| p == prefix))
    }

    /// The read that brings in D1's claims under `key`'s prefix, unless they were read in.
    pub fn import_read(&self, key: &str, now: i64) -> Option<Statement> {
        let prefix = self.unread(key)?;
        // ';' follows ':' in every collation SQLite uses for text: the range is the prefix.
        let end = format!("{};", &prefix[..prefix.len() - 1]);
        let params = vec![
            SqlValue::Text(prefix.to_owned()),
            SqlValue::Text(end),
            SqlValue::Int(now - SETTLED_HOLD_SECS),
            SqlValue::Int(now - MAX_HOLD_SECS),
            SqlValue::Int(MAX_IMPORTED as i64),
        ];
        Some(Statement { sql: IMPORT_SQL, params })
    }

    /// Takes in `rows`, `import_read(key)`'s answer: each refused while a copy could run.
    pub fn import(&mut self, key: &str, rows: &[Value], now: i64) {
        let Some(prefix) = self.unread(key) else { return };
        // D1's ids are unique and each prefix is read once, so only the object's own claims
        // (flushed before any read-in, by an object older than it) can repeat one.
        let rows = rows.iter().take(MAX_IMPORTED).filter_map(known);
        let fresh: Vec<Known> =
            rows.filter(|k| k.until >= now && !self.held.iter().any(|h| h.row.key == k.key)).collect();
        self.known.extend(fresh);
        self.imported.push(prefix.to_owned());
    }
}

/// A D1 row as a known claim: a settled one held `SETTLED_HOLD_SECS` from its settlement, any
/// other the longest hold from its claim.
fn known(row: &Value) -> Option<Known> {
    let number = |k: &str| row.get(k).and_then(Value::as_f64).map(|n| n as i64);
    let key = row.get("id")?.as_str()?.to_owned();
    let until = match row.get("state")?.as_str()? {
        "settled" => number("updated_at")?.saturating_add(SETTLED_HOLD_SECS),
        _ => number("created_at")?.saturating_add(MAX_HOLD_SECS),
    };
    Some(Known { key, until })
}
