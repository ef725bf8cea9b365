//! Stripe event envelopes: the fields the ledger needs, read from a verified body.

use serde_json::Value;

/// The event types the entitlement ledger applies (`ledger::plan`). Anything else is acknowledged
/// and recorded as ignored.
pub const HANDLED_TYPES: &[&str] = &[
    "checkout.session.completed",
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

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// `event.created`, seconds since the epoch: orders events for the same object.
    pub created: i64,
    pub object: Value,
}

impl Event {
    pub fn parse(body: &[u8]) -> Result<Event, &'static str> {
        let v: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
        let id = v.get("id").and_then(Value::as_str).filter(|i| i.starts_with("evt_")).ok_or("missing event id")?;
        let kind = v.get("type").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or("missing event type")?;
        let created = v.get("created").and_then(Value::as_i64).ok_or("missing event created")?;
        let object = v.get("data").and_then(|d| d.get("object")).cloned().ok_or("missing data.object")?;
        Ok(Event { id: id.to_owned(), kind: kind.to_owned(), created, object })
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
