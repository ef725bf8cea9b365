//! Machine payments (x402) on Workers: the offer from `MKIT_X402_*`, the claim of each payment in
//! D1 before the facilitator is asked (so a replayed or concurrent copy runs nothing), and the
//! facilitator's `/verify` and `/settle`, each within a deadline. Fails closed: a facilitator
//! or ledger that cannot answer runs nothing and charges nothing. Feature `billing`.

use serde_json::{json, Value};
use std::time::Duration;
use worker::{Env, Method};

use super::d1::{apply_batch, replica_rows};
use super::fetch::{send, Body, Outbound};
use crate::billing::x402::{self, MachineOffer, Payment, Resource, Unsettled};
use crate::config::Config;
use crate::mcp::context::LocalFuture;
use crate::mcp::tool::{ToolError, ToolInfo};
use crate::paywall::x402::{MachinePay, Refused, Verified};
use crate::price::MachinePaid;
use crate::sql::Statement;

/// A facilitator's answer is a small JSON object.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Verification is a signature and a balance read.
const VERIFY_DEADLINE: Duration = Duration::from_secs(10);
/// Settlement waits for a transaction; past this the outcome is unknown (`unconfirmed`).
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);

/// The caller's machine payments on this request.
pub struct MachinePayments<'a> {
    pub env: &'a Env,
    pub offer: &'a MachineOffer,
    pub sub: &'a str,
    /// The host of this server's resource URL, which names each tool's resource.
    pub host: &'a str,
    pub now_secs: i64,
}

impl<'a> MachinePayments<'a> {
    /// The caller's machine payments, where the deployment takes them (`MKIT_X402_PAY_TO`);
    /// `base_url` is the origin of this server's resource URL.
    pub fn for_caller(env: &'a Env, config: &'a Config, sub: &'a str, base_url: &'a str, now: u64) -> Option<Self> {
        let host = base_url.split_once("://").map_or(base_url, |(_, host)| host);
        let offer = config.x402.as_ref()?;
        Some(MachinePayments { env, offer, sub, host, now_secs: now as i64 })
    }
}

impl MachinePayments<'_> {
    fn resource<'t>(&self, tool: &'t ToolInfo) -> Resource<'t> {
        Resource::tool(self.host, tool.name, tool.description)
    }

    fn refused(&self, tool: &ToolInfo, credits: u32, why: &str) -> Refused {
        Refused { payment_required: self.offer.payment_required(&self.resource(tool), credits, why), settlement: None }
    }

    async fn verify_and_claim(&self, tool: &ToolInfo, credits: u32, payment: &Value) -> Result<Verified, Refused> {
        let requirements = self.offer.requirements(credits);
        let resource = self.resource(tool);
        let matched =
            x402::check(payment, &requirements, &resource.url).map_err(|m| self.refused(tool, credits, m.reason()))?;
        let claim = Payment { key: &matched.key, sub: self.sub, tool: tool.name, payer: &matched.payer };
        match apply_batch(self.env, &[claim.claim(self.offer, credits, self.now_secs)]).await {
            Ok(changed) if changed.first() == Some(&1) => {}
            Ok(_) => return Err(self.refused(tool, credits, "this payment was already used")),
            Err(_) => return Err(self.refused(tool, credits, UNRECORDED)),
        }
        let answer = facilitate(self.offer, "verify", payment, &requirements, VERIFY_DEADLINE).await;
        let why = match answer {
            Ok(v) if v.get("isValid") == Some(&Value::Bool(true)) => {
                return Ok(Verified { key: matched.key, payment: payment.clone(), requirements, credits });
            }
            Ok(v) => format!("the facilitator refused this payment: {}", reason(&v, "invalidReason")),
            Err(_) => "the facilitator cannot be reached now; nothing was charged: try again".to_owned(),
        };
        let _ = apply_batch(self.env, &[x402::release(&matched.key)]).await;
        Err(self.refused(tool, credits, &why))
    }

    /// Settles `paid`; once settled, records it with `then` (the settlement, or a top-up's grant).
    async fn settle_paid(
        &self,
        tool: &ToolInfo,
        paid: &Verified,
        then: impl FnOnce(&str) -> Vec<Statement>,
    ) -> Result<Value, Refused> {
        let answer = facilitate(self.offer, "settle", &paid.payment, &paid.requirements, SETTLE_DEADLINE).await;
        let (how, why, settlement) = match answer {
            Ok(v) if v.get("success") == Some(&Value::Bool(true)) => {
                let tx = v.get("transaction").and_then(Value::as_str).unwrap_or_default();
                // Recorded or not, the payer has paid: the result is theirs. An unrecorded row
                // stays `verifying`, and the sweep marks it unconfirmed for reconciliation.
                let _ = apply_batch(self.env, &then(tx)).await;
                return Ok(v);
            }
            Ok(v) => (Unsettled::Failed, reason(&v, "errorReason"), Some(v)),
            Err(e) => (Unsettled::Unconfirmed, e.code().to_owned(), None),
        };
        let _ = apply_batch(self.env, &[x402::unsettled(&paid.key, how, &why, self.now_secs)]).await;
        let message = match how {
            Unsettled::Failed => format!("Settlement failed: {why}; the result is withheld"),
            Unsettled::Unconfirmed => {
                "Settlement failed: the facilitator did not answer; the result is withheld".into()
            }
        };
        Err(Refused { settlement, ..self.refused(tool, paid.credits, &message) })
    }
}

