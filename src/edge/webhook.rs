//! POST /stripe/webhook: the raw body is verified before anything reads it as JSON, then the
//! event is planned (pure, `billing::ledger`) and applied as one D1 batch.

use serde_json::json;
use worker::{Date, Env, Request};

use super::body::{read_capped, BodyError};
use super::{d1, respond};
use crate::billing::event::Event;
use crate::billing::ledger::{self, Statement};
use crate::billing::signature;
use crate::http::HttpReply;

const MAX_WEBHOOK_BYTES: usize = 512 * 1024;

pub async fn stripe(mut req: Request, env: &Env) -> HttpReply {
    let config = match respond::config(env) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
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
    match ledger::plan(&event, now * 1000) {
        Ok((disposition, statements)) => apply(env, &event, disposition, &statements).await,
        // A handled type we cannot read: 400, so the event stays in Stripe for retry.
        Err(e) => invalid_event(e.reason(), Some(&event.id)),
    }
}

fn invalid_event(reason: &str, event: Option<&str>) -> HttpReply {
    let body = json!({ "error": "invalid_event", "reason": reason, "event": event });
    HttpReply::json(400, &body, Some("invalid_event"))
}

/// 200 with what changed; 5xx when storage failed (the batch rolled back whole), so Stripe retries.
async fn apply(env: &Env, event: &Event, disposition: ledger::Disposition, statements: &[Statement]) -> HttpReply {
    match d1::apply_batch(env, statements).await {
        Err(e) => HttpReply::error(500, e.code()),
        Ok(changes) => {
            // The last statement is the dedupe row: 0 changes means it was already processed.
            let duplicate = changes.last().is_none_or(|c| *c == 0);
            let changed = changes.iter().rev().skip(1).sum::<usize>();
            let body = json!({ "received": true, "event": event.id, "type": event.kind,
                "outcome": disposition.as_str(), "duplicate": duplicate, "changes": changed });
            HttpReply::json(200, &body, None)
        }
    }
}
