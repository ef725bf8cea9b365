//! The entitlement ledger: what a verified Stripe event changes, as SQL statements the store runs
//! in one batch (one transaction), last of all the event's dedupe row. Pure.
//!
//! - **Nothing applied twice:** every change is guarded by "this event id is not yet in
//!   `processed_events`", and the batch ends by inserting it. A redelivery changes nothing; a
//!   batch that fails part-way rolls back whole, dedupe row included, so Stripe's retry applies it.
//! - **Out of order:** every subscription and summary row keeps the `event.created` of the last
//!   event applied to it, and an older event leaves it alone. Equal timestamps apply in delivery
//!   order.
//! - **Terminal states:** a `canceled` or `incomplete_expired` subscription never changes again
//!   (Stripe cannot reactivate one), so a late `updated` cannot re-grant access.
//! - **Only what the merchant signed binds** (`planner`): `metadata.mkit_user` set server-side, or
//!   a `client_reference_id` mKit minted (`billing::reference`). The first binding of a customer
//!   (or of a subscription to its own user) wins; a later claim naming someone else changes
//!   nothing and is recorded in `binding_conflicts`.
//! - **Mode and account** (`LedgerPolicy`): an event from the other mode or an unexpected Connect
//!   account is recorded as ignored, with its reason, and changes nothing else.

mod grants;
mod planner;
mod sql;

pub use grants::MAX_GRANT;

pub use sql::{entitlements_params, ENTITLEMENTS_SQL};

use super::event::Event;

pub use mkit_kernel::sql::{SqlValue, Statement};

/// Which events the deployment accepts, and the keys its minted client references verify with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerPolicy {
    /// `Some(true)`: live mode only; `Some(false)`: test mode only; `None`: both (the mode cannot
    /// be known from the configuration).
    pub livemode: Option<bool>,
    /// The one Connect account whose events apply. An event carrying another account, or any
    /// account when this is `None`, is ignored; an event without one (the endpoint's own
    /// account) applies.
    pub account: Option<String>,
    /// `billing::reference` keys, derived from each `MKIT_SECRET` (rotation).
    pub reference_keys: Vec<[u8; 32]>,
}

impl LedgerPolicy {
    /// Why `event` must not touch the ledger, if it must not. An event that does not say its
    /// mode is refused when the policy knows the mode (Stripe always says it).
    pub fn refuses(&self, event: &Event) -> Option<IgnoreReason> {
        if self.livemode.is_some() && event.livemode != self.livemode {
            return Some(IgnoreReason::LivemodeMismatch);
        }
        if event.account.is_some() && event.account != self.account {
            return Some(IgnoreReason::UnexpectedAccount);
        }
        None
    }
}

/// Why an event of any type was recorded as ignored (`processed_events.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Live event on a test deployment, or the reverse.
    LivemodeMismatch,
    /// An event of a Connect account other than `MKIT_STRIPE_ACCOUNT`.
    UnexpectedAccount,
}

impl IgnoreReason {
    /// The reason as recorded in `processed_events.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::LivemodeMismatch => "livemode_mismatch",
            IgnoreReason::UnexpectedAccount => "unexpected_account",
        }
    }
}

/// What the webhook reports and records for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A type the ledger applies (a refused binding claim included: it is recorded).
    Applied,
    /// Acknowledged and recorded so it is not retried: a type the ledger does not use (`None`),
    /// or an event the policy refuses.
    Ignored(Option<IgnoreReason>),
}

impl Disposition {
    /// `applied` or `ignored`, as recorded in `processed_events.outcome` and reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Applied => "applied",
            Disposition::Ignored(_) => "ignored",
        }
    }

    /// Why the event was ignored, when the policy refused it.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Disposition::Ignored(Some(r)) => Some(r.as_str()),
            _ => None,
        }
    }
}

/// An event of a handled type whose object lacks what the ledger needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    /// A customer event whose object has no `cus_` id.
    CustomerId,
    /// An entitlement summary without a customer.
    SummaryCustomer,
    /// An entitlement summary without `entitlements.data`.
    SummaryEntitlements,
    /// A subscription event whose object has no `sub_` id.
    SubscriptionId,
    /// A subscription without a customer.
    SubscriptionCustomer,
    /// A subscription without a status.
    SubscriptionStatus,
    /// An invoice without a customer.
    InvoiceCustomer,
    /// An invoice granting credits without an `in_` id.
    InvoiceId,
    /// A Checkout Session granting credits without a `cs_` id.
    CheckoutId,
    /// `metadata.mkit_credits` is not a whole number from 1 to `MAX_GRANT`.
    Credits,
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
            PlanError::InvoiceId => "invoice granting credits has no in_ id",
            PlanError::CheckoutId => "Checkout Session granting credits has no cs_ id",
            PlanError::Credits => {
                "metadata.mkit_credits must be a whole number from 1 to 1000000000; grant this payment's credits by hand"
            }
        }
    }
}

/// The statements that apply `event` under `policy`, ending with its dedupe row. An event the
/// policy refuses is only recorded, whatever its object holds. An event of a handled type whose
/// object lacks what the ledger needs is an error (400), so Stripe keeps it for retry.
pub fn plan(event: &Event, policy: &LedgerPolicy, now_ms: i64) -> Result<(Disposition, Vec<Statement>), PlanError> {
    let mut p = planner::Planner::new(event, policy, now_ms);
    let disposition = match policy.refuses(event) {
        Some(reason) => Disposition::Ignored(Some(reason)),
        None => p.apply()?,
    };
    let reason = disposition.reason().map_or(SqlValue::Null, |r| SqlValue::Text(r.to_owned()));
    let mut statements = p.into_statements();
    statements.push(Statement {
        sql: sql::RECORD_EVENT,
        params: vec![
            SqlValue::Text(event.id.clone()),
            SqlValue::Text(event.kind.clone()),
            SqlValue::Int(event.created),
            SqlValue::Text(disposition.as_str().to_owned()),
            SqlValue::Int(now_ms),
            reason,
        ],
    });
    Ok((disposition, statements))
}

/// What a batch did, from the rows each of its statements changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// The event was already processed: nothing changed.
    pub duplicate: bool,
    /// Ledger rows changed (bindings, subscriptions, summaries); 0 on a new event means it was
    /// older than what the ledger holds.
    pub changes: usize,
    /// Binding claims refused and recorded in `binding_conflicts`.
    pub conflicts: usize,
}

/// Reads a batch's `changes` (one per statement of `plan`, the dedupe row last).
pub fn summarize(statements: &[Statement], changes: &[usize]) -> Summary {
    let Some((dedupe, rest)) = changes.split_last() else { return Summary { duplicate: true, ..Summary::default() } };
    let mut summary = Summary { duplicate: *dedupe == 0, ..Summary::default() };
    for (s, c) in statements.iter().zip(rest) {
        if s.sql == sql::CUSTOMER_CONFLICT || s.sql == sql::SUBSCRIPTION_CONFLICT {
            summary.conflicts += c;
        } else {
            summary.changes += c;
        }
    }
    summary
}

/// Whether `held` grants `required`.
pub fn grants(held: &[String], required: &str) -> bool {
    held.iter().any(|k| k == required)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod grant_tests;
