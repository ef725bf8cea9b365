//! Native tests of your tools (feature `testing`, for `[dev-dependencies]`): the protocol core
//! answers a real `tools/call`, and your SQL runs on SQLite with the kit's migrations and yours
//! applied ([`SqliteDb::with_migration_dirs`]), as D1 local has them. No Worker, no network.
//!
//! ```
//! use mkit::testing::{call_tool, SqliteDb};
//! use serde_json::json;
//!
//! let registry = mkit::tools::standard();
//! let db = SqliteDb::in_memory();
//! let reply = call_tool(&registry, Some(&db), "nora", "whoami", json!({}));
//! assert_eq!(reply["result"]["structuredContent"]["sub"], "nora");
//! ```

use std::cell::{Ref, RefCell};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use rusqlite::types::Value as Sql;
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::mcp::platform::Platform;
use crate::mcp::test_support::{block_on, plain_caller, Req, INFO};
use crate::mcp::transport::{self, Caller};
use crate::mcp::{LocalFuture, Registry, Server, ToolError};
use crate::paywall::{Denial, Entitlements, Gatekeeper};
use crate::sql::{run_batch, sqlite_values, Statement};

/// The SQLite crate [`SqliteDb::connection`] hands out, for a test's own queries.
pub use rusqlite;

/// The clock every [`SqliteDb`] reports: 2027-01-15T08:00:00Z, in milliseconds.
pub const NOW_MS: u64 = 1_800_000_000_000;

/// The kit's D1 migrations: this crate's `migrations/`, wherever Cargo keeps it. Wrangler applies
/// them together with yours (`scripts/migrations.mjs` assembles both into one directory).
pub const KIT_MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// A SQLite database standing in for D1: the same SQL, run synchronously.
pub struct SqliteDb(RefCell<rusqlite::Connection>);

impl SqliteDb {
    /// An empty database.
    pub fn in_memory() -> SqliteDb {
        SqliteDb(RefCell::new(rusqlite::Connection::open_in_memory().expect("SQLite opens in memory")))
    }

    /// A database with every `.sql` file of `dir` applied in name order, as `wrangler d1
    /// migrations apply` does. Panics (it is a test) naming the file that fails.
    pub fn with_migrations(dir: impl AsRef<Path>) -> SqliteDb {
        SqliteDb::with_migration_dirs([dir])
    }

    /// A database with the `.sql` files of all `dirs` applied, merged in file-name order, as
    /// Wrangler applies the directory `scripts/migrations.mjs` assembles: what your D1 has is
    /// `with_migration_dirs([KIT_MIGRATIONS, "migrations"])`. A name in two directories is
    /// applied once; with different content it panics, as the script refuses it. Panics (it is a
    /// test) naming the file that fails.
    pub fn with_migration_dirs<P: AsRef<Path>>(dirs: impl IntoIterator<Item = P>) -> SqliteDb {
        let mut files: Vec<(String, PathBuf, String)> = Vec::new();
        for dir in dirs {
            let dir = dir.as_ref();
            let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for p in entries.flatten().map(|e| e.path()) {
                let Some(name) = p.file_name().and_then(|n| n.to_str()).filter(|n| n.ends_with(".sql")) else {
                    continue;
                };
                if !p.is_file() {
                    continue;
                }
                let name = name.to_owned();
                let sql = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                match files.iter().find(|f| f.0 == name) {
                    Some((_, first, text)) => assert!(
                        *text == sql,
                        "migration {name} is in {} and {} with different content",
                        first.display(),
                        p.display()
                    ),
                    None => files.push((name, p, sql)),
                }
            }
        }
        files.sort_by(|a, b| wrangler_order(&a.0, &b.0));
        let db = SqliteDb::in_memory();
        for (_, p, sql) in files {
            db.0.borrow().execute_batch(&sql).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
        db
    }

    /// The connection, for a test's own queries.
    pub fn connection(&self) -> Ref<'_, rusqlite::Connection> {
        self.0.borrow()
    }
}

/// Wrangler's order of migration files (its `compareMigrationPaths`): by the number before the
/// first `_`, numbered files first, then by name.
fn wrangler_order(a: &str, b: &str) -> Ordering {
    let number = |name: &str| {
        let head = name.split('_').next().unwrap_or(name);
        let digits: String = head.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u128>().ok()
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => a.cmp(b),
    }
}

fn json_of(v: Sql) -> Value {
    match v {
        Sql::Integer(i) => json!(i),
        Sql::Real(f) => json!(f),
        Sql::Text(t) => json!(t),
        Sql::Null | Sql::Blob(_) => Value::Null,
    }
}

fn rows(c: &rusqlite::Connection, s: &Statement) -> rusqlite::Result<Vec<Value>> {
    let mut q = c.prepare(s.sql)?;
    let names: Vec<String> = q.column_names().map(str::to_owned).collect();
    let rows = q.query_map(rusqlite::params_from_iter(sqlite_values(&s.params)), |r| {
        let mut o = Map::new();
        for (i, n) in names.iter().enumerate() {
            o.insert(n.clone(), json_of(r.get(i)?));
        }
        Ok(Value::Object(o))
    })?;
    rows.collect()
}

