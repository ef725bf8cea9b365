//! POST /stripe/webhook: the raw body is verified before anything reads it as JSON, then the
//! event is planned (pure, `billing::ledger`) and applied as one D1 batch.

use serde_json::json;
use worker::{Date, Env, Request};

use super::body::{read_capped, BodyError};
use super::d1;
use super::isolate::Isolate;
use crate::billing::event::Event;
use crate::billing::ledger::{self, LedgerPolicy, Statement};
use crate::billing::signature;
use crate::config::{Config, StripeMode};
use crate::http::HttpReply;
use crate::keyring::{self, Purpose};

const MAX_WEBHOOK_BYTES: usize = 512 * 1024;

pub async fn stripe(mut req: Request, env: &Env, iso: &Isolate) -> HttpReply {
    let config = match iso.config(env) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    if config.stripe_webhook_secrets.is_empty() {
        // No paid tool and no secret: billing is off here, and nothing can be verified.
        let body = json!({ "error": "billing_disabled",
            "error_description": "this server sells nothing: set STRIPE_WEBHOOK_SECRET to receive Stripe events" });
        return HttpReply::json(404, &body, Some("billing_disabled"));
    }
    let body = match read_capped(&mut req, MAX_WEBHOOK_BYTES).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return HttpReply::error(413, "payload_too_large"),
        Err(BodyError::Unreadable) => return HttpReply::error(400, "body_unreadable"),
    };
    let now = (Date::now().as_millis() / 1000) as i64;
    let header = req.headers().get("Stripe-Signature").ok().flatten();
    if let Err(e) = signature::verify(header.as_deref(), &body, &config.stripe_webhook_secrets, now) {
        let body = json!({ "error": "signature_invalid", "reason": e.reason() });
        return HttpReply::json(400, &body, Some("signature_invalid"));
    }
    let event = match Event::parse(&body) {
        Ok(e) => e,
        Err(e) => return invalid_event(e.reason(), None),
    };
    match ledger::plan(&event, &policy(&config), now * 1000) {
        Ok((disposition, statements)) => apply(env, iso, &event, disposition, &statements).await,
        // A handled type we cannot read: 400, so the event stays in Stripe for retry.
        Err(e) => invalid_event(e.reason(), Some(&event.id)),
    }
}

/// Which events apply (mode, Connect account) and the keys mKit's client references verify with.
fn policy(config: &Config) -> LedgerPolicy {
    LedgerPolicy {
        livemode: config.stripe_mode.map(|m| m == StripeMode::Live),
        account: config.stripe_account.clone(),
        reference_keys: keyring::ring(&config.deployment_secrets, Purpose::ClientReference),
    }
}

fn invalid_event(reason: &str, event: Option<&str>) -> HttpReply {
    let body = json!({ "error": "invalid_event", "reason": reason, "event": event });
    HttpReply::json(400, &body, Some("invalid_event"))
}

/// 200 with what changed (refused binding claims are recorded, and counted in `conflicts`; an
/// event the policy refuses is `ignored` with its `reason`); 5xx when storage failed (the batch
/// rolled back whole), so Stripe retries.
async fn apply(
    env: &Env,
    iso: &Isolate,
    event: &Event,
    disposition: ledger::Disposition,
    statements: &[Statement],
) -> HttpReply {
    match d1::apply_batch(env, statements).await {
        Err(e) => HttpReply::error(500, e.code()),
        Ok(changes) => {
            let s = ledger::summarize(statements, &changes);
            if s.changes > 0 {
                // This isolate's recent keys may now grant too much; others' lapse within the TTL.
                iso.entitlements.borrow_mut().clear();
            }
            let mut body = json!({ "received": true, "event": event.id, "type": event.kind,
                "outcome": disposition.as_str(), "duplicate": s.duplicate, "changes": s.changes, "conflicts": s.conflicts });
            if let Some(reason) = disposition.reason() {
                body["reason"] = reason.into();
            }
            HttpReply::json(200, &body, None)
        }
    }
}
