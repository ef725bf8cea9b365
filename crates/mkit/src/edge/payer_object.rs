//! A payer's machine payments (x402) in an `McpCounters` object named by the payer
//! (`billing::payer`): the claim before the facilitator is asked, and the outcome after, each
//! answered from the object's own storage; its alarm writes them to `machine_payments`. A settled
//! top-up is written at once, so the credits it bought count on the caller's next call. The
//! object's first claim reads in the payer's claims D1 already holds (once, at the primary).

use serde_json::{json, Value};
use worker::console_log;

use super::counter_object::{now_secs, McpCounters, Op};
use super::d1::batch_rows;
use crate::billing::payer::{Claim, PayerPayments};
use crate::billing::x402::Unsettled;

impl McpCounters {
    pub(super) fn with_payments<T>(&self, f: impl FnOnce(&mut PayerPayments) -> T) -> T {
        let mut kept = self.kept.borrow_mut();
        f(&mut kept.get_or_insert_with(Default::default).payments)
    }

    /// Answers `/claim` and `/payment`; `None` for any other operation.
    pub(super) async fn payment_op(&self, path: &str, op: &Op) -> Option<Value> {
        match path {
            "/claim" => {
                self.load().await;
                let Some(row) = op.row.clone() else { return Some(json!({ "claim": "invalid" })) };
                if self.import(&row.key).await.is_err() {
                    return Some(json!({ "claim": "unavailable" }));
                }
                let claim = match self.with_payments(|p| p.claim(row, now_secs())) {
                    Claim::Claimed => "claimed",
                    Claim::Used => "used",
                    Claim::Full => "full",
                };
                Some(json!({ "claim": claim }))
            }
            "/payment" => {
                self.load().await;
                Some(json!({ "ok": self.outcome(op).await }))
            }
            _ => None,
        }
    }

    /// Reads in the claims D1 holds under `key`'s prefix, the first time (fails closed).
    async fn import(&self, key: &str) -> Result<(), crate::billing::StoreError> {
        let now = now_secs();
        let Some(read) = self.with_payments(|p| p.import_read(key, now)) else { return Ok(()) };
        let rows = batch_rows(&self.env, &[read], false).await?;
        self.with_payments(|p| p.import(key, rows.first().map_or(&[][..], Vec::as_slice), now));
        Ok(())
    }

    /// Records how payment `op.key` ended; a settled top-up reaches D1 before the answer.
    async fn outcome(&self, op: &Op) -> bool {
        let now = now_secs();
        let (key, reason) = (op.key.as_str(), op.reason.as_str());
        match op.outcome.as_str() {
            "settled" => self.with_payments(|p| p.settle(key, &op.tx, now)),
            "failed" => self.with_payments(|p| p.close(key, Unsettled::Failed, reason, now)),
            "unconfirmed" => self.with_payments(|p| p.close(key, Unsettled::Unconfirmed, reason, now)),
            "released" => self.with_payments(|p| p.release(key)),
            _ => return false,
        }
        if op.outcome == "settled" && self.with_payments(|p| p.buys_credits(key)) {
            if let Err(e) = self.write_back().await {
                // The alarm writes it instead (save() sets it: the grant is still dirty).
                console_log!("{{\"event\":\"counters_flush\",\"error\":\"{}\"}}", e.code());
            }
        }
        true
    }
}
