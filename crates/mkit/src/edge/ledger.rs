//! The ledger as the paywall reads it (`paywall::LedgerReader` on D1): the caller's entitlements
//! in one indexed query, from a read replica where D1 has one (a refusal is confirmed at the
//! primary), remembered per isolate for `MKIT_ENTITLEMENT_CACHE_SECONDS`, and the counters of
//! free quotas and credits. Feature `billing`.

use std::cell::RefCell;

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, D1SessionConstraint, Env};

use super::d1::{apply_batch, bind_value, db};
use crate::billing::ledger::{self, SqlValue, Statement};
use crate::billing::StoreError;
use crate::paywall::{LedgerReader, Together};

/// The caller's entitlements from the ledger: one indexed query, at the current time with the
/// configured grace (`MKIT_GRACE_DAYS`).
pub struct D1Ledger<'a> {
    pub env: &'a Env,
    pub now_secs: i64,
    /// `MKIT_GRACE_DAYS`, in seconds: how long after its period end a subscription still grants.
    pub grace_secs: i64,
    /// `MKIT_ENTITLEMENT_CACHE_SECONDS`, in ms: how long a read's keys may let calls run.
    pub cache_ms: u64,
    /// Where the isolate keeps them (`Isolate::entitlements`).
    pub recent: &'a RefCell<Recent>,
    /// The caller's counters object, where `MKIT_COUNTERS` is bound (feature `counters`).
    pub counters: Option<CallerObject>,
}

/// The caller's counters object: none can exist in a build without the `counters` feature.
#[cfg(feature = "counters")]
pub type CallerObject = super::counters::Counters;
#[cfg(not(feature = "counters"))]
pub type CallerObject = std::convert::Infallible;

/// The counters object of caller `sub` where one is bound and built.
#[cfg_attr(not(feature = "counters"), expect(unused_variables))]
pub fn caller_object(env: &Env, issuer: &str, sub: &str) -> Option<CallerObject> {
    #[cfg(feature = "counters")]
    return super::counters::Counters::for_caller(env, issuer, sub);
    #[cfg(not(feature = "counters"))]
    None
}

/// Callers' non-empty entitlement keys as last read in this isolate, with when they go stale.
/// Bounded: past `RECENT_MAX` callers it starts over.
pub type Recent = super::state::RecentKeys;
const RECENT_MAX: usize = 1024;

fn remember(recent: &RefCell<Recent>, sub: &str, keys: &[String], until_ms: u64) {
    let mut r = recent.borrow_mut();
    if r.len() >= RECENT_MAX {
        r.clear();
    }
    r.insert(sub.to_owned(), (until_ms, keys.to_vec()));
}

#[derive(Deserialize)]
struct KeyRow {
    key: String,
}

#[derive(Deserialize)]
struct CounterRow {
    quota_key: String,
    window_start: f64,
    used: f64,
}

impl D1Ledger<'_> {
    /// `sql` with `params`, to be answered where `at` allows: a replica near the caller (D1's
    /// Sessions API, `first-unconstrained`: only when the database has read replication on, else
    /// the primary) or the primary itself (no session).
    fn statement(&self, sql: &str, params: &[SqlValue], at: Reads) -> Result<D1PreparedStatement, StoreError> {
        let params: Vec<JsValue> = params.iter().map(bind_value).collect();
        let db = db(self.env)?;
        let statement = match at {
            Reads::AnyReplica => {
                let session = db.with_session_constraint(D1SessionConstraint::FirstUnconstrained);
                session.map_err(|_| StoreError::Query)?.prepare(sql)
            }
            Reads::Primary => db.prepare(sql),
        };
        statement.bind(&params).map_err(|_| StoreError::Statement)
    }

    /// The caller's entitlement keys, read where `at` allows.
    async fn keys_at(&self, sub: &str, at: Reads) -> Result<Vec<String>, StoreError> {
        let params = ledger::entitlements_params(sub, self.now_secs, self.grace_secs);
        let statement = self.statement(ledger::ENTITLEMENTS_SQL, &params, at)?;
        let rows = statement.all().await.map_err(|_| StoreError::Query)?;
        let rows: Vec<KeyRow> = rows.results().map_err(|_| StoreError::Rows)?;
        Ok(self.kept(sub, rows.into_iter().map(|r| r.key).collect()))
    }

    /// `keys`, remembered for `MKIT_ENTITLEMENT_CACHE_SECONDS` where that is on.
    fn kept(&self, sub: &str, keys: Vec<String>) -> Vec<String> {
        if self.cache_ms > 0 && !keys.is_empty() {
            remember(self.recent, sub, &keys, worker::Date::now().as_millis() + self.cache_ms);
        }
        keys
    }
}

