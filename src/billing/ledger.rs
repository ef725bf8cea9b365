//! The entitlement ledger: what a verified Stripe event changes, as SQL statements the store runs
//! in one batch (one transaction), last of all the event's dedupe row. Pure.
//!
//! - **Nothing applied twice:** every change is guarded by "this event id is not yet in
//!   `processed_events`", and the batch ends by inserting it. A redelivery changes nothing; a
//!   batch that fails part-way rolls back whole, dedupe row included, so Stripe's retry applies it.
//! - **Out of order:** every row keeps the `event.created` of the last event applied to it, and an
//!   older event leaves it alone. Equal timestamps apply in delivery order.
//! - **Terminal states:** a `canceled` or `incomplete_expired` subscription never changes again
//!   (Stripe cannot reactivate one), so a late `updated` cannot re-grant access.

use serde_json::Value;

use super::event::Event;

/// A value bound to a statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Null,
}

/// One parameterised statement; `?N` in `sql` is `params[N-1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: &'static str,
    pub params: Vec<SqlValue>,
}

/// What the webhook reports and records for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A type the ledger applies.
    Applied,
    /// A type the ledger does not use: acknowledged and recorded so it is not retried.
    Ignored,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Applied => "applied",
            Disposition::Ignored => "ignored",
        }
    }
}

/// The caller's entitlements in one indexed query (`customers_user_sub`, `subscriptions_customer`,
/// the summaries' primary key): feature lookup keys of the latest summaries, and price lookup keys
/// of active or trialing subscriptions, over every customer bound to the OAuth subject `?1`.
pub const ENTITLEMENTS_SQL: &str = "\
SELECT j.value AS key FROM customers c \
  JOIN subscriptions s ON s.customer_id = c.customer_id AND s.status IN ('active', 'trialing') \
  JOIN json_each(s.price_lookup_keys) j \
 WHERE c.user_sub = ?1 AND j.type = 'text' \
UNION \
SELECT j.value AS key FROM customers c \
  JOIN entitlement_summaries e ON e.customer_id = c.customer_id \
  JOIN json_each(e.feature_lookup_keys) j \
 WHERE c.user_sub = ?1 AND j.type = 'text' \
ORDER BY key";

const BIND_CUSTOMER: &str = "\
INSERT INTO customers (customer_id, user_sub, bound_created) \
SELECT ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (customer_id) DO UPDATE SET user_sub = excluded.user_sub, bound_created = excluded.bound_created \
WHERE excluded.bound_created >= customers.bound_created";

const UPSERT_SUBSCRIPTION: &str = "\
INSERT INTO subscriptions (id, customer_id, status, price_lookup_keys, current_period_end, last_event_created) \
SELECT ?2, ?3, ?4, ?5, ?6, ?7 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status, \
  price_lookup_keys = excluded.price_lookup_keys, current_period_end = excluded.current_period_end, \
  last_event_created = excluded.last_event_created \
WHERE excluded.last_event_created >= subscriptions.last_event_created \
  AND subscriptions.status NOT IN ('canceled', 'incomplete_expired')";

/// An invoice records its outcome on the subscription; a subscription first seen through an
/// invoice is kept as 'unknown' (grants nothing) until its own event arrives.
const RECORD_INVOICE: &str = "\
INSERT INTO subscriptions (id, customer_id, status, last_event_created, latest_invoice_status, invoice_event_created) \
SELECT ?2, ?3, 'unknown', 0, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (id) DO UPDATE SET latest_invoice_status = excluded.latest_invoice_status, \
  invoice_event_created = excluded.invoice_event_created \
WHERE excluded.invoice_event_created >= subscriptions.invoice_event_created";

const UPSERT_SUMMARY: &str = "\
INSERT INTO entitlement_summaries (customer_id, feature_lookup_keys, last_event_created) \
SELECT ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (customer_id) DO UPDATE SET feature_lookup_keys = excluded.feature_lookup_keys, \
  last_event_created = excluded.last_event_created \
WHERE excluded.last_event_created >= entitlement_summaries.last_event_created";

/// Always last: its `changes` is 0 exactly when the event was already processed.
const RECORD_EVENT: &str = "\
INSERT OR IGNORE INTO processed_events (id, type, created, outcome, processed_at) VALUES (?1, ?2, ?3, ?4, ?5)";

/// An event of a handled type whose object lacks what the ledger needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    CustomerId,
    SummaryCustomer,
    SummaryEntitlements,
    SubscriptionId,
    SubscriptionCustomer,
    SubscriptionStatus,
    InvoiceCustomer,
}

impl PlanError {
    /// What is missing, for the 400 answer Stripe shows in its dashboard.
    pub fn reason(self) -> &'static str {
        match self {
            PlanError::CustomerId => "customer object has no cus_ id",
            PlanError::SummaryCustomer => "summary has no customer",
            PlanError::SummaryEntitlements => "summary has no entitlements",
            PlanError::SubscriptionId => "subscription object has no sub_ id",
            PlanError::SubscriptionCustomer => "subscription has no customer",
            PlanError::SubscriptionStatus => "subscription has no status",
            PlanError::InvoiceCustomer => "invoice has no customer",
        }
    }
}

/// The statements that apply `event`, ending with its dedupe row. An event of a handled type
/// whose object lacks what the ledger needs is an error (400), so Stripe keeps it for retry.
pub fn plan(event: &Event, now_ms: i64) -> Result<(Disposition, Vec<Statement>), PlanError> {
    let mut p = Planner { event, statements: Vec::new() };
    let outcome = p.apply()?;
    p.statements.push(Statement {
        sql: RECORD_EVENT,
        params: vec![
            text(&event.id),
            text(&event.kind),
            SqlValue::Int(event.created),
            text(outcome.as_str()),
            SqlValue::Int(now_ms),
        ],
    });
    Ok((outcome, p.statements))
}

