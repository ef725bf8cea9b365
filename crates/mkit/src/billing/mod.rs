//! Stripe billing: webhook signatures, events, the entitlement ledger and the Checkout client
//! references it trusts. Pure.

pub mod credits;
pub mod event;
pub mod ledger;
pub mod meter;
pub mod reference;
pub mod signature;
pub mod usage;

/// Why the ledger's store (D1) could not be used. Each carries a stable code for logs and
/// answers; none carries the store's own message, which could hold data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The `DB` binding is missing.
    Unbound,
    /// A statement could not be prepared or bound.
    Statement,
    /// The query or batch failed; a batch rolled back whole.
    Query,
    /// Rows did not have the expected shape.
    Rows,
}

impl StoreError {
    pub fn code(self) -> &'static str {
        match self {
            StoreError::Unbound => "storage_unavailable",
            StoreError::Statement => "storage_statement_invalid",
            StoreError::Query => "storage_failed",
            StoreError::Rows => "storage_unexpected_rows",
        }
    }
}
