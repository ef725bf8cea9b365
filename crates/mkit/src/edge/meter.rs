//! The scheduled export of metered usage to Stripe's meter events API (`billing::meter`): each
//! due row is sent with its id as `identifier`, and its outcome is written before the next is
//! sent, so a run that ends early loses nothing and resends nothing Stripe would count twice.

use std::time::Duration;
use worker::{console_log, Env};

use super::billing::send_to_stripe;
use super::d1;
use crate::billing::meter::{self, Outcome, Pending};
use crate::config::Config;
use crate::web::stripe;

/// Each meter event call ends within this; a slower answer is retried on a later run.
const METER_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends what is due. Without a Stripe key there is nowhere to send: rows wait (and show in
/// `/healthz`).
pub async fn export(env: &Env, config: &Config, now_secs: i64) {
    let Some(key) = config.stripe_secret_key.as_deref() else { return };
    let rows: Vec<Pending> = match d1::rows(env, &meter::pending(now_secs)).await {
        Ok(rows) => rows,
        Err(e) => return console_log!("{{\"event\":\"meter_export\",\"error\":\"{}\"}}", e.code()),
    };
    if rows.is_empty() {
        return;
    }
    let (mut sent, mut retry, mut flagged) = (0, 0, 0);
    for row in &rows {
        let outcome = match (row.precheck(now_secs), row.customer_id.as_deref()) {
            (Some(early), _) => early,
            (None, None) => Outcome::Retry,
            (None, Some(customer)) => {
                let answer = call(env, key, row, customer).await;
                Outcome::of_answer(answer.as_ref().map(|(status, body)| (*status, body.as_slice())))
            }
        };
        match &outcome {
            Outcome::Sent => sent += 1,
            Outcome::Retry => retry += 1,
            Outcome::Flag(_) => flagged += 1,
        }
        if d1::apply_batch(env, &[row.record(&outcome, now_secs)]).await.is_err() {
            // Sent but not marked: the next run resends it and Stripe dedupes the identifier.
            break;
        }
    }
    console_log!("{{\"event\":\"meter_export\",\"sent\":{sent},\"retry\":{retry},\"flagged\":{flagged}}}");
}

/// One meter event, with the identifier as idempotency key too.
async fn call(env: &Env, key: &str, row: &Pending, customer: &str) -> Option<(u16, Vec<u8>)> {
    let request = stripe::meter_event(row, customer);
    send_to_stripe(env, key, &request, Some(row.id.clone()), METER_TIMEOUT).await.ok()
}