impl Platform for SqliteDb {
    fn batch(&self, statements: Vec<Statement>) -> LocalFuture<'_, Result<Vec<usize>, ToolError>> {
        let changed = run_batch(&mut self.0.borrow_mut(), &statements);
        Box::pin(async move { Ok(changed) })
    }

    fn query(&self, s: Statement) -> LocalFuture<'_, Result<Vec<Value>, ToolError>> {
        let out = rows(&self.0.borrow(), &s).map_err(|e| ToolError::new(format!("SQLite: {e}")));
        Box::pin(async move { out })
    }

    fn now_ms(&self) -> u64 {
        NOW_MS
    }

    fn sleep(&self, _: u64) -> LocalFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Calls tool `name` as user `sub` (every price paid, no scopes granted) through the protocol core, and
/// returns the JSON-RPC response: `result` for a tool's answer or its error, `error` otherwise.
pub fn call_tool(
    registry: &Registry,
    platform: Option<&dyn Platform>,
    sub: &str,
    name: &str,
    arguments: Value,
) -> Value {
    let principal = Principal::new(sub, None, Vec::new());
    let gate = Gatekeeper { access: &PaidUp, machine: None };
    let caller = Caller { platform, gate: Some(&gate), ..plain_caller(&principal) };
    let server = Server { registry, info: &INFO, page_size: 50, extensions: &[] };
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": name, "arguments": arguments } });
    let req = Req(vec![("MCP-Protocol-Version", "2025-06-18".into())], body.to_string().into_bytes());
    let reply = block_on(transport::handle_post(&server, &req, transport::parse_body(&req.1), &caller));
    serde_json::from_str(&reply.body).unwrap_or(Value::Null)
}

/// A caller who holds every entitlement (free quotas and credits are not counted here).
struct PaidUp;

impl Entitlements for PaidUp {
    async fn keys(&self) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }
    async fn require(&self, _: &str, _: &str) -> Result<(), Denial> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_sort_as_wrangler_sorts_them() {
        let mut names = ["x.sql", "10_b.sql", "0002_notes.sql", "2_a.sql", "0001_init.sql", "0002_a.sql"];
        names.sort_by(|a, b| wrangler_order(a, b));
        assert_eq!(names, ["0001_init.sql", "0002_a.sql", "0002_notes.sql", "2_a.sql", "10_b.sql", "x.sql"]);
    }

    /// A temporary directory, removed when dropped (a panicking test's too).
    struct Temp(PathBuf);

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Two fresh directories, the kit's and yours, for one test.
    fn dirs(label: &str) -> (Temp, PathBuf, PathBuf) {
        let root = std::env::temp_dir().join(format!("mkit-testing-{label}-{}", std::process::id()));
        let (kit, yours) = (root.join("kit"), root.join("yours"));
        for d in [&kit, &yours] {
            std::fs::create_dir_all(d).expect("temporary directory");
        }
        (Temp(root), kit, yours)
    }

    #[test]
    fn several_directories_are_merged_in_name_order() {
        let (_temp, kit, yours) = dirs("merged");
        std::fs::write(kit.join("0001_a.sql"), "CREATE TABLE a (x);").expect("write");
        std::fs::write(kit.join("0003_c.sql"), "ALTER TABLE b ADD COLUMN y;").expect("write");
        std::fs::write(yours.join("0002_b.sql"), "CREATE TABLE b (x);").expect("write");
        // A copy of a kit migration is the same migration: applied once.
        std::fs::write(yours.join("0001_a.sql"), "CREATE TABLE a (x);").expect("write");
        std::fs::write(yours.join("notes.txt"), "not a migration").expect("write");
        let db = SqliteDb::with_migration_dirs([&kit, &yours]);
        let n: i64 = db.connection().query_row("SELECT COUNT(y) FROM b", [], |r| r.get(0)).expect("b.y exists");
        assert_eq!(n, 0);
    }

    #[test]
    #[should_panic(expected = "with different content")]
    fn a_name_in_two_directories_with_different_content_panics() {
        let (_temp, kit, yours) = dirs("clash");
        std::fs::write(kit.join("0001_a.sql"), "CREATE TABLE a (x);").expect("write");
        std::fs::write(yours.join("0001_a.sql"), "CREATE TABLE mine (x);").expect("write");
        SqliteDb::with_migration_dirs([&kit, &yours]);
    }

    #[test]
    fn the_kit_migrations_make_the_kit_tables() {
        let db = SqliteDb::with_migration_dirs([KIT_MIGRATIONS]);
        let tables: i64 = db
            .connection()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('subscriptions', 'notes')",
                [],
                |r| r.get(0),
            )
            .expect("tables");
        assert_eq!(tables, 1, "the ledger's subscriptions, and no seller's notes");
    }
}
