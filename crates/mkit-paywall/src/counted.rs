//! A caller's own counters object (`MKIT_COUNTERS`, where the operator binds one): free calls,
//! credit reservations and metered usage counted beside the caller, one caller at a time, instead
//! of at the D1 primary (`mkit_billing::counters` is what it keeps). The Workers binding
//! implements it; `Paywall` uses it in place of the D1 statements when `LedgerReader` offers one.

use crate::access::MeterUsage;
use mkit_billing::StoreError;
use mkit_mcp::LocalFuture;

/// The caller's counters object.
pub trait CounterObject {
    /// Takes one call of quota `key` in the window starting at `window_start`: whether one was left.
    fn take<'a>(&'a self, key: &'a str, window_start: i64, limit: u32) -> LocalFuture<'a, Result<bool, StoreError>>;
    /// Gives back one call to that window.
    fn give_back<'a>(&'a self, key: &'a str, window_start: i64) -> LocalFuture<'a, Result<(), StoreError>>;
    /// Reserves `credits` for one call of `tool` under debit `id`: whether the balance covered it
    /// (a shortfall is confirmed against D1 before `false`).
    fn reserve<'a>(&'a self, id: &'a str, tool: &'a str, credits: u32) -> LocalFuture<'a, Result<bool, StoreError>>;
    /// After a run that succeeded: settles `debit` and records `usage` under its id, together.
    fn settle<'a>(
        &'a self,
        debit: Option<&'a str>,
        usage: Option<(&'a str, MeterUsage<'a>)>,
    ) -> LocalFuture<'a, Result<(), StoreError>>;
    /// After a run that failed: the reserved credits go back.
    fn refund<'a>(&'a self, debit: &'a str) -> LocalFuture<'a, Result<(), StoreError>>;
    /// The counters of windows starting at or after `since` (quota, window start, used), and the
    /// balance a call may spend, read again from D1 first when `balance` is asked for (a grant
    /// paid since shows at once).
    fn standing(&self, since: i64, balance: bool) -> LocalFuture<'_, Result<Counted, StoreError>>;
}

/// What `CounterObject::standing` read.
pub type Counted = (Vec<(String, i64, i64)>, i64);
