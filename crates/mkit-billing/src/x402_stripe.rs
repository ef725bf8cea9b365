//! Machine payments into the seller's Stripe balance and reports (`MKIT_X402_STRIPE=on`): the
//! payments settle on chain to a Stripe crypto deposit address (`MKIT_X402_PAY_TO`), and each
//! settled one is then recorded as a crypto PaymentIntent that Stripe checks against the chain
//! (`payment_method_options.crypto.mode = transaction_verification`), idempotent by the
//! transaction hash, as Stripe's own x402 sample (`stripe-samples/machine-payments`) records them.
//! The scheduled run does it: a payment is never held up by Stripe, and one Stripe cannot take now
//! waits for the next run (`migrations/0014_machine_payments_stripe.sql`).

use mkit_kernel::sql::{SqlValue, Statement};
use serde::Deserialize;

/// The Stripe-Version crypto PaymentIntents need: Stripe's x402 sample sends this preview
/// version for them; the API's stable versions do not yet take `transaction_verification`.
pub const STRIPE_CRYPTO_VERSION: &str = "2026-05-27.preview";

/// Rows one scheduled run records at most; the rest wait for the next.
pub const BATCH: i64 = 50;

/// One USDC cent in atomic units (6 decimals).
const ATOMIC_PER_CENT: u64 = 10_000;

/// Stripe's name for a network mKit settles on, where Stripe takes deposits: Base. (A Stripe
/// sandbox's `base` is Base Sepolia, as Stripe's x402 sample pays with testnet USDC there.)
pub fn stripe_network(network_id: &str) -> Option<&'static str> {
    matches!(network_id, "eip155:8453" | "eip155:84532").then_some("base")
}

/// An amount of USDC in atomic units as whole US cents; `None` for a fraction of a cent or
/// nothing (Stripe's amounts are whole cents, and the transfer must match the PaymentIntent).
pub fn cents(atomic: &str) -> Option<u64> {
    let n: u64 = atomic.parse().ok()?;
    (n > 0 && n.is_multiple_of(ATOMIC_PER_CENT)).then_some(n / ATOMIC_PER_CENT)
}

/// A settled payment Stripe has not recorded yet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Unrecorded {
    /// The payment's id (`network:asset:payer:nonce`), recorded as `metadata.mkit_payment`.
    pub id: String,
    /// Atomic units, as decimal text.
    pub amount: String,
    /// The settlement's transaction hash: what Stripe verifies, and the idempotency key.
    pub tx: String,
    /// Who paid (`metadata.mkit_user`).
    pub user_sub: String,
    /// For which tool (`metadata.mkit_tool`).
    pub tool: String,
}

const UNRECORDED_SQL: &str = "\
SELECT id, amount, tx, user_sub, tool FROM machine_payments \
WHERE state = 'settled' AND tx IS NOT NULL AND tx <> '' AND stripe_payment_intent IS NULL \
AND stripe_error IS NULL AND network = ?1 AND lower(pay_to) = lower(?2) ORDER BY updated_at LIMIT ?3";
const RECORDED_SQL: &str =
    "UPDATE machine_payments SET stripe_payment_intent = ?2 WHERE id = ?1 AND stripe_payment_intent IS NULL";
const REFUSED_SQL: &str =
    "UPDATE machine_payments SET stripe_error = ?2 WHERE id = ?1 AND stripe_payment_intent IS NULL";

/// The settled payments to the deposit address `pay_to` on `network` Stripe has not recorded.
pub fn unrecorded(network: &str, pay_to: &str) -> Statement {
    let params = vec![SqlValue::Text(network.into()), SqlValue::Text(pay_to.into()), SqlValue::Int(BATCH)];
    Statement { sql: UNRECORDED_SQL, params }
}

/// What one recording came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stripe recorded it: the PaymentIntent's id.
    Recorded(String),
    /// Stripe could not answer now (no answer, 429, 5xx): the next run tries again.
    Retry,
    /// Stripe refused it for good (its error code, or the status): shown to the operator,
    /// never sent again.
    Refused(String),
}

impl Outcome {
    /// Stripe's answer (`None`: none came) to the PaymentIntent's creation.
    pub fn of_answer(answer: Option<(u16, &[u8])>) -> Outcome {
        let Some((status, body)) = answer else { return Outcome::Retry };
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        match status {
            200..=299 => match json.get("id").and_then(serde_json::Value::as_str) {
                Some(id) if id.starts_with("pi_") => Outcome::Recorded(id.to_owned()),
                _ => Outcome::Retry,
            },
            409 | 429 | 500..=599 => Outcome::Retry,
            _ => {
                let code = json.pointer("/error/code").and_then(serde_json::Value::as_str).unwrap_or_default();
                let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(60).collect();
                Outcome::Refused(if code.is_empty() { format!("stripe_{status}") } else { code })
            }
        }
    }

    /// The ledger's record of it (`None` for a retry: nothing changes).
    pub fn record(&self, id: &str) -> Option<Statement> {
        let (sql, value) = match self {
            Outcome::Recorded(pi) => (RECORDED_SQL, pi),
            Outcome::Refused(code) => (REFUSED_SQL, code),
            Outcome::Retry => return None,
        };
        Some(Statement { sql, params: vec![SqlValue::Text(id.into()), SqlValue::Text(value.clone())] })
    }
}

#[cfg(test)]
#[path = "x402_stripe_tests.rs"]
mod tests;
