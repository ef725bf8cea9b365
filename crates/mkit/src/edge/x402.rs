//! Machine payments (x402) on Workers: the offer from `MKIT_X402_*`, the claim of each payment
//! before the facilitator is asked (so a replayed or concurrent copy runs nothing), and the
//! facilitator's `/verify` and `/settle`, each within a deadline. The claim and the outcome are
//! kept in the payer's object where `MKIT_COUNTERS` is bound (`payer_object.rs`: no D1 write on
//! the call's path), else in D1 at the primary. Fails closed: a facilitator or ledger that cannot
//! answer runs nothing and charges nothing. Feature `billing`.

use serde_json::{json, Value};
use std::time::Duration;
use worker::{Env, Method};

use super::d1::{apply_batch, replica_rows};
use super::fetch::{send, Body, Outbound};
use crate::billing::x402::{self, MachineOffer, Matched, Payment, Resource, Unsettled};
use crate::billing::StoreError;
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
        match self.claim(tool, credits, &matched).await {
            Ok(true) => {}
            Ok(false) => return Err(self.refused(tool, credits, "this payment was already used")),
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
        self.record(&matched.key, Outcome::Released).await;
        Err(self.refused(tool, credits, &why))
    }

    /// Claims `matched` for this call: `false` when it was claimed already.
    async fn claim(&self, tool: &ToolInfo, credits: u32, matched: &Matched) -> Result<bool, StoreError> {
        let claim = Payment { key: &matched.key, sub: self.sub, tool: tool.name, payer: &matched.payer };
        match keeper(self.env, &matched.payer) {
            Keeper::D1 => {
                let changed = apply_batch(self.env, &[claim.claim(self.offer, credits, self.now_secs)]).await?;
                Ok(changed.first() == Some(&1))
            }
            #[cfg(feature = "counters")]
            Keeper::Payer(object) => {
                use crate::price::Priced;
                let top_up = tool.price().is_some_and(|p| p.buys_credits);
                match object.claim(&claim.row(self.offer, credits, matched.valid_before, top_up)).await? {
                    crate::billing::payer::Claim::Claimed => Ok(true),
                    crate::billing::payer::Claim::Used => Ok(false),
                    crate::billing::payer::Claim::Full => Err(StoreError::Query),
                }
            }
        }
    }

    /// Keeps how payment `key` ended. A failure is only logged: the sweep closes what stays open.
    async fn record(&self, key: &str, outcome: Outcome<'_>) {
        let kept = match keeper(self.env, x402::payer_of(key)) {
            Keeper::D1 => apply_batch(self.env, &outcome.statements(key, self.now_secs)).await.map(drop),
            #[cfg(feature = "counters")]
            Keeper::Payer(object) => {
                let (name, tx, why) = outcome.parts();
                object.payment_outcome(key, name, tx, why).await
            }
        };
        if let Err(e) = kept {
            worker::console_log!("{{\"event\":\"x402_record\",\"error\":\"{}\"}}", e.code());
        }
    }

    /// Settles `paid`; once settled, records it (with the credits it bought, for a top-up).
    async fn settle_paid(&self, tool: &ToolInfo, paid: &Verified, top_up: bool) -> Result<Value, Refused> {
        let answer = facilitate(self.offer, "settle", &paid.payment, &paid.requirements, SETTLE_DEADLINE).await;
        let (how, why, settlement) = match answer {
            Ok(v) if v.get("success") == Some(&Value::Bool(true)) => {
                let tx = v.get("transaction").and_then(Value::as_str).unwrap_or_default();
                // Recorded or not, the payer has paid: the result is theirs. An unrecorded row
                // stays `verifying`, and the sweep marks it unconfirmed for reconciliation.
                let credits = top_up.then_some((self.sub, paid.credits));
                self.record(&paid.key, Outcome::Settled { tx, top_up: credits }).await;
                return Ok(v);
            }
            Ok(v) => (Unsettled::Failed, reason(&v, "errorReason"), Some(v)),
            Err(e) => (Unsettled::Unconfirmed, e.code().to_owned(), None),
        };
        self.record(&paid.key, Outcome::Unsettled(how, &why)).await;
        let message = match how {
            Unsettled::Failed => format!("Settlement failed: {why}; the result is withheld"),
            Unsettled::Unconfirmed => {
                "Settlement failed: the facilitator did not answer; the result is withheld".into()
            }
        };
        Err(Refused { settlement, ..self.refused(tool, paid.credits, &message) })
    }
}

/// Where a payer's claims and outcomes are kept.
enum Keeper {
    /// D1, at the primary.
    D1,
    /// The payer's `McpCounters` object.
    #[cfg(feature = "counters")]
    Payer(super::counters::Counters),
}

/// The payer's object where `MKIT_COUNTERS` is bound and built, else D1.
#[cfg_attr(not(feature = "counters"), expect(unused_variables))]
fn keeper(env: &Env, payer: &str) -> Keeper {
    #[cfg(feature = "counters")]
    if let Some(object) = super::counters::Counters::for_payer(env, payer) {
        return Keeper::Payer(object);
    }
    Keeper::D1
}

/// How a claimed payment ended.
enum Outcome<'a> {
    /// Settled in `tx`; a top-up's (caller, credits) are granted with it.
    Settled { tx: &'a str, top_up: Option<(&'a str, u32)> },
    /// Verified and run, not settled.
    Unsettled(Unsettled, &'a str),
    /// Nothing settled: the authorization may pay again.
    Released,
}

impl Outcome<'_> {
    fn statements(&self, key: &str, now: i64) -> Vec<Statement> {
        match self {
            Outcome::Settled { tx, top_up: None } => vec![x402::settled(key, tx, now)],
            Outcome::Settled { tx, top_up: Some((sub, credits)) } => x402::settled_top_up(key, sub, *credits, tx, now),
            Outcome::Unsettled(how, why) => vec![x402::unsettled(key, *how, why, now)],
            Outcome::Released => vec![x402::release(key)],
        }
    }

    /// The outcome as the payer's object takes it: its name, the transaction and the reason.
    #[cfg(feature = "counters")]
    fn parts(&self) -> (&'static str, &str, &str) {
        match self {
            Outcome::Settled { tx, .. } => ("settled", tx, ""),
            Outcome::Unsettled(Unsettled::Failed, why) => ("failed", "", why),
            Outcome::Unsettled(Unsettled::Unconfirmed, why) => ("unconfirmed", "", why),
            Outcome::Released => ("released", "", ""),
        }
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
        Box::pin(self.settle_paid(tool, paid, false))
    }

    fn top_up<'a>(&'a self, tool: &'a ToolInfo, paid: &'a Verified) -> LocalFuture<'a, Result<Value, Refused>> {
        Box::pin(self.settle_paid(tool, paid, true))
    }

    fn release<'a>(&'a self, paid: &'a Verified) -> LocalFuture<'a, ()> {
        Box::pin(self.record(&paid.key, Outcome::Released))
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
