//! One payer's machine payments (x402) held in their own Durable Object where the operator binds
//! `MKIT_COUNTERS`: the claim that lets a payment run one call, and its outcome, kept near the
//! caller so a paid call waits on no D1 write; the object writes each to `machine_payments`
//! after the response (`flush`). Pure: the object stores this value and runs what it plans.
//!
//! The object is the payer's, not the caller's: a nonce is the payer's, so every copy of a payment
//! meets the same object whoever sends it. A claim is held until a copy can no longer run: a
//! settled payment for `SETTLED_HOLD_SECS` (from then on the facilitator's `/verify` refuses it,
//! reading the nonce's state on chain, as `@x402/evm`'s `exact` facilitator does), any other until
//! its authorization's `validBefore` has passed, at most `MAX_HOLD_SECS`.
//!
//! A payment claimed in D1 before the object served its payer (the deployment counted in D1 until
//! `MKIT_COUNTERS` was bound) is read in at the object's first claim (`payer_import.rs`).

use serde::{Deserialize, Serialize};

use crate::x402::{self, MachineOffer, Payment, Unsettled, MAX_TIMEOUT_SECS, STALE_SECS};
use mkit_kernel::sql::{SqlValue, Statement};

/// Payments one object holds before it refuses more claims (fail closed).
pub const MAX_HELD: usize = 4_096;
/// How long a settled payment's claim is kept once D1 has it: the chain has the nonce by then.
pub const SETTLED_HOLD_SECS: i64 = 600;
/// The longest any claim is kept, whatever its authorization says.
pub const MAX_HOLD_SECS: i64 = 30 * 86_400;
/// Clock skew allowed between mKit, the facilitator and the chain.
const SKEW_SECS: i64 = 120;

/// A claimed payment's row, as `machine_payments` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRow {
    /// `x402::Matched::key`.
    pub key: String,
    /// The caller who sent it.
    pub sub: String,
    /// The tool it pays for.
    pub tool: String,
    /// The network's CAIP-2 id.
    pub network: String,
    /// The token contract.
    pub asset: String,
    /// The asset's atomic units, as decimal text.
    pub amount: String,
    /// The address paid.
    pub pay_to: String,
    /// The authorization's `from`.
    pub payer: String,
    /// The authorization's `validBefore`, where it is a number.
    pub valid_before: Option<u64>,
    /// The credits it buys, for a top-up (`buy_credits`): granted with its settlement.
    pub top_up: Option<u32>,
}

