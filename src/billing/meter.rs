//! Metered usage, exported to Stripe's meter events API exactly once per call
//! (`migrations/0008_credits.sql` `meter_outbox`).
//!
//! A metered call writes one outbox row (in the same batch as its debit, if it has one). The
//! scheduled export sends pending rows with `identifier` = the row id, which Stripe dedupes for at
//! least 24 hours, so a row sent twice (its answer lost) is counted once; a row is marked sent
//! only after Stripe accepted it, and a failure is retried with backoff. A row older than Stripe
//! accepts (35 days) is never sent: it is flagged `too_old` for the operator.

use crate::sql::{SqlValue, Statement};

const RECORD_SQL: &str = "\
INSERT INTO meter_outbox (id, user_sub, event_name, value, created_at, next_try_at) \
VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO NOTHING";

/// One metered call.
pub struct Usage<'a> {
    pub id: &'a str,
    pub sub: &'a str,
    pub event_name: &'a str,
    pub value: i64,
}

impl Usage<'_> {
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
