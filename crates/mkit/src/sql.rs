//! Parameterised SQL for D1: the kernel's (`mkit_kernel::sql`), and for the native tests the
//! kit's migrations (`crates/mkit/migrations`) applied on SQLite.

pub use mkit_kernel::sql::*;

/// A SQLite database with every kit migration applied, in order, as D1 local has them (a seller's
/// own, like the example `notes` table, are not the kit's to test).
#[cfg(test)]
pub fn test_db() -> rusqlite::Connection {
    let c = rusqlite::Connection::open_in_memory().expect("sqlite");
    let mut names: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations")
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in names {
        c.execute_batch(&std::fs::read_to_string(&p).expect("sql")).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    c
}
