//! Native tests of your tools (feature `testing`, for `[dev-dependencies]`): the protocol core
//! answers a real `tools/call`, and your SQL runs on SQLite with your migrations applied, as D1
//! local has them. No Worker, no network.
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
use std::path::Path;

use rusqlite::types::Value as Sql;
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::mcp::platform::Platform;
use crate::mcp::test_support::{block_on, plain_caller, Req, INFO};
use crate::mcp::transport::{self, Caller};
use crate::mcp::{LocalFuture, Registry, Server, ToolError};
use crate::sql::{run_batch, sqlite_values, Statement};

/// The SQLite crate [`SqliteDb::connection`] hands out, for a test's own queries.
pub use rusqlite;

/// The clock every [`SqliteDb`] reports: 2027-01-15T08:00:00Z, in milliseconds.
pub const NOW_MS: u64 = 1_800_000_000_000;

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
        let db = SqliteDb::in_memory();
        let dir = dir.as_ref();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        for p in files {
            let sql = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            db.0.borrow().execute_batch(&sql).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
        db
    }

    /// The connection, for a test's own queries.
    pub fn connection(&self) -> Ref<'_, rusqlite::Connection> {
        self.0.borrow()
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
    let caller = Caller { platform, ..plain_caller(&principal) };
    let server = Server { registry, info: &INFO, page_size: 50 };
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": name, "arguments": arguments } });
    let req = Req(vec![("MCP-Protocol-Version", "2025-06-18".into())], body.to_string().into_bytes());
    let reply = block_on(transport::handle_post(&server, &req, &caller));
    serde_json::from_str(&reply.body).unwrap_or(Value::Null)
}
