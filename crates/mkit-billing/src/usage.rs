//! Free-quota counters in D1: one row per caller, quota and window (`migrations/0007_quota.sql`).
//! Each statement is atomic on its own, so no count goes past the quota however many calls race.

use mkit_kernel::sql::{SqlValue, Statement};

/// Takes one call: inserts the window's first, or adds one while under `limit`. One row changed
/// means the call may run; none means the quota is used up.
pub const TAKE_SQL: &str = "INSERT INTO quota_usage (user_sub, quota_key, window_start, used) \
    SELECT ?1, ?2, ?3, 1 WHERE ?4 > 0 \
    ON CONFLICT (user_sub, quota_key, window_start) DO UPDATE SET used = used + 1 WHERE used < ?4";

/// Gives back a call whose run failed (never below zero).
pub const GIVE_BACK_SQL: &str = "UPDATE quota_usage SET used = used - 1 \
    WHERE user_sub = ?1 AND quota_key = ?2 AND window_start = ?3 AND used > 0";

/// The caller's counters of windows starting at or after `?2`.
pub const USAGE_SQL: &str =
    "SELECT quota_key, window_start, used FROM quota_usage WHERE user_sub = ?1 AND window_start >= ?2";

/// Windows that ended long ago: no answer needs them.
pub const SWEEP_SQL: &str = "DELETE FROM quota_usage WHERE window_start < ?1";

/// How long a window's counter is kept after it starts.
pub const KEEP_SECS: i64 = 40 * 86_400;

/// One counter: (caller, quota, window start).
pub struct Counter<'a> {
    /// The caller (OAuth subject).
    pub sub: &'a str,
    /// Which quota.
    pub key: &'a str,
    /// When the window started (seconds since the epoch).
    pub window_start: i64,
}

impl Counter<'_> {
    fn params(&self) -> Vec<SqlValue> {
        vec![SqlValue::Text(self.sub.into()), SqlValue::Text(self.key.into()), SqlValue::Int(self.window_start)]
    }

    /// Takes one call if fewer than `limit` were taken (`TAKE_SQL`).
    pub fn take(&self, limit: u32) -> Statement {
        let mut params = self.params();
        params.push(SqlValue::Int(i64::from(limit)));
        Statement { sql: TAKE_SQL, params }
    }

    /// Gives back one call (`GIVE_BACK_SQL`).
    pub fn give_back(&self) -> Statement {
        Statement { sql: GIVE_BACK_SQL, params: self.params() }
    }
}

/// `sub`'s counters of windows starting at or after `since` (`USAGE_SQL`).
pub fn usage(sub: &str, since: i64) -> Statement {
    Statement { sql: USAGE_SQL, params: vec![SqlValue::Text(sub.into()), SqlValue::Int(since)] }
}

/// One counter row as D1 answers `usage` (numbers arrive as JSON numbers): quota, window
/// start, used.
pub fn counter_row(row: &serde_json::Value) -> Option<(String, i64, i64)> {
    let number = |k: &str| row.get(k).and_then(serde_json::Value::as_f64).map(|n| n as i64);
    Some((row.get("quota_key")?.as_str()?.to_owned(), number("window_start")?, number("used")?))
}

/// The first column of a D1 row, as a whole number (a balance).
pub fn first_number(row: &serde_json::Value) -> Option<i64> {
    row.as_object()?.values().next()?.as_f64().map(|n| n as i64)
}

/// Drops counters of windows that started more than `KEEP_SECS` before `now_secs`.
pub fn sweep(now_secs: i64) -> Statement {
    Statement { sql: SWEEP_SQL, params: vec![SqlValue::Int(now_secs - KEEP_SECS)] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mkit_kernel::sql::sqlite_values;
    use rusqlite::Connection;

    fn db() -> Connection {
        crate::test_db()
    }

    fn run(c: &Connection, s: &Statement) -> usize {
        c.execute(s.sql, rusqlite::params_from_iter(sqlite_values(&s.params))).expect("statement")
    }

    fn used(c: &Connection, sub: &str, key: &str, start: i64) -> i64 {
        c.query_row(
            "SELECT used FROM quota_usage WHERE user_sub = ?1 AND quota_key = ?2 AND window_start = ?3",
            rusqlite::params![sub, key, start],
            |r| r.get(0),
        )
        .unwrap_or(0)
    }

    #[test]
    fn a_quota_is_taken_up_to_its_limit_and_no_further() {
        let c = db();
        let counter = Counter { sub: "ada", key: "search", window_start: 1_000 };
        let granted: Vec<usize> = (0..5).map(|_| run(&c, &counter.take(3))).collect();
        assert_eq!(granted, [1, 1, 1, 0, 0]);
        assert_eq!(used(&c, "ada", "search", 1_000), 3);
        assert_eq!(run(&c, &Counter { sub: "bob", ..counter }.take(3)), 1, "another caller has their own");
        assert_eq!(run(&c, &Counter { key: "other", ..counter }.take(3)), 1, "another quota too");
        assert_eq!(run(&c, &Counter { window_start: 2_000, ..counter }.take(3)), 1, "a new window starts over");
        assert_eq!(run(&c, &Counter { sub: "eve", ..counter }.take(0)), 0, "a zero quota grants nothing");
    }

    #[test]
    fn a_failed_run_gives_its_call_back_never_below_zero() {
        let c = db();
        let counter = Counter { sub: "ada", key: "search", window_start: 1_000 };
        for _ in 0..3 {
            run(&c, &counter.take(3));
        }
        assert_eq!(run(&c, &counter.give_back()), 1);
        assert_eq!(run(&c, &counter.take(3)), 1, "the given-back call can be taken again");
        assert_eq!(run(&c, &counter.take(3)), 0);
        let fresh = Counter { sub: "new", ..counter };
        assert_eq!(run(&c, &fresh.give_back()), 0);
        assert_eq!(used(&c, "new", "search", 1_000), 0);
    }

    #[test]
    fn usage_reads_current_windows_and_the_sweep_drops_old_ones() {
        let c = db();
        let now = 100 * 86_400;
        for start in [now - 50 * 86_400, now - 86_400, now] {
            run(&c, &Counter { sub: "ada", key: "search", window_start: start }.take(5));
        }
        let s = usage("ada", now - 86_400);
        let mut stmt = c.prepare(s.sql).expect("prepare");
        let rows: Vec<(String, i64, i64)> = stmt
            .query_map(rusqlite::params_from_iter(sqlite_values(&s.params)), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .flatten()
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(run(&c, &sweep(now)), 1, "only the window over 40 days old");
    }
}