/// The ledger could not record the claim: nothing runs, nothing is charged.
const UNRECORDED: &str = "payments cannot be recorded now; nothing was charged: try again";

/// A facilitator's reason code (x402's are `snake_case`), as it may reach the caller: letters,
/// digits and `_` only, at most 100 of them; its free-text message never does.
fn reason(answer: &Value, field: &str) -> String {
    let code = answer.get(field).and_then(Value::as_str).unwrap_or_default();
    let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(100).collect();
    if code.is_empty() {
        "no_reason_given".to_owned()
    } else {
        code
    }
}

/// POSTs `{ x402Version, paymentPayload, paymentRequirements }` to the facilitator's `/{path}`, as
/// `@x402/core`'s `HTTPFacilitatorClient` does, with a CDP key's JWT where one is set (as
/// `@coinbase/x402`'s facilitator config adds it); the JSON object it answers. A 4xx answer that
/// still carries the verdict (`isValid`, `success`) counts as that verdict, as that client reads
/// it; any other answer is no answer.
async fn facilitate(
    offer: &MachineOffer,
    path: &str,
    payment: &Value,
    requirements: &Value,
    deadline: Duration,
) -> Result<Value, super::fetch::FetchError> {
    use super::fetch::FetchError;
    let body =
        json!({ "x402Version": x402::X402_VERSION, "paymentPayload": payment, "paymentRequirements": requirements });
    let url = format!("{}/{path}", offer.facilitator);
    let mut headers = vec![("accept", "application/json".to_owned())];
    if let Some(auth) = &offer.facilitator_auth {
        // Signed now, not when the call began: a settle after a long run must not carry a token
        // that expired during it (it lives 120 s).
        let now_secs = (worker::Date::now().as_millis() / 1000) as i64;
        headers
            .push(("authorization", super::cdp::authorization(auth, path, now_secs).await.ok_or(FetchError::Failed)?));
    }
    let out = Outbound { method: Method::Post, url: &url, headers, body: Some(Body::Json(body.to_string())) };
    let (status, bytes) = send(out, MAX_ANSWER_BYTES, deadline).await?;
    let answer: Value = serde_json::from_slice(&bytes).map_err(|_| FetchError::Status)?;
    let verdict = if path == "verify" { "isValid" } else { "success" };
    match answer.get(verdict) {
        Some(Value::Bool(_)) if (200..300).contains(&status) || (400..500).contains(&status) => Ok(answer),
        _ => Err(FetchError::Status),
    }
}

impl MachinePay for MachinePayments<'_> {
    fn offer(&self, tool: &ToolInfo, credits: u32, error: &str) -> Value {
        self.offer.payment_required(&self.resource(tool), credits, error)
    }

    fn verify<'a>(
        &'a self,
        tool: &'a ToolInfo,
        credits: u32,
        payment: &'a Value,
    ) -> LocalFuture<'a, Result<Verified, Refused>> {
        Box::pin(self.verify_and_claim(tool, credits, payment))
    }

    fn settle<'a>(&'a self, tool: &'a ToolInfo, paid: &'a Verified) -> LocalFuture<'a, Result<Value, Refused>> {
        Box::pin(self.settle_paid(tool, paid, |tx| vec![x402::settled(&paid.key, tx, self.now_secs)]))
    }

    fn top_up<'a>(&'a self, tool: &'a ToolInfo, paid: &'a Verified) -> LocalFuture<'a, Result<Value, Refused>> {
        let grant = |tx: &str| x402::settled_top_up(&paid.key, self.sub, paid.credits, tx, self.now_secs);
        Box::pin(self.settle_paid(tool, paid, grant))
    }

    fn release<'a>(&'a self, paid: &'a Verified) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            let _ = apply_batch(self.env, &[x402::release(&paid.key)]).await;
        })
    }

    fn paid(&self) -> LocalFuture<'_, Result<MachinePaid, ToolError>> {
        Box::pin(async move {
            let rows: Vec<Value> = replica_rows(self.env, &x402::paid(self.sub)).await.map_err(|e| {
                ToolError::new(format!("machine payments cannot be read now ({}); try again", e.code()))
            })?;
            self.paid_from(&rows)
        })
    }

    fn paid_read(&self) -> Option<Statement> {
        Some(x402::paid(self.sub))
    }

    fn paid_from(&self, rows: &[Value]) -> Result<MachinePaid, ToolError> {
        let (calls, amount) = x402::total(rows.iter().filter_map(|r| r.get("amount")?.as_str()));
        let n = self.offer.network;
        Ok(MachinePaid { calls, amount, asset: n.asset.to_owned(), network: n.id.to_owned() })
    }
}