struct Planner<'a> {
    event: &'a Event,
    statements: Vec<Statement>,
}

impl Planner<'_> {
    fn apply(&mut self) -> Result<Disposition, PlanError> {
        let o = &self.event.object;
        match self.event.kind.as_str() {
            "checkout.session.completed" => {
                // A guest checkout (no customer) or one started without a user binds nothing.
                let user = o.get("client_reference_id").and_then(non_empty).or_else(|| mkit_user(o));
                if let (Some(customer), Some(user)) = (o.get("customer").and_then(id_of), user) {
                    self.bind(customer, user);
                }
            }
            "customer.created" | "customer.updated" => {
                let customer = o.get("id").and_then(Value::as_str).filter(|i| i.starts_with("cus_"));
                let customer = customer.ok_or(PlanError::CustomerId)?;
                if let Some(user) = mkit_user(o) {
                    self.bind(customer, user);
                }
            }
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "customer.subscription.paused"
            | "customer.subscription.resumed" => self.subscription(o)?,
            "invoice.paid" | "invoice.payment_failed" => self.invoice(o)?,
            "entitlements.active_entitlement_summary.updated" => {
                let customer = o.get("customer").and_then(id_of).ok_or(PlanError::SummaryCustomer)?;
                let data =
                    o.pointer("/entitlements/data").and_then(Value::as_array).ok_or(PlanError::SummaryEntitlements)?;
                let keys = lookup_keys(data.iter().map(|e| e.get("lookup_key")));
                self.push(UPSERT_SUMMARY, vec![text(customer), text(&keys), SqlValue::Int(self.event.created)]);
            }
            _ => return Ok(Disposition::Ignored),
        }
        Ok(Disposition::Applied)
    }

    fn subscription(&mut self, o: &Value) -> Result<(), PlanError> {
        let id = o.get("id").and_then(Value::as_str).filter(|i| i.starts_with("sub_"));
        let id = id.ok_or(PlanError::SubscriptionId)?;
        let customer = o.get("customer").and_then(id_of).ok_or(PlanError::SubscriptionCustomer)?;
        let status = if self.event.kind == "customer.subscription.deleted" {
            "canceled"
        } else {
            o.get("status").and_then(non_empty).ok_or(PlanError::SubscriptionStatus)?
        };
        let items = o.pointer("/items/data").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let keys = lookup_keys(items.iter().map(|i| i.pointer("/price/lookup_key")));
        // Since API version 2025-03-31 the period lives on the items; before, on the subscription.
        let period_end = o
            .get("current_period_end")
            .and_then(Value::as_i64)
            .or_else(|| items.iter().filter_map(|i| i.get("current_period_end").and_then(Value::as_i64)).max());
        if let Some(user) = mkit_user(o) {
            self.bind(customer, user);
        }
        self.push(
            UPSERT_SUBSCRIPTION,
            vec![
                text(id),
                text(customer),
                text(status),
                text(&keys),
                period_end.map_or(SqlValue::Null, SqlValue::Int),
                SqlValue::Int(self.event.created),
            ],
        );
        Ok(())
    }

    fn invoice(&mut self, o: &Value) -> Result<(), PlanError> {
        let customer = o.get("customer").and_then(id_of).ok_or(PlanError::InvoiceCustomer)?;
        let details = o.pointer("/parent/subscription_details");
        // Before API version 2025-03-31 the subscription sat on the invoice itself.
        let subscription =
            details.and_then(|d| d.get("subscription")).or_else(|| o.get("subscription")).and_then(id_of);
        let Some(subscription) = subscription else {
            return Ok(()); // A one-off invoice: nothing in the ledger depends on it.
        };
        if let Some(user) = details.and_then(mkit_user).or_else(|| mkit_user(o)) {
            self.bind(customer, user);
        }
        let status = if self.event.kind == "invoice.paid" { "paid" } else { "payment_failed" };
        self.push(
            RECORD_INVOICE,
            vec![text(subscription), text(customer), text(status), SqlValue::Int(self.event.created)],
        );
        Ok(())
    }

    fn bind(&mut self, customer: &str, user: &str) {
        self.push(BIND_CUSTOMER, vec![text(customer), text(user), SqlValue::Int(self.event.created)]);
    }

    /// Adds a statement whose `?1` is the event id (the dedupe guard).
    fn push(&mut self, sql: &'static str, rest: Vec<SqlValue>) {
        let mut params = vec![text(&self.event.id)];
        params.extend(rest);
        self.statements.push(Statement { sql, params });
    }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn non_empty(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// A reference that is either an id or the expanded object.
fn id_of(v: &Value) -> Option<&str> {
    non_empty(v).or_else(|| v.get("id").and_then(non_empty))
}

fn mkit_user(o: &Value) -> Option<&str> {
    o.pointer("/metadata/mkit_user").and_then(non_empty)
}

/// A sorted, deduplicated JSON array of the non-null lookup keys.
fn lookup_keys<'v>(keys: impl Iterator<Item = Option<&'v Value>>) -> String {
    let mut keys: Vec<&str> = keys.flatten().filter_map(non_empty).collect();
    keys.sort_unstable();
    keys.dedup();
    serde_json::to_string(&keys).unwrap_or_else(|_| "[]".to_owned())
}

/// Whether `held` grants `required`.
pub fn grants(held: &[String], required: &str) -> bool {
    held.iter().any(|k| k == required)
}

#[cfg(test)]
mod tests;
