//! One caller's counters kept in their own Durable Object (`MKIT_COUNTERS`, opt-in): free-quota
//! windows, credit reservations and metered usage. The object runs one caller's requests one at
//! a time, near the caller, so a paid call waits on no D1 write; what it counted reaches the D1
//! ledger after the response (`flush`). Pure: the object stores this value and runs the
//! statements it plans.
//!
//! D1 stays the ledger of record. The credit balance is D1's, read when the object first serves
//! the caller and again with every flush or shortfall, less the debits D1 has not recorded yet;
//! so a webhook's grant counts at the next shortfall at the latest, and a refusal is always
//! confirmed against D1 first. Quota windows start from D1's counts when the object first serves
//! the caller (an existing deployment's windows carry over) and are written back as they move.

use serde::{Deserialize, Serialize};

use crate::{credits, meter::Usage, usage};
use mkit_kernel::sql::{SqlValue, Statement};

/// Debits and usage rows an object holds before it refuses more (a D1 outage that lasts): a
/// caller cannot grow the object without bound, and a paid call fails closed instead.
pub const MAX_HELD: usize = 4_096;

/// One caller's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallerCounters {
    /// Whether D1's windows and balance were read in (once, when the object first served).
    pub imported: bool,
    windows: Vec<WindowCount>,
    /// D1's balance as last read, less the debits flushed since.
    balance: i64,
    debits: Vec<HeldDebit>,
    outbox: Vec<HeldUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WindowCount {
    key: String,
    start: i64,
    used: i64,
    /// What D1 holds for this window.
    flushed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HeldDebit {
    id: String,
    tool: String,
    credits: i64,
    settled: bool,
    at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HeldUsage {
    id: String,
    event_name: String,
    value: i64,
    at: i64,
}

/// What a reservation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// Reserved: the call may run.
    Reserved,
    /// The balance, less what is reserved, does not cover it.
    Short,
    /// The object holds `MAX_HELD` debits D1 has not recorded: fail closed.
    Full,
}

/// A flush: the D1 batch, then what it carried (to mark done once D1 answers). The batch's last
/// two statements read the balance and which held debits D1 now records.
#[derive(Debug, Clone, PartialEq)]
pub struct Flush {
    /// The batch, in order.
    pub statements: Vec<Statement>,
    windows: Vec<(String, i64, i64)>,
    usage: Vec<String>,
}

impl CallerCounters {
    /// What the object reads from D1 before serving `sub` the first time: their current windows,
    /// then their balance.
    pub fn import_reads(sub: &str, now: i64) -> Vec<Statement> {
        vec![usage::usage(sub, now - usage::KEEP_SECS), credits::balance(sub)]
    }

    /// Takes in what `import_reads` read: counters (quota, window start, used) and the balance.
    pub fn import(&mut self, counters: Vec<(String, i64, i64)>, balance: Option<i64>) {
        for (key, start, used) in counters {
            if self.window(&key, start).is_none() {
                self.windows.push(WindowCount { key, start, used, flushed: used });
            }
        }
        self.balance = balance.unwrap_or(0);
        self.imported = true;
    }

    fn window(&mut self, key: &str, start: i64) -> Option<&mut WindowCount> {
        self.windows.iter_mut().find(|w| w.key == key && w.start == start)
    }

    /// Takes one call of quota `key` in the window starting at `start`, if fewer than `limit`
    /// were taken.
    pub fn take(&mut self, key: &str, start: i64, limit: u32) -> bool {
        let limit = i64::from(limit);
        if let Some(w) = self.window(key, start) {
            let ok = w.used < limit;
            w.used += i64::from(ok);
            return ok;
        }
        if limit == 0 || self.windows.len() >= MAX_HELD {
            return false;
        }
        self.windows.push(WindowCount { key: key.to_owned(), start, used: 1, flushed: 0 });
        true
    }

    /// Gives back one call of a run that failed (never below zero).
    pub fn give_back(&mut self, key: &str, start: i64) {
        if let Some(w) = self.window(key, start) {
            w.used = (w.used - 1).max(0);
        }
    }

    /// The counters of windows starting at or after `since`: (quota, window start, used).
    pub fn usage(&self, since: i64) -> Vec<(String, i64, i64)> {
        self.windows.iter().filter(|w| w.start >= since).map(|w| (w.key.clone(), w.start, w.used)).collect()
    }

    /// The balance a call may spend: D1's, less every debit D1 has not recorded.
    pub fn available(&self) -> i64 {
        self.balance - self.debits.iter().map(|d| d.credits).sum::<i64>()
    }

    /// Reserves `credits` for one call of `tool` under debit `id`.
    pub fn reserve(&mut self, id: &str, tool: &str, credits: u32, now: i64) -> Reserve {
        if self.debits.len() >= MAX_HELD {
            return Reserve::Full;
        }
        let credits = i64::from(credits);
        if self.available() < credits {
            return Reserve::Short;
        }
        self.debits.push(HeldDebit { id: id.to_owned(), tool: tool.to_owned(), credits, settled: false, at: now });
        Reserve::Reserved
    }

    /// The run succeeded: debit `id` stands (and is flushed to D1).
    pub fn settle(&mut self, id: &str) {
        if let Some(d) = self.debits.iter_mut().find(|d| d.id == id) {
            d.settled = true;
        }
    }

    /// The run failed: a reserved debit's credits go back (a settled one stays).
    pub fn refund(&mut self, id: &str) {
        self.debits.retain(|d| d.id != id || d.settled);
    }

    /// One metered call, once per `id`; `false` when the outbox is full (the call is not lost
    /// silently: the object answers an error and the Worker logs it).
    pub fn record_usage(&mut self, id: &str, event_name: &str, value: i64, now: i64) -> bool {
        if self.outbox.iter().any(|u| u.id == id) {
            return true;
        }
        if self.outbox.len() >= MAX_HELD {
            return false;
        }
        self.outbox.push(HeldUsage { id: id.to_owned(), event_name: event_name.to_owned(), value, at: now });
        true
    }

    /// What a shortfall reads from D1 to confirm it: the balance, and which held debits D1
    /// already records (flushed, so the balance counts them).
    pub fn balance_reads(&self, sub: &str) -> Vec<Statement> {
        let ids: Vec<&str> = self.debits.iter().map(|d| d.id.as_str()).collect();
        let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned());
        vec![credits::balance(sub), Statement { sql: RECORDED_SQL, params: vec![SqlValue::Text(ids)] }]
    }

    /// Takes in what `balance_reads` read.
    pub fn rebalance(&mut self, balance: Option<i64>, recorded: &[String]) {
        self.balance = balance.unwrap_or(0);
        self.debits.retain(|d| !recorded.contains(&d.id));
    }

    /// Whether anything waits to reach D1.
    pub fn dirty(&self) -> bool {
        self.windows.iter().any(|w| w.used != w.flushed)
            || self.debits.iter().any(|d| d.settled)
            || !self.outbox.is_empty()
    }

    /// The D1 batch that writes what moved (windows, settled debits, usage rows), each
    /// idempotently, then reads back the balance (`balance_reads`).
    pub fn flush(&self, sub: &str) -> Flush {
        let mut statements = Vec::new();
        let mut windows = Vec::new();
        for w in self.windows.iter().filter(|w| w.used != w.flushed) {
            let params = vec![text(sub), text(&w.key), SqlValue::Int(w.start), SqlValue::Int(w.used)];
            statements.push(Statement { sql: WINDOW_SQL, params });
            windows.push((w.key.clone(), w.start, w.used));
        }
        for d in self.debits.iter().filter(|d| d.settled) {
            let credits = u32::try_from(d.credits).unwrap_or(u32::MAX);
            let debit = credits::Debit { id: &d.id, sub, tool: &d.tool, credits };
            statements.extend(debit.record_settled(d.at));
        }
        for u in &self.outbox {
            let usage = Usage { id: &u.id, sub, event_name: &u.event_name, value: u.value };
            statements.push(usage.record(u.at));
        }
        statements.extend(self.balance_reads(sub));
        Flush { statements, windows, usage: self.outbox.iter().map(|u| u.id.clone()).collect() }
    }

    /// D1 took `flush`, and answered its two reads with `balance` and `recorded`.
    pub fn flushed(&mut self, flush: &Flush, balance: Option<i64>, recorded: &[String]) {
        for (key, start, used) in &flush.windows {
            if let Some(w) = self.window(key, *start) {
                w.flushed = *used;
            }
        }
        self.outbox.retain(|u| !flush.usage.contains(&u.id));
        self.rebalance(balance, recorded);
    }

    /// Settles reservations open past `credits::STALE_SECS` (their isolate ended mid-run: the
    /// tool may have done its work), and drops windows D1 holds that ended long ago.
    pub fn sweep(&mut self, now: i64) {
        for d in self.debits.iter_mut().filter(|d| !d.settled && d.at < now - credits::STALE_SECS) {
            d.settled = true;
        }
        self.windows.retain(|w| w.start >= now - usage::KEEP_SECS || w.used != w.flushed);
    }

    /// When the object should next wake: now when anything waits for D1, an hour after the
    /// oldest open reservation, else not at all.
    pub fn next_alarm(&self, now: i64) -> Option<i64> {
        if self.dirty() {
            return Some(now);
        }
        self.debits.iter().map(|d| d.at + credits::STALE_SECS + 1).min()
    }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

/// A window's count, as the object holds it (the object is the counter; D1 mirrors it).
const WINDOW_SQL: &str = "INSERT INTO quota_usage (user_sub, quota_key, window_start, used) VALUES (?1, ?2, ?3, ?4) \
    ON CONFLICT (user_sub, quota_key, window_start) DO UPDATE SET used = excluded.used";

/// Which of the debit ids in the JSON array `?1` D1 records.
const RECORDED_SQL: &str = "SELECT id FROM credit_debits WHERE id IN (SELECT value FROM json_each(?1))";

#[cfg(test)]
#[path = "counters_tests.rs"]
mod tests;
