//! The scheduled recording of settled machine payments in Stripe (`billing::x402_stripe`): each
//! is sent with its transaction hash as the idempotency key, and its outcome is written before
//! the next is sent, so a run that ends early loses nothing and Stripe records nothing twice.

use std::time::Duration;
use worker::{console_log, Env};

use super::billing::send_to_stripe_as;
use super::d1;
use crate::billing::x402_stripe::{self, cents, stripe_network, Outcome, Unrecorded, STRIPE_CRYPTO_VERSION};
use crate::config::Config;
use crate::web::stripe;

/// Each PaymentIntent call ends within this; a slower answer is retried on a later run.
const RECORD_TIMEOUT: Duration = Duration::from_secs(10);

/// Records what is due, where `MKIT_X402_STRIPE` is on (configuration has checked the rest).
pub async fn record(env: &Env, config: &Config) {
    let Some(offer) = config.x402.as_ref().filter(|o| o.record_in_stripe) else { return };
    let (Some(key), Some(network)) = (config.stripe_secret_key.as_deref(), stripe_network(offer.network.id)) else {
        return;
    };
    let rows: Vec<Unrecorded> = match d1::rows(env, &x402_stripe::unrecorded(offer.network.id, &offer.pay_to)).await {
        Ok(rows) => rows,
        Err(e) => return console_log!("{{\"event\":\"x402_stripe\",\"error\":\"{}\"}}", e.code()),
    };
    let (mut recorded, mut retry, mut refused) = (0, 0, 0);
    for row in &rows {
        let outcome = match cents(&row.amount) {
            None => Outcome::Refused("amount_not_whole_cents".into()),
            Some(c) => {
                let request = stripe::crypto_payment_intent(row, c, network);
                let answer =
                    send_to_stripe_as(env, key, &request, Some(row.tx.clone()), RECORD_TIMEOUT, STRIPE_CRYPTO_VERSION)
                        .await
                        .ok();
                Outcome::of_answer(answer.as_ref().map(|(status, body)| (*status, body.as_slice())))
            }
        };
        match &outcome {
            Outcome::Recorded(_) => recorded += 1,
            Outcome::Retry => retry += 1,
            Outcome::Refused(_) => refused += 1,
        }
        if let Some(write) = outcome.record(&row.id) {
            if d1::apply_batch(env, &[write]).await.is_err() {
                // Recorded but not marked: the next run resends it under the same idempotency key.
                break;
            }
        }
    }
    if !rows.is_empty() {
        console_log!("{{\"event\":\"x402_stripe\",\"recorded\":{recorded},\"retry\":{retry},\"refused\":{refused}}}");
    }
}
