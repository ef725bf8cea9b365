//! Free quotas: a number of calls per caller and calendar window (UTC), declared on a tool and
//! counted in D1. Pure: the window arithmetic both the protocol core and the ledger use.

use mkit_kernel::time::{civil_from_days, days_from_civil};
use schemars::JsonSchema;
use serde::Serialize;

/// A calendar window in UTC. Fixed windows (not sliding) so a caller can be told exactly when
/// the quota resets, and one counter row per window suffices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // A variant's doc comment would turn the schema's `enum` into `oneOf`.
pub enum Window {
    Hour,
    Day,
    /// A calendar month.
    Month,
}

/// A tool's free allowance: `calls` per caller per `window`, shared by every tool naming the
/// same `group` (else the tool's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeQuota {
    /// Free calls per window.
    pub calls: u32,
    /// The window they are counted in.
    pub window: Window,
    /// Tools naming the same group share one allowance.
    pub group: Option<&'static str>,
}

impl FreeQuota {
    /// The counter this quota draws on: its group, else the tool.
    pub fn key<'a>(&self, tool: &'a str) -> &'a str {
        self.group.unwrap_or(tool)
    }
}

/// A caller's standing on one quota in the current window (what `whoami` shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct QuotaUsage {
    /// The quota: its group, or the tool's name.
    pub quota: String,
    /// Free calls per window.
    pub calls: u32,
    /// The window they are counted in.
    pub window: Window,
    /// Calls used in the current window.
    pub used: u32,
    /// Calls left in it.
    pub remaining: u32,
    /// When the window ends and the count starts over (RFC 3339, UTC).
    pub resets_at: String,
}

const DAY: i64 = 86_400;

impl Window {
    /// The window's name (`hour`, `day`, `month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Month => "month",
        }
    }

    /// The start (Unix seconds) of the window holding `now`.
    pub fn start(self, now: i64) -> i64 {
        match self {
            Window::Hour => now - now.rem_euclid(3_600),
            Window::Day => now - now.rem_euclid(DAY),
            Window::Month => {
                let (y, m, _) = civil_from_days(now.div_euclid(DAY));
                days_from_civil(y, m, 1) * DAY
            }
        }
    }

    /// When the window holding `now` ends: the next one's start.
    pub fn resets_at(self, now: i64) -> i64 {
        match self {
            Window::Hour => self.start(now) + 3_600,
            Window::Day => self.start(now) + DAY,
            Window::Month => {
                let (y, m, _) = civil_from_days(now.div_euclid(DAY));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * DAY
            }
        }
    }
}

/// `2026-12-01T00:00:00Z`, for messages.
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    let s = secs.rem_euclid(DAY);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3_600, s % 3_600 / 60, s % 60)
}

/// A Stripe Billing meter a tool reports to: `event_name` is the meter's, and `value` computes a
/// call's value from its result (1 when absent).
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    /// The Stripe meter's event name.
    pub event_name: &'static str,
    /// Computes a call's value from its result (1 when absent).
    pub value: Option<fn(&serde_json::Value) -> Option<u64>>,
}

/// Two meters are the same when they report to the same event name, both computing a value or
/// neither (function addresses are not comparable).
impl PartialEq for Meter {
    fn eq(&self, other: &Self) -> bool {
        self.event_name == other.event_name && self.value.is_some() == other.value.is_some()
    }
}

impl Meter {
    /// What one call with `result` reports; `None` (nothing) for 0 or a value D1 cannot hold.
    pub fn value_of(&self, result: &serde_json::Value) -> Option<i64> {
        let v = self.value.map_or(Some(1), |f| f(result))?;
        i64::try_from(v).ok().filter(|v| *v > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T15:43:08Z.
    const NOW: i64 = 1_796_053_388;

    #[test]
    fn windows_start_and_reset_on_calendar_boundaries() {
        assert_eq!(rfc3339(NOW), "2026-11-30T15:43:08Z");
        let at = |w: Window| (rfc3339(w.start(NOW)), rfc3339(w.resets_at(NOW)));
        assert_eq!(at(Window::Hour), ("2026-11-30T15:00:00Z".into(), "2026-11-30T16:00:00Z".into()));
        assert_eq!(at(Window::Day), ("2026-11-30T00:00:00Z".into(), "2026-12-01T00:00:00Z".into()));
        assert_eq!(at(Window::Month), ("2026-11-01T00:00:00Z".into(), "2026-12-01T00:00:00Z".into()));
        let dec = days_from_civil(2026, 12, 31) * DAY + 5;
        assert_eq!(rfc3339(Window::Month.resets_at(dec)), "2027-01-01T00:00:00Z", "December rolls into the next year");
        let leap = days_from_civil(2028, 2, 29) * DAY;
        assert_eq!(rfc3339(Window::Month.start(leap)), "2028-02-01T00:00:00Z");
        assert_eq!(rfc3339(Window::Month.resets_at(leap)), "2028-03-01T00:00:00Z");
        for w in [Window::Hour, Window::Day, Window::Month] {
            let end = w.resets_at(NOW);
            assert_eq!(w.start(end), end, "{w:?}: the next window starts where this one ends");
            assert_eq!(w.start(end - 1), w.start(NOW));
        }
    }

    #[test]
    fn dates_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_group_shares_one_counter() {
        let own = FreeQuota { calls: 3, window: Window::Day, group: None };
        let shared = FreeQuota { group: Some("search"), ..own };
        assert_eq!((own.key("web_search"), shared.key("web_search")), ("web_search", "search"));
    }
}
