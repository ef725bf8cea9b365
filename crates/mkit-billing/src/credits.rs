//! Prepaid credits in D1 (`migrations/0008_credits.sql`): a call reserves its cost before the tool
//! runs, then the reservation is settled (charged) or refunded (the run failed).
//!
//! Each debit has its own id. The reservation is one batch (one transaction, and D1 runs one
//! writer at a time): the debit row is inserted only while the balance covers it, and the balance
//! moves only for a row not yet charged. So no number of concurrent calls overspends, and a
//! replayed batch, settle or refund moves nothing twice.

use mkit_kernel::sql::{SqlValue, Statement};

/// Inserts the reservation while the balance covers it. One row changed: the call may run.
const RESERVE_SQL: &str = "\
INSERT INTO credit_debits (id, user_sub, tool, credits, state, created_at, updated_at) \
SELECT ?1, ?2, ?3, ?4, 'reserved', ?5, ?5 \
 WHERE EXISTS (SELECT 1 FROM credit_balances WHERE user_sub = ?2 AND balance >= ?4) \
ON CONFLICT (id) DO NOTHING";

/// Takes the reservation's credits from the balance, once.
const CHARGE_SQL: &str = "\
UPDATE credit_balances SET balance = balance - (SELECT d.credits FROM credit_debits d WHERE d.id = ?1) \
 WHERE user_sub = (SELECT d.user_sub FROM credit_debits d WHERE d.id = ?1 AND d.charged = 0 AND d.state = 'reserved')";

const MARK_CHARGED_SQL: &str = "UPDATE credit_debits SET charged = 1 WHERE id = ?1 AND charged = 0";

/// The run succeeded: the reservation stands.
const SETTLE_SQL: &str =
    "UPDATE credit_debits SET state = 'settled', updated_at = ?2 WHERE id = ?1 AND state = 'reserved'";

/// The run failed: the credits go back, once.
const REFUND_SQL: &str = "\
UPDATE credit_balances SET balance = balance + (SELECT d.credits FROM credit_debits d WHERE d.id = ?1) \
 WHERE user_sub = (SELECT d.user_sub FROM credit_debits d WHERE d.id = ?1 AND d.charged = 1 AND d.state = 'reserved')";

const MARK_REFUNDED_SQL: &str =
    "UPDATE credit_debits SET state = 'refunded', updated_at = ?2 WHERE id = ?1 AND state = 'reserved'";

/// Reservations whose worker never settled them (the isolate ended mid-run): the tool may have
/// done its work, so they stand.
const SETTLE_STALE_SQL: &str =
    "UPDATE credit_debits SET state = 'settled', updated_at = ?2 WHERE state = 'reserved' AND created_at < ?1";

/// A debit its caller's object already reserved and settled (`counters`), as D1 records it:
/// inserted once, then charged once. Never below zero: the object spent from D1's balance as it
/// last read it, so only a balance lowered in D1 since (by hand) can fall short, and the debit
/// is recorded all the same.
const RECORD_HELD_SQL: &str = "\
INSERT INTO credit_debits (id, user_sub, tool, credits, state, created_at, updated_at) \
VALUES (?1, ?2, ?3, ?4, 'reserved', ?5, ?5) ON CONFLICT (id) DO NOTHING";

const CHARGE_HELD_SQL: &str = "\
UPDATE credit_balances SET balance = MAX(0, balance - (SELECT d.credits FROM credit_debits d WHERE d.id = ?1)) \
 WHERE user_sub = (SELECT d.user_sub FROM credit_debits d WHERE d.id = ?1 AND d.charged = 0 AND d.state = 'reserved')";

/// The credit balance of caller `?1`.
pub const BALANCE_SQL: &str = "SELECT balance FROM credit_balances WHERE user_sub = ?1";

/// How long a reservation may stay open before the sweep settles it.
pub const STALE_SECS: i64 = 3_600;

/// One call's debit.
pub struct Debit<'a> {
    /// The debit's id, one per call: a replayed batch, settle or refund with it moves nothing twice.
    pub id: &'a str,
    /// The caller (OAuth subject) whose balance pays.
    pub sub: &'a str,
    /// The tool called.
    pub tool: &'a str,
    /// The call's cost, in credits.
    pub credits: u32,
}

fn id(id: &str) -> SqlValue {
    SqlValue::Text(id.to_owned())
}

impl Debit<'_> {
    /// The debit row's values: id, caller, tool, credits, and its time.
    fn row(&self, at: i64) -> Vec<SqlValue> {
        let (sub, tool) = (SqlValue::Text(self.sub.to_owned()), SqlValue::Text(self.tool.to_owned()));
        vec![id(self.id), sub, tool, SqlValue::Int(i64::from(self.credits)), SqlValue::Int(at)]
    }

    /// The reservation batch. Its first statement changed one row exactly when the call may run.
    pub fn reserve(&self, now_secs: i64) -> Vec<Statement> {
        vec![
            Statement { sql: RESERVE_SQL, params: self.row(now_secs) },
            Statement { sql: CHARGE_SQL, params: vec![id(self.id)] },
            Statement { sql: MARK_CHARGED_SQL, params: vec![id(self.id)] },
        ]
    }

    /// Records a debit reserved and settled elsewhere (`counters`) at `at`: a replay records
    /// and charges nothing twice.
    pub fn record_settled(&self, at: i64) -> Vec<Statement> {
        let mut statements = vec![
            Statement { sql: RECORD_HELD_SQL, params: self.row(at) },
            Statement { sql: CHARGE_HELD_SQL, params: vec![id(self.id)] },
            Statement { sql: MARK_CHARGED_SQL, params: vec![id(self.id)] },
        ];
        statements.extend(settle(self.id, at));
        statements
    }
}

/// The run succeeded: reservation `debit` stands.
pub fn settle(debit: &str, now_secs: i64) -> Vec<Statement> {
    vec![Statement { sql: SETTLE_SQL, params: vec![id(debit), SqlValue::Int(now_secs)] }]
}

/// The run failed: reservation `debit`'s credits go back to the balance, once.
pub fn refund(debit: &str, now_secs: i64) -> Vec<Statement> {
    vec![
        Statement { sql: REFUND_SQL, params: vec![id(debit)] },
        Statement { sql: MARK_REFUNDED_SQL, params: vec![id(debit), SqlValue::Int(now_secs)] },
    ]
}

/// Settles reservations open longer than `STALE_SECS` (their isolate ended mid-run).
pub fn settle_stale(now_secs: i64) -> Statement {
    Statement { sql: SETTLE_STALE_SQL, params: vec![SqlValue::Int(now_secs - STALE_SECS), SqlValue::Int(now_secs)] }
}

/// Reads `sub`'s credit balance (`BALANCE_SQL`).
pub fn balance(sub: &str) -> Statement {
    Statement { sql: BALANCE_SQL, params: vec![SqlValue::Text(sub.to_owned())] }
}

#[cfg(test)]
#[path = "credits_tests.rs"]
mod tests;
