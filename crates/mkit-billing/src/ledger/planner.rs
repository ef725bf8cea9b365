//! Each handled event type as ledger statements, and the binding rules.
//!
//! A customer is bound to an OAuth `sub` only by what the merchant signed: `metadata.mkit_user`,
//! which only a holder of the Stripe secret key can set (on the Checkout Session, the customer,
//! the subscription, or an invoice's subscription details), or a `client_reference_id` that mKit
//! minted (`billing::reference`). A bare `client_reference_id` binds nothing: anyone can put one
//! on a Checkout URL or Payment Link.
//!
//! - **Customer claims** (Checkout, customer): the first binding wins; a claim naming another user
//!   is recorded in `binding_conflicts` and changes nothing.
//! - **Subscription claims** (subscription, invoice): the subscription grants to the user its own
//!   metadata names (two subscriptions of one customer can belong to two users). The first user
//!   named keeps it; another is a conflict. The claim also binds the customer, but only if it is
//!   still unbound: the subscription's own grant does not depend on the customer's user.

use serde_json::Value;

use super::grants::{checkout_credits, invoice_credits};
use super::sql::{
    APPLY_GRANTS, BIND_CUSTOMER, CUSTOMER_CONFLICT, MARK_GRANTS, RECORD_GRANT, RECORD_INVOICE, SUBSCRIPTION_CONFLICT,
    UPSERT_SUBSCRIPTION, UPSERT_SUMMARY,
};
use super::{Disposition, LedgerPolicy, PlanError, SqlValue, Statement};
use crate::event::Event;
use crate::reference::verify_client_reference;

pub(super) struct Planner<'a> {
    event: &'a Event,
    policy: &'a LedgerPolicy,
    now_ms: i64,
    statements: Vec<Statement>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(event: &'a Event, policy: &'a LedgerPolicy, now_ms: i64) -> Self {
        Planner { event, policy, now_ms, statements: Vec::new() }
    }

    pub(super) fn into_statements(self) -> Vec<Statement> {
        self.statements
    }

    pub(super) fn apply(&mut self) -> Result<Disposition, PlanError> {
        let o = &self.event.object;
        match self.event.kind.as_str() {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => self.checkout(o)?,
            "customer.created" | "customer.updated" => {
                let customer = o.get("id").and_then(Value::as_str).filter(|i| i.starts_with("cus_"));
                let customer = customer.ok_or(PlanError::CustomerId)?;
                if let Some(user) = mkit_user(o) {
                    self.claim_customer(customer, user, "customer_metadata");
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
            _ => return Ok(Disposition::Ignored(None)),
        }
        Ok(Disposition::Applied)
    }

    /// The session's metadata (set by the server that created it) first; else a reference mKit
    /// minted. A guest checkout (no customer) binds nothing, but its credits go to the user it
    /// names.
    fn checkout(&mut self, o: &Value) -> Result<(), PlanError> {
        let customer = o.get("customer").and_then(id_of);
        let reference = || {
            let value = o.get("client_reference_id").and_then(Value::as_str)?;
            verify_client_reference(&self.policy.reference_keys, value).map(|user| (user, "checkout_reference"))
        };
        let claim = mkit_user(o).map(|user| (user.to_owned(), "checkout_metadata")).or_else(reference);
        if let (Some(customer), Some((user, source))) = (customer, &claim) {
            self.claim_customer(customer, user, source);
        }
        if let Some(credits) = checkout_credits(&self.event.kind, o)? {
            let session = o.get("id").and_then(Value::as_str).filter(|i| i.starts_with("cs_"));
            let session = session.ok_or(PlanError::CheckoutId)?;
            self.grant(session, customer, claim.as_ref().map(|(u, _)| u.as_str()), credits);
        }
        Ok(())
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
        let user = mkit_user(o);
        if let Some(user) = user {
            self.claim_subscription(id, customer, user, "subscription_metadata");
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
                user.map_or(SqlValue::Null, text),
            ],
        );
        Ok(())
    }

    fn invoice(&mut self, o: &Value) -> Result<(), PlanError> {
        let customer = o.get("customer").and_then(id_of).ok_or(PlanError::InvoiceCustomer)?;
        // Before API version 2025-03-31 the details and the subscription sat on the invoice itself.
        let details = o.pointer("/parent/subscription_details").or_else(|| o.get("subscription_details"));
        let subscription =
            details.and_then(|d| d.get("subscription")).or_else(|| o.get("subscription")).and_then(id_of);
        let Some(subscription) = subscription else {
            return Ok(()); // A one-off invoice: nothing in the ledger depends on it.
        };
        let user = details.and_then(mkit_user);
        if self.event.kind == "invoice.paid" {
            if let Some(credits) = invoice_credits(o, details)? {
                let invoice = o.get("id").and_then(Value::as_str).filter(|i| i.starts_with("in_"));
                self.grant(invoice.ok_or(PlanError::InvoiceId)?, Some(customer), user, credits);
            }
        }
        if let Some(user) = user {
            self.claim_subscription(subscription, customer, user, "invoice_metadata");
        }
        let status = if self.event.kind == "invoice.paid" { "paid" } else { "payment_failed" };
        self.push(
            RECORD_INVOICE,
            vec![
                text(subscription),
                text(customer),
                text(status),
                SqlValue::Int(self.event.created),
                user.map_or(SqlValue::Null, text),
            ],
        );
        Ok(())
    }

    /// Binds an unbound customer; records a claim for another user than the bound one.
    fn claim_customer(&mut self, customer: &str, user: &str, source: &str) {
        self.conflict(CUSTOMER_CONFLICT, customer, user, source);
        self.bind(customer, user);
    }

    /// Records a claim for another user than the subscription's own (the upsert that follows
    /// keeps the first); binds the customer only if it is unbound, never as a conflict.
    fn claim_subscription(&mut self, subscription: &str, customer: &str, user: &str, source: &str) {
        self.conflict(SUBSCRIPTION_CONFLICT, subscription, user, source);
        self.bind(customer, user);
    }

    fn conflict(&mut self, sql: &'static str, id: &str, user: &str, source: &str) {
        let at = [SqlValue::Int(self.event.created), SqlValue::Int(self.now_ms)];
        self.push(sql, [text(id), text(user), text(source)].into_iter().chain(at).collect());
    }

    fn bind(&mut self, customer: &str, user: &str) {
        self.push(BIND_CUSTOMER, vec![text(customer), text(user), SqlValue::Int(self.event.created)]);
        // Credits paid before the customer had a user reach that user now.
        self.apply_grants(Some(customer), None);
    }

    /// Records the credits `paid_by` (a cs_ or in_ id) grants, once, and adds them to a balance
    /// as soon as a user is known.
    fn grant(&mut self, paid_by: &str, customer: Option<&str>, user: Option<&str>, credits: i64) {
        let opt = |v: Option<&str>| v.map_or(SqlValue::Null, text);
        let created = SqlValue::Int(self.event.created);
        self.push(RECORD_GRANT, vec![text(paid_by), opt(customer), opt(user), SqlValue::Int(credits), created]);
        self.apply_grants(customer, Some(paid_by));
    }

    fn apply_grants(&mut self, customer: Option<&str>, grant: Option<&str>) {
        let opt = |v: Option<&str>| v.map_or(SqlValue::Null, text);
        for sql in [APPLY_GRANTS, MARK_GRANTS] {
            self.push(sql, vec![opt(customer), opt(grant)]);
        }
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