/// Where a read of the ledger may be answered.
#[derive(Clone, Copy)]
enum Reads {
    AnyReplica,
    Primary,
}

impl LedgerReader for D1Ledger<'_> {
    async fn entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        self.keys_at(sub, Reads::AnyReplica).await
    }

    async fn primary_entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        self.keys_at(sub, Reads::Primary).await
    }

    fn reads_replicas(&self) -> bool {
        true
    }

    fn recent_keys(&self, sub: &str) -> Option<Vec<String>> {
        if self.cache_ms == 0 {
            return None;
        }
        let now = worker::Date::now().as_millis();
        self.recent.borrow().get(sub).filter(|(until, _)| now < *until).map(|(_, keys)| keys.clone())
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<usize>, StoreError> {
        apply_batch(self.env, &statements).await
    }

    /// A balance for display (`whoami`, the usage resource): a replica may answer.
    async fn number(&self, s: Statement) -> Result<Option<i64>, StoreError> {
        let statement = self.statement(s.sql, &s.params, Reads::AnyReplica)?;
        let row: Option<serde_json::Value> = statement.first(None).await.map_err(|_| StoreError::Query)?;
        let first = row.as_ref().and_then(serde_json::Value::as_object).and_then(|o| o.values().next().cloned());
        Ok(first.and_then(|v| v.as_f64()).map(|n| n as i64))
    }

    /// 16 random bytes: debit ids and meter event identifiers.
    fn new_id(&self) -> Option<String> {
        super::random::random_token(16)
    }

    /// The keys and `reads` in one batch of one D1 session a replica may answer: one round trip.
    async fn read_together(&self, sub: &str, reads: Vec<Statement>) -> Result<Together, StoreError> {
        let keys = Statement {
            sql: ledger::ENTITLEMENTS_SQL,
            params: ledger::entitlements_params(sub, self.now_secs, self.grace_secs),
        };
        let session = db(self.env)?.with_session_constraint(D1SessionConstraint::FirstUnconstrained);
        let session = session.map_err(|_| StoreError::Query)?;
        let mut prepared = Vec::with_capacity(reads.len() + 1);
        for s in std::iter::once(&keys).chain(&reads) {
            let params: Vec<JsValue> = s.params.iter().map(bind_value).collect();
            prepared.push(session.prepare(s.sql).bind(&params).map_err(|_| StoreError::Statement)?);
        }
        let results = session.batch(prepared).await.map_err(|_| StoreError::Query)?;
        let mut rows = Vec::with_capacity(results.len());
        for r in &results {
            rows.push(r.results::<serde_json::Value>().map_err(|_| StoreError::Rows)?);
        }
        let mut rows = rows.into_iter();
        let keys = rows.next().ok_or(StoreError::Rows)?;
        let keys = keys.iter().filter_map(|r| r.get("key")?.as_str().map(str::to_owned)).collect();
        Ok((self.kept(sub, keys), rows.collect()))
    }

    fn counter_object(&self) -> Option<&dyn crate::paywall::CounterObject> {
        #[cfg(feature = "counters")]
        return self.counters.as_ref().map(|c| c as &dyn crate::paywall::CounterObject);
        #[cfg(not(feature = "counters"))]
        self.counters.as_ref().map(|never| match *never {})
    }

    /// Quota counters for display: a replica may answer (admission takes its call in one write).
    async fn counters(&self, s: Statement) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let statement = self.statement(s.sql, &s.params, Reads::AnyReplica)?;
        let rows = statement.all().await.map_err(|_| StoreError::Query)?;
        let rows: Vec<CounterRow> = rows.results().map_err(|_| StoreError::Rows)?;
        Ok(rows.into_iter().map(|r| (r.quota_key, r.window_start as i64, r.used as i64)).collect())
    }
}
