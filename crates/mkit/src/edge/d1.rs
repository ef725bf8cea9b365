//! D1, the one store: batches, rows and the health probes (the ledger reads are `ledger.rs`).

use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::billing::ledger::{SqlValue, Statement};
use crate::billing::StoreError;
use crate::bindings::Binding;
use crate::health::Probe;

pub(super) fn db(env: &Env) -> Result<D1Database, StoreError> {
    env.d1(Binding::Db.name()).map_err(|_| StoreError::Unbound)
}

pub(super) fn bind_value(v: &SqlValue) -> JsValue {
    match v {
        SqlValue::Text(t) => t.as_str().into(),
        SqlValue::Int(i) => (*i as f64).into(),
        SqlValue::Null => JsValue::NULL,
    }
}

/// Runs the statements as one D1 batch (one transaction): the rows each changed.
pub async fn apply_batch(env: &Env, statements: &[Statement]) -> Result<Vec<usize>, StoreError> {
    let db = db(env)?;
    let mut prepared = Vec::with_capacity(statements.len());
    for s in statements {
        let params: Vec<JsValue> = s.params.iter().map(bind_value).collect();
        prepared.push(db.prepare(s.sql).bind(&params).map_err(|_| StoreError::Statement)?);
    }
    let results = db.batch(prepared).await.map_err(|_| StoreError::Query)?;
    Ok(results.iter().map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)).collect())
}

/// `statements` as one batch (one transaction): each one's rows. At the primary, or, for reads
/// of `replica`, in a D1 session a read replica near the caller may answer (one snapshot).
#[cfg(feature = "counters")]
pub async fn batch_rows(
    env: &Env,
    statements: &[Statement],
    replica: bool,
) -> Result<Vec<Vec<serde_json::Value>>, StoreError> {
    let db = db(env)?;
    let bound = |s: &Statement| s.params.iter().map(bind_value).collect::<Vec<JsValue>>();
    let results = if replica {
        let session = db.with_session_constraint(worker::D1SessionConstraint::FirstUnconstrained);
        let session = session.map_err(|_| StoreError::Query)?;
        let mut prepared = Vec::with_capacity(statements.len());
        for s in statements {
            prepared.push(session.prepare(s.sql).bind(&bound(s)).map_err(|_| StoreError::Statement)?);
        }
        session.batch(prepared).await
    } else {
        let mut prepared = Vec::with_capacity(statements.len());
        for s in statements {
            prepared.push(db.prepare(s.sql).bind(&bound(s)).map_err(|_| StoreError::Statement)?);
        }
        db.batch(prepared).await
    };
    let results = results.map_err(|_| StoreError::Query)?;
    results.iter().map(|r| r.results::<serde_json::Value>().map_err(|_| StoreError::Rows)).collect()
}

/// Every row `s` selects, deserialised.
pub async fn rows<T: serde::de::DeserializeOwned>(env: &Env, s: &Statement) -> Result<Vec<T>, StoreError> {
    let params: Vec<JsValue> = s.params.iter().map(bind_value).collect();
    let statement = db(env)?.prepare(s.sql).bind(&params).map_err(|_| StoreError::Statement)?;
    let rows = statement.all().await.map_err(|_| StoreError::Query)?;
    rows.results().map_err(|_| StoreError::Rows)
}

/// Every row `s` selects, for display: a replica near the caller may answer (D1's Sessions API,
/// `first-unconstrained`; the primary where read replication is off).
#[cfg(any(feature = "billing", feature = "auth-server"))]
pub async fn replica_rows<T: serde::de::DeserializeOwned>(env: &Env, s: &Statement) -> Result<Vec<T>, StoreError> {
    let params: Vec<JsValue> = s.params.iter().map(bind_value).collect();
    let session = db(env)?.with_session_constraint(worker::D1SessionConstraint::FirstUnconstrained);
    let statement = session.map_err(|_| StoreError::Query)?.prepare(s.sql).bind(&params);
    let rows = statement.map_err(|_| StoreError::Statement)?.all().await.map_err(|_| StoreError::Query)?;
    rows.results().map_err(|_| StoreError::Rows)
}

/// The first row of a parameterised query, deserialised (D1 numbers arrive as JSON numbers).
#[cfg(any(feature = "billing", feature = "auth-server"))]
pub async fn first_row<T: serde::de::DeserializeOwned>(
    env: &Env,
    sql: &str,
    params: &[SqlValue],
) -> Result<Option<T>, StoreError> {
    let params: Vec<JsValue> = params.iter().map(bind_value).collect();
    let statement = db(env)?.prepare(sql).bind(&params).map_err(|_| StoreError::Statement)?;
    statement.first::<T>(None).await.map_err(|_| StoreError::Query)
}

/// `SELECT 1`, for `/healthz` `checks.db`.
pub async fn probe(env: &Env) -> Probe {
    let Ok(db) = db(env) else { return Probe::Fail("binding_missing") };
    match db.prepare("SELECT 1 AS one").first::<serde_json::Value>(Some("one")).await {
        Ok(Some(_)) => Probe::Ok,
        Ok(None) => Probe::Fail("no_row"),
        Err(_) => Probe::Fail("query_failed"),
    }
}

/// When the last Stripe event was processed (Unix ms), if any and if D1 answers.
#[cfg(feature = "billing")]
pub async fn last_event_at(env: &Env) -> Option<i64> {
    let row = db(env)
        .ok()?
        .prepare("SELECT MAX(processed_at) AS t FROM processed_events")
        .first::<serde_json::Value>(Some("t"))
        .await;
    row.ok().flatten().and_then(|v| v.as_f64()).map(|t| t as i64)
}

#[cfg(feature = "billing")]
/// The Stripe customer first bound to `sub`, if any (the pay pages reuse it).
pub async fn customer_of(env: &Env, sub: &str) -> Option<String> {
    let statement = db(env).ok()?.prepare(CUSTOMER_OF_SQL).bind(&[sub.into()]).ok()?;
    let row = statement.first::<serde_json::Value>(Some("customer_id")).await.ok().flatten()?;
    row.as_str().map(str::to_owned)
}

#[cfg(feature = "billing")]
const CUSTOMER_OF_SQL: &str = "SELECT customer_id FROM customers WHERE user_sub = ?1 ORDER BY bound_created LIMIT 1";
