//! Stripe billing: webhook signatures and events. Pure.

pub mod signature;
