//! Metered usage, exported to Stripe's meter events API exactly once per call
//! (`migrations/0008_credits.sql` `meter_outbox`).
//!
//! A metered call writes one outbox row (in the same batch as its debit, if it has one). The
//! scheduled export sends pending rows with `identifier` = the row id, which Stripe dedupes for at
//! least 24 hours, so a row sent twice (its answer lost) is counted once; a row is marked sent
//! only after Stripe accepted it, and a failure is retried with backoff. A row older than Stripe
//! accepts (35 days) is never sent: it is flagged `too_old` for the operator.

use serde::Deserialize;

use mkit_kernel::sql::{SqlValue, Statement};

/// Stripe takes meter events up to 35 days old; an hour's margin for the send itself.
pub const MAX_AGE_SECS: i64 = 35 * 86_400 - 3_600;
/// Rows sent per scheduled run: well under a Worker's subrequest limit.
pub const BATCH: i64 = 40;
/// The longest wait between two attempts at one row.
const MAX_BACKOFF_SECS: i64 = 6 * 3_600;
/// Sent rows are kept this long (for `make ledger` and audits), then swept.
const KEEP_SENT_SECS: i64 = 40 * 86_400;

const RECORD_SQL: &str = "\
INSERT INTO meter_outbox (id, user_sub, event_name, value, created_at, next_try_at) \
VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO NOTHING";

/// One metered call.
pub struct Usage<'a> {
    /// The outbox row's id, sent as the meter event's `identifier` (Stripe dedupes on it).
    pub id: &'a str,
    /// The caller (OAuth subject) whose Stripe customer is billed.
    pub sub: &'a str,
    /// The Stripe meter's `event_name`.
    pub event_name: &'a str,
    /// The quantity to report.
    pub value: i64,
}

impl Usage<'_> {
    /// Inserts this call's outbox row; a replay inserts nothing.
    pub fn record(&self, now_secs: i64) -> Statement {
        Statement {
            sql: RECORD_SQL,
            params: vec![
                SqlValue::Text(self.id.to_owned()),
                SqlValue::Text(self.sub.to_owned()),
                SqlValue::Text(self.event_name.to_owned()),
                SqlValue::Int(self.value),
                SqlValue::Int(now_secs),
            ],
        }
    }
}

/// Pending rows due now, oldest first, with the Stripe customer to bill: the customer of the
/// user's latest live subscription, else the customer first bound to the user.
const PENDING_SQL: &str = "\
SELECT o.id, o.event_name, o.value, o.created_at, o.attempts, COALESCE( \
  (SELECT s.customer_id FROM subscriptions s \
    WHERE (s.user_sub = o.user_sub OR (s.user_sub IS NULL AND s.customer_id IN \
            (SELECT c.customer_id FROM customers c WHERE c.user_sub = o.user_sub))) \
      AND s.status IN ('active', 'trialing', 'past_due') \
    ORDER BY s.last_event_created DESC LIMIT 1), \
  (SELECT c.customer_id FROM customers c WHERE c.user_sub = o.user_sub ORDER BY c.bound_created LIMIT 1)) AS customer_id \
FROM meter_outbox o WHERE o.sent_at IS NULL AND o.failure IS NULL AND o.next_try_at <= ?1 \
ORDER BY o.created_at LIMIT ?2";

const MARK_SENT_SQL: &str =
    "UPDATE meter_outbox SET sent_at = ?2, attempts = attempts + 1 WHERE id = ?1 AND sent_at IS NULL";
const RETRY_SQL: &str =
    "UPDATE meter_outbox SET attempts = attempts + 1, next_try_at = ?2 WHERE id = ?1 AND sent_at IS NULL";
const FLAG_SQL: &str =
    "UPDATE meter_outbox SET failure = ?2, attempts = attempts + 1 WHERE id = ?1 AND sent_at IS NULL";
const SWEEP_SQL: &str = "DELETE FROM meter_outbox WHERE sent_at IS NOT NULL AND sent_at < ?1";

