//! The example `remember` tool through the protocol core, on the kit's migrations and this
//! server's in SQLite (what D1 gets): the same SQL D1 runs, with no Worker.

use mkit::testing::{call_tool, SqliteDb, KIT_MIGRATIONS, NOW_MS};
use serde_json::{json, Value};

#[test]
fn remember_stores_through_the_platform_and_keeps_the_latest_hundred() {
    let db = SqliteDb::with_migration_dirs([KIT_MIGRATIONS, concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")]);
    let registry = super::registry();
    let mut last = Value::Null;
    for i in 0..103 {
        last = call_tool(&registry, Some(&db), "nora", "remember", json!({ "note": format!("note {i}") }));
    }
    let out = &last["result"]["structuredContent"];
    assert_eq!(out["stored"], true, "{last}");
    assert_eq!(out["notes"][0], json!({ "text": "note 102", "created_at": NOW_MS }));
    assert_eq!(out["notes"].as_array().map(Vec::len), Some(20), "the latest 20 are shown");
    let kept: i64 =
        db.connection().query_row("SELECT COUNT(*) FROM notes WHERE owner = 'nora'", [], |r| r.get(0)).expect("count");
    assert_eq!(kept, 100, "the oldest three are forgotten");
}
