//! A verified Stripe webhook body: `Event::parse`, then `ledger::plan` (the SQL batch it becomes)
//! under a permissive and a strict `LedgerPolicy`; and the Checkout `client_reference_id` it may
//! carry (`billing::reference`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::billing::event::{Event, HANDLED_TYPES};
use mkit::billing::ledger::{plan, Disposition, LedgerPolicy};
use mkit::billing::reference::{client_reference, verify_client_reference};
use serde_json::Value;

const NOW_MS: i64 = 1_800_000_000_000;
/// The key fuzz/seeds/stripe_event's minted references were made with.
const KEY: [u8; 32] = [0x42; 32];

/// The highest `?N` placeholder in a statement.
fn max_placeholder(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    for (i, _) in sql.match_indices('?') {
        let digits: String = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).map(|c| *c as char).collect();
        max = max.max(digits.parse().unwrap_or(0));
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::parse(data) else { return };
    assert!(event.id.starts_with("evt_") && !event.kind.is_empty());

    let permissive = LedgerPolicy { livemode: None, account: None, reference_keys: vec![[0; 32], KEY] };
    let strict = LedgerPolicy { livemode: Some(false), account: Some("acct_fuzz".into()), reference_keys: vec![KEY] };
    for policy in [&permissive, &strict] {
        let Ok((disposition, statements)) = plan(&event, policy, NOW_MS) else { continue };
        let applies = HANDLED_TYPES.contains(&event.kind.as_str()) && policy.refuses(&event).is_none();
        assert_eq!(disposition == Disposition::Applied, applies, "{} under {policy:?}", event.kind);
        // Every plan ends with the event's dedupe row, and binds exactly the parameters its SQL names.
        assert!(!statements.is_empty(), "no dedupe row");
        if let Disposition::Ignored(_) = disposition {
            assert_eq!(statements.len(), 1, "an ignored event changes nothing but its dedupe row");
        }
        for s in &statements {
            assert_eq!(max_placeholder(s.sql), s.params.len(), "{}", s.sql);
        }
    }

    // A reference verifies to the sub it was minted for, and to nothing under another key.
    if let Some(value) = event.object.get("client_reference_id").and_then(Value::as_str) {
        if let Some(sub) = verify_client_reference(&[KEY], value) {
            assert!(verify_client_reference(&[[0; 32]], value).is_none(), "a reference verified under two keys");
            assert_eq!(client_reference(&KEY, &sub).as_deref(), Some(value), "a reference that is not canonical");
        }
        if let Some(minted) = client_reference(&KEY, value) {
            assert_eq!(verify_client_reference(&[[0; 32], KEY], &minted).as_deref(), Some(value));
        }
    }
});
