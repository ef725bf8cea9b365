//! The example `remember` tool through the protocol core, on the real migrations in SQLite: the
//! same SQL D1 runs, with no Worker.

use std::cell::RefCell;

use rusqlite::types::Value as Sql;
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::mcp::platform::Platform;
use crate::mcp::test_support::{block_on, plain_caller, Req, INFO};
use crate::mcp::transport::{self, Caller};
use crate::mcp::{LocalFuture, Server, ToolError};
use crate::sql::{run_batch, sqlite_values, test_db, Statement};

struct Sqlite(RefCell<rusqlite::Connection>);

fn json_of(v: Sql) -> Value {
    match v {
        Sql::Integer(i) => json!(i),
        Sql::Real(f) => json!(f),
        Sql::Text(t) => json!(t),
        Sql::Null | Sql::Blob(_) => Value::Null,
    }
}

impl Platform for Sqlite {
    fn batch(&self, statements: Vec<Statement>) -> LocalFuture<'_, Result<Vec<usize>, ToolError>> {
        let changed = run_batch(&mut self.0.borrow_mut(), &statements);
        Box::pin(async move { Ok(changed) })
    }

    fn query(&self, s: Statement) -> LocalFuture<'_, Result<Vec<Value>, ToolError>> {
        let c = self.0.borrow();
        let mut q = c.prepare(s.sql).expect("sql");
        let names: Vec<String> = q.column_names().map(str::to_owned).collect();
        let rows = q
            .query_map(rusqlite::params_from_iter(sqlite_values(&s.params)), |r| {
                let mut o = Map::new();
                for (i, n) in names.iter().enumerate() {
                    o.insert(n.clone(), json_of(r.get(i)?));
                }
                Ok(Value::Object(o))
            })
            .expect("rows")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        Box::pin(async move { Ok(rows) })
    }

    fn now_ms(&self) -> u64 {
        1_800_000_000_000
    }

    fn sleep(&self, _: u64) -> LocalFuture<'_, ()> {
        Box::pin(async {})
    }
}

fn remember(caller: &Caller<'_>, note: &str) -> Value {
    let registry = crate::tools::registry();
    let server = Server { registry: &registry, info: &INFO, page_size: 50 };
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "remember", "arguments": { "note": note } } });
    let req = Req(vec![("MCP-Protocol-Version", "2025-06-18".into())], body.to_string().into_bytes());
    let reply = block_on(transport::handle_post(&server, &req, caller));
    serde_json::from_str(&reply.body).unwrap_or(Value::Null)
}

#[test]
fn remember_stores_through_the_platform_and_keeps_the_latest_hundred() {
    let db = Sqlite(RefCell::new(test_db()));
    let principal = Principal::new("nora", None, Vec::new());
    let caller = Caller { platform: Some(&db), ..plain_caller(&principal) };
    let mut last = Value::Null;
    for i in 0..103 {
        last = remember(&caller, &format!("note {i}"));
    }
    let out = &last["result"]["structuredContent"];
    assert_eq!(out["stored"], true, "{last}");
    assert_eq!(out["notes"][0], json!({ "text": "note 102", "created_at": 1_800_000_000_000_i64 }));
    assert_eq!(out["notes"].as_array().map(Vec::len), Some(20), "the latest 20 are shown");
    let kept: i64 =
        db.0.borrow().query_row("SELECT COUNT(*) FROM notes WHERE owner = 'nora'", [], |r| r.get(0)).expect("count");
    assert_eq!(kept, 100, "the oldest three are forgotten");
}