impl Payment<'_> {
    /// The row a payer's object claims for this payment of `credits`; `top_up`: it buys them.
    pub fn row(&self, offer: &MachineOffer, credits: u32, valid_before: Option<u64>, top_up: bool) -> PaymentRow {
        let n = offer.network;
        PaymentRow {
            key: self.key.to_owned(),
            sub: self.sub.to_owned(),
            tool: self.tool.to_owned(),
            network: n.id.to_owned(),
            asset: n.asset.to_owned(),
            amount: offer.amount(credits),
            pay_to: offer.pay_to.clone(),
            payer: self.payer.to_owned(),
            valid_before,
            top_up: top_up.then_some(credits),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    Verifying,
    Settled,
    Failed,
    Unconfirmed,
}

impl State {
    fn as_sql(self) -> &'static str {
        match self {
            State::Verifying => "verifying",
            State::Settled => "settled",
            State::Failed => "failed",
            State::Unconfirmed => "unconfirmed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Held {
    row: PaymentRow,
    state: State,
    reason: Option<String>,
    tx: Option<String>,
    created_at: i64,
    updated_at: i64,
    /// D1 has this state.
    flushed: bool,
}

impl Held {
    /// Until when a copy of this payment could still run if its claim were forgotten.
    fn hold_until(&self) -> i64 {
        match self.state {
            State::Verifying => return i64::MAX,
            State::Settled => return self.updated_at + SETTLED_HOLD_SECS,
            State::Failed | State::Unconfirmed => {}
        }
        let valid_before = self.row.valid_before.and_then(|v| i64::try_from(v).ok()).unwrap_or(i64::MAX);
        let offered = self.created_at + MAX_TIMEOUT_SECS as i64;
        valid_before.max(offered).saturating_add(SKEW_SECS).min(self.created_at + MAX_HOLD_SECS)
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Claimed: the facilitator may be asked, and the call may run once it verifies.
    Claimed,
    /// This payment is claimed already (a replay, or a concurrent copy).
    Used,
    /// The object holds `MAX_HELD` payments: fail closed.
    Full,
}

/// One payer's held payments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PayerPayments {
    held: Vec<Held>,
    /// Released payments, whose `verifying` row D1 may have: deleted at the next flush.
    released: Vec<String>,
    /// Payments D1 held when they were read in, each refused until a copy could no longer run.
    #[serde(default)]
    known: Vec<import::Known>,
    /// The key prefixes (`network:asset:payer:`) whose D1 claims were read in.
    #[serde(default)]
    imported: Vec<String>,
}

/// A flush: the D1 statements, then what they carried (to mark done once D1 answers).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentsFlush {
    /// The statements, in order.
    pub statements: Vec<Statement>,
    states: Vec<(String, State)>,
    released: Vec<String>,
}

impl PayerPayments {
    fn find(&mut self, key: &str) -> Option<&mut Held> {
        self.held.iter_mut().find(|h| h.row.key == key)
    }

    /// Claims `row`'s payment, once.
    pub fn claim(&mut self, row: PaymentRow, now: i64) -> Claim {
        if self.held.iter().any(|h| h.row.key == row.key) || self.known_now(&row.key, now) {
            return Claim::Used;
        }
        if self.held.len() + self.released.len() + self.known.len() >= MAX_HELD {
            return Claim::Full;
        }
        self.released.retain(|k| *k != row.key);
        let held = Held {
            row,
            state: State::Verifying,
            reason: None,
            tx: None,
            created_at: now,
            updated_at: now,
            flushed: false,
        };
        self.held.push(held);
        Claim::Claimed
    }

    /// The facilitator settled payment `key` in transaction `tx`.
    pub fn settle(&mut self, key: &str, tx: &str, now: i64) {
        self.end(key, State::Settled, None, Some(tx), now);
    }

    /// Payment `key` was verified and run but did not settle (`reason`: the facilitator's).
    pub fn close(&mut self, key: &str, how: Unsettled, reason: &str, now: i64) {
        let state = match how {
            Unsettled::Failed => State::Failed,
            Unsettled::Unconfirmed => State::Unconfirmed,
        };
        self.end(key, state, Some(reason.chars().take(200).collect()), None, now);
    }

    fn end(&mut self, key: &str, state: State, reason: Option<String>, tx: Option<&str>, now: i64) {
        if let Some(h) = self.find(key).filter(|h| h.state == State::Verifying) {
            (h.state, h.reason, h.tx, h.updated_at, h.flushed) = (state, reason, tx.map(str::to_owned), now, false);
        }
    }

    /// Nothing was settled for payment `key`: the claim goes, so the authorization may pay again.
    /// Its row goes from D1 at the next flush, even one D1 never took: a flush may be carrying it
    /// while this runs (the object takes requests while it waits on D1), and a delete of no row
    /// changes nothing.
    pub fn release(&mut self, key: &str) {
        let Some(at) = self.held.iter().position(|h| h.row.key == key && h.state == State::Verifying) else {
            return;
        };
        self.held.remove(at);
        self.released.push(key.to_owned());
    }

    /// Whether payment `key` is a top-up (it buys credits).
    pub fn buys_credits(&self, key: &str) -> bool {
        self.held.iter().any(|h| h.row.key == key && h.row.top_up.is_some())
    }

    /// Whether anything waits to reach D1.
    pub fn dirty(&self) -> bool {
        !self.released.is_empty() || self.held.iter().any(|h| !h.flushed)
    }

    /// The statements that bring D1 to what the object holds: released claims deleted, then each
    /// claim's row in its current state (an insert, or an update of the row an earlier flush wrote).
    pub fn flush(&self) -> PaymentsFlush {
        let mut statements: Vec<Statement> = self.released.iter().map(|k| x402::release(k)).collect();
        let mut states = Vec::new();
        for h in self.held.iter().filter(|h| !h.flushed) {
            statements.extend(record(h));
            states.push((h.row.key.clone(), h.state));
        }
        PaymentsFlush { statements, states, released: self.released.clone() }
    }

    /// D1 took `flush`.
    pub fn flushed(&mut self, flush: &PaymentsFlush) {
        for (key, state) in &flush.states {
            if let Some(h) = self.find(key).filter(|h| h.state == *state) {
                h.flushed = true;
            }
        }
        self.released.retain(|k| !flush.released.contains(k));
    }

    /// Marks claims open past `STALE_SECS` unconfirmed (their isolate ended mid-call: settle may
    /// have gone out), and forgets those no copy can run any more and D1 has.
    pub fn sweep(&mut self, now: i64) {
        for h in self.held.iter_mut().filter(|h| h.state == State::Verifying && h.created_at < now - STALE_SECS) {
            (h.state, h.reason, h.updated_at, h.flushed) = (State::Unconfirmed, Some("abandoned".into()), now, false);
        }
        self.held.retain(|h| !h.flushed || h.hold_until() >= now);
        self.known.retain(|k| k.until >= now);
    }

    /// When the object should next wake: now when anything waits for D1, else when the next
    /// claim turns stale or may be forgotten.
    pub fn next_alarm(&self, now: i64) -> Option<i64> {
        if self.dirty() {
            return Some(now);
        }
        let stale = |h: &Held| (h.state == State::Verifying).then_some(h.created_at + STALE_SECS + 1);
        let held = self.held.iter().map(|h| stale(h).unwrap_or_else(|| h.hold_until().saturating_add(1)));
        held.chain(self.known.iter().map(|k| k.until.saturating_add(1))).min()
    }

    /// How many payments are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn optional(s: Option<&str>) -> SqlValue {
    s.map_or(SqlValue::Null, text)
}

/// `h`'s row, and a settled top-up's grant (idempotent by its id).
fn record(h: &Held) -> Vec<Statement> {
    let r = &h.row;
    let params = vec![
        text(&r.key),
        text(&r.sub),
        text(&r.tool),
        text(&r.network),
        text(&r.asset),
        text(&r.amount),
        text(&r.pay_to),
        text(&r.payer),
        text(h.state.as_sql()),
        optional(h.reason.as_deref()),
        optional(h.tx.as_deref()),
        SqlValue::Int(h.created_at),
        SqlValue::Int(h.updated_at),
    ];
    let mut out = vec![Statement { sql: RECORD_SQL, params }];
    if let (State::Settled, Some(credits), Some(tx)) = (h.state, r.top_up, h.tx.as_deref()) {
        out.extend(x402::top_up_grant(&r.key, &r.sub, credits, tx, h.updated_at));
    }
    out
}

/// A held payment as D1 keeps it. An update moves a row only forward from `verifying` (or from
/// the D1 sweep's `abandoned`, when the object's outcome arrives after it), so a flush run twice,
/// or late, changes nothing twice.
const RECORD_SQL: &str = "\
INSERT INTO machine_payments (id, user_sub, tool, network, asset, amount, pay_to, payer, state, reason, tx, created_at, updated_at) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
ON CONFLICT (id) DO UPDATE SET state = excluded.state, reason = excluded.reason, tx = excluded.tx, updated_at = excluded.updated_at \
 WHERE excluded.state <> 'verifying' AND (machine_payments.state = 'verifying' \
   OR (machine_payments.state = 'unconfirmed' AND machine_payments.reason = 'abandoned'))";

#[path = "payer_import.rs"]
mod import;

#[cfg(test)]
#[path = "payer_tests.rs"]
mod tests;
