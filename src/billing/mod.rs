//! Stripe billing: webhook signatures, events and the entitlement ledger. Pure.

pub mod event;
pub mod ledger;
pub mod signature;
