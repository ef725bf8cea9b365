//! Stripe billing: webhook signatures, events, the entitlement ledger and the Checkout client
//! references it trusts. Pure: it knows nothing of MCP, of OAuth or of Workers (its manifest
//! lists only the kernel among mKit's crates), and its SQL is tested natively on SQLite with the
//! kit's migrations.

#![deny(missing_docs)]

pub mod cdp;
pub mod counters;
pub mod credits;
pub mod event;
pub mod ledger;
pub mod meter;
pub mod payer;
pub mod reference;
pub mod signature;
pub mod usage;
pub mod x402;
pub mod x402_stripe;

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
    /// The stable code, for logs and answers.
    pub fn code(self) -> &'static str {
        match self {
            StoreError::Unbound => "storage_unavailable",
            StoreError::Statement => "storage_statement_invalid",
            StoreError::Query => "storage_failed",
            StoreError::Rows => "storage_unexpected_rows",
        }
    }
}

/// A SQLite database with the kit's migrations applied, in order, as D1 local has them.
#[cfg(test)]
pub(crate) fn test_db() -> rusqlite::Connection {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../mkit/migrations");
    let c = rusqlite::Connection::open_in_memory().expect("sqlite");
    let mut names: Vec<_> = std::fs::read_dir(dir).expect("migrations").flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names.iter().filter(|p| p.extension().is_some_and(|x| x == "sql")) {
        c.execute_batch(&std::fs::read_to_string(p).expect("sql")).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    c
}
