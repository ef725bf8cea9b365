//! Stripe billing: webhook signatures and events. Pure.

pub mod event;
pub mod signature;