/// The backlog `/healthz` reports: rows waiting, the oldest one's time, rows flagged.
pub const BACKLOG_SQL: &str = "\
SELECT COUNT(*) AS pending, MIN(created_at) AS oldest, \
  (SELECT COUNT(*) FROM meter_outbox WHERE sent_at IS NULL AND failure IS NOT NULL) AS flagged \
FROM meter_outbox WHERE sent_at IS NULL AND failure IS NULL";

/// One row due for export.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pending {
    /// The row's id, the meter event's `identifier`.
    pub id: String,
    /// The Stripe meter's `event_name`.
    pub event_name: String,
    /// The quantity to report.
    pub value: i64,
    /// When the call was recorded (seconds since the epoch).
    pub created_at: i64,
    /// Attempts so far; sets the backoff.
    pub attempts: i64,
    /// The Stripe customer to bill, if one is known yet.
    pub customer_id: Option<String>,
}

/// The rows due at `now_secs`, at most `BATCH`, oldest first (read as `Pending`).
pub fn pending(now_secs: i64) -> Statement {
    Statement { sql: PENDING_SQL, params: vec![SqlValue::Int(now_secs), SqlValue::Int(BATCH)] }
}

/// Deletes rows sent more than 40 days before `now_secs`.
pub fn sweep(now_secs: i64) -> Statement {
    Statement { sql: SWEEP_SQL, params: vec![SqlValue::Int(now_secs - KEEP_SENT_SECS)] }
}

/// What became of one attempt at a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stripe took it (or already had it: it dedupes on the identifier).
    Sent,
    /// Try again later: no answer, a timeout, 429, 5xx, a key Stripe refused, or no customer yet.
    Retry,
    /// Never sendable as it is: Stripe refused its content (the code), or it is too old.
    Flag(String),
}

impl Outcome {
    /// Judges Stripe's answer (`None`: none came in time).
    pub fn of_answer(answer: Option<(u16, &[u8])>) -> Outcome {
        let Some((status, body)) = answer else { return Outcome::Retry };
        match status {
            200..=299 => Outcome::Sent,
            401 | 403 | 409 | 429 | 500..=599 => Outcome::Retry,
            _ => Outcome::Flag(format!("rejected:{}", error_code(status, body))),
        }
    }

    /// `sent`, `retry`, or the flag's code.
    pub fn as_str(&self) -> &str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retry => "retry",
            Outcome::Flag(code) => code,
        }
    }
}

/// Stripe's `error.code` (or the status), reduced to a safe token for the row and the log.
fn error_code(status: u16, body: &[u8]) -> String {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let code = v.as_ref().and_then(|v| v.pointer("/error/code")).and_then(|c| c.as_str()).unwrap_or_default();
    let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
    if code.is_empty() {
        format!("status_{status}")
    } else {
        code
    }
}

impl Pending {
    /// What to do with this row before any call: flag it if Stripe would no longer take it,
    /// wait if no customer is known yet.
    pub fn precheck(&self, now_secs: i64) -> Option<Outcome> {
        if now_secs - self.created_at > MAX_AGE_SECS {
            return Some(Outcome::Flag("too_old".into()));
        }
        self.customer_id.is_none().then_some(Outcome::Retry)
    }

    /// The statement that records `outcome`.
    pub fn record(&self, outcome: &Outcome, now_secs: i64) -> Statement {
        let id = SqlValue::Text(self.id.clone());
        match outcome {
            Outcome::Sent => Statement { sql: MARK_SENT_SQL, params: vec![id, SqlValue::Int(now_secs)] },
            Outcome::Retry => Statement { sql: RETRY_SQL, params: vec![id, SqlValue::Int(now_secs + self.backoff())] },
            Outcome::Flag(code) => Statement { sql: FLAG_SQL, params: vec![id, SqlValue::Text(code.clone())] },
        }
    }

    /// 1, 2, 4 … minutes, at most six hours.
    fn backoff(&self) -> i64 {
        let doubling = u32::try_from(self.attempts.clamp(0, 20)).unwrap_or(20);
        (60_i64 << doubling).min(MAX_BACKOFF_SECS)
    }
}

#[cfg(test)]
#[path = "meter_tests.rs"]
mod tests;
