//! Stripe event envelopes: the fields the ledger needs, read from a verified body.

use serde_json::Value;

/// The event types the entitlement ledger applies (`ledger::plan`). Anything else is acknowledged
/// and recorded as ignored.
pub const HANDLED_TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "customer.created",
    "customer.updated",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.paid",
    "invoice.payment_failed",
    "entitlements.active_entitlement_summary.updated",
];

/// A Stripe event envelope: what the ledger reads of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event id (`evt_…`), the ledger's dedupe key.
    pub id: String,
    /// The event `type` (`invoice.paid`…).
    pub kind: String,
    /// `event.created`, seconds since the epoch: orders events for the same object.
    pub created: i64,
    /// `data.object`: the object the event is about, as sent.
    pub object: Value,
    /// `event.livemode`: whether the event comes from live mode. Stripe always sends it.
    pub livemode: Option<bool>,
    /// `event.account`: the connected account a Connect endpoint received it for; absent for the
    /// endpoint's own account. Any non-null value is kept, so an odd one is never mistaken for none.
    pub account: Option<String>,
}

/// A verified body that is not a Stripe event envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventError {
    /// The body is not JSON.
    NotJson,
    /// No `id` starting with `evt_`.
    Id,
    /// No non-empty `type`.
    Type,
    /// No integer `created`.
    Created,
    /// No `data.object`.
    Object,
}

impl EventError {
    /// What is wrong, for the 400 answer.
    pub fn reason(self) -> &'static str {
        match self {
            EventError::NotJson => "body is not JSON",
            EventError::Id => "missing event id",
            EventError::Type => "missing event type",
            EventError::Created => "missing event created",
            EventError::Object => "missing data.object",
        }
    }
}

impl Event {
    /// Reads the envelope of a verified webhook body.
    pub fn parse(body: &[u8]) -> Result<Event, EventError> {
        let v: Value = serde_json::from_slice(body).map_err(|_| EventError::NotJson)?;
        let id = v.get("id").and_then(Value::as_str).filter(|i| i.starts_with("evt_")).ok_or(EventError::Id)?;
        let kind = v.get("type").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or(EventError::Type)?;
        let created = v.get("created").and_then(Value::as_i64).ok_or(EventError::Created)?;
        let object = v.get("data").and_then(|d| d.get("object")).cloned().ok_or(EventError::Object)?;
        let livemode = v.get("livemode").and_then(Value::as_bool);
        let account = match v.get("account") {
            None | Some(Value::Null) => None,
            Some(Value::String(a)) => Some(a.clone()),
            Some(other) => Some(other.to_string()),
        };
        Ok(Event { id: id.to_owned(), kind: kind.to_owned(), created, object, livemode, account })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_envelope() {
        let e =
            Event::parse(br#"{"id":"evt_1","type":"customer.created","created":17,"data":{"object":{"id":"cus_1"}}}"#)
                .expect("event");
        assert_eq!((e.id.as_str(), e.kind.as_str(), e.created), ("evt_1", "customer.created", 17));
        assert_eq!((e.livemode, e.account), (None, None));
    }

    #[test]
    fn reads_the_mode_and_the_account() {
        let e = Event::parse(
            br#"{"id":"evt_1","type":"x","created":1,"livemode":true,"account":"acct_1","data":{"object":{}}}"#,
        )
        .expect("event");
        assert_eq!((e.livemode, e.account.as_deref()), (Some(true), Some("acct_1")));
        let e = Event::parse(
            br#"{"id":"evt_1","type":"x","created":1,"livemode":false,"account":null,"data":{"object":{}}}"#,
        )
        .expect("event");
        assert_eq!((e.livemode, e.account), (Some(false), None));
        let e =
            Event::parse(br#"{"id":"evt_1","type":"x","created":1,"account":7,"data":{"object":{}}}"#).expect("event");
        assert_eq!(e.account.as_deref(), Some("7"), "an odd account is still an account");
    }

    #[test]
    fn refuses_what_is_not_an_event() {
        for body in [
            &br#"not json"#[..],
            br#"{"type":"x","created":1,"data":{"object":{}}}"#,
            br#"{"id":"cus_1","type":"x","created":1,"data":{"object":{}}}"#,
            br#"{"id":"evt_1","created":1,"data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"x","created":"yesterday","data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"x","created":1}"#,
        ] {
            assert!(Event::parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
