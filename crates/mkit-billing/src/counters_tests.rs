//! A caller's object counters, flushed to the real ledger schema on SQLite.

use super::*;
use crate::test_db;
use mkit_kernel::sql::{run_batch, sqlite_values};
use rusqlite::Connection;

const NOW: i64 = 1_796_053_388;

fn fund(c: &Connection, sub: &str, balance: i64) {
    c.execute("INSERT INTO credit_balances (user_sub, balance) VALUES (?1, ?2)", rusqlite::params![sub, balance])
        .expect("fund");
}

fn one(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
}

/// Reads as a D1 batch answers them: every row's first column.
fn read(c: &Connection, s: &Statement) -> Vec<rusqlite::types::Value> {
    let mut q = c.prepare(s.sql).expect("prepare");
    let rows = q.query_map(rusqlite::params_from_iter(sqlite_values(&s.params)), |r| r.get(0)).expect("query");
    rows.map(|r| r.expect("row")).collect()
}

fn number(v: &[rusqlite::types::Value]) -> Option<i64> {
    match v.first() {
        Some(rusqlite::types::Value::Integer(n)) => Some(*n),
        _ => None,
    }
}

fn texts(v: &[rusqlite::types::Value]) -> Vec<String> {
    v.iter().filter_map(|x| if let rusqlite::types::Value::Text(t) = x { Some(t.clone()) } else { None }).collect()
}

/// Runs a flush as the object does: the writes in one batch, then its two reads.
fn flush(c: &mut Connection, counters: &mut CallerCounters, sub: &str) {
    let f = counters.flush(sub);
    let (writes, reads) = f.statements.split_at(f.statements.len() - 2);
    run_batch(c, writes);
    let (balance, recorded) = (number(&read(c, &reads[0])), texts(&read(c, &reads[1])));
    counters.flushed(&f, balance, &recorded);
}

fn import(c: &Connection, sub: &str) -> CallerCounters {
    let reads = CallerCounters::import_reads(sub, NOW);
    let mut q = c.prepare(reads[0].sql).expect("prepare");
    let rows = q.query_map(rusqlite::params_from_iter(sqlite_values(&reads[0].params)), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    let counters = rows.expect("query").map(|r| r.expect("row")).collect();
    let mut out = CallerCounters::default();
    out.import(counters, number(&read(c, &reads[1])));
    out
}

#[test]
fn a_free_quota_never_passes_its_limit_and_gives_back_to_its_own_window() {
    let mut c = CallerCounters::default();
    let taken: Vec<bool> = (0..12).map(|_| c.take("search", 100, 10)).collect();
    assert_eq!(taken.iter().filter(|t| **t).count(), 10);
    assert!(!taken[10] && !taken[11]);
    c.give_back("search", 100);
    c.give_back("search", 200);
    assert_eq!(c.usage(0), [("search".to_owned(), 100, 9)], "a give-back to another window changes nothing");
    assert!(c.take("search", 200, 10), "a new window starts over");
    assert!(!c.take("other", 100, 0), "a quota of 0 gives nothing");
    assert_eq!(c.usage(150), [("search".to_owned(), 200, 1)]);
}

#[test]
fn an_existing_deployments_windows_and_balance_carry_over() {
    let mut db = test_db();
    fund(&db, "ada", 5);
    let start = NOW - NOW % 86_400;
    db.execute(
        "INSERT INTO quota_usage (user_sub, quota_key, window_start, used) VALUES ('ada', 'search', ?1, 9)",
        [start],
    )
    .expect("window");
    let mut c = import(&db, "ada");
    assert!(c.imported);
    assert!(c.take("search", start, 10), "the tenth call");
    assert!(!c.take("search", start, 10), "the D1 window's nine count");
    assert_eq!(c.reserve("d1", "t", 5, NOW), Reserve::Reserved);
    assert_eq!(c.reserve("d2", "t", 1, NOW), Reserve::Short, "the D1 balance of five, all reserved");
    c.settle("d1");
    flush(&mut db, &mut c, "ada");
    assert_eq!(one(&db, "SELECT balance FROM credit_balances WHERE user_sub = 'ada'"), 0);
    assert_eq!(one(&db, "SELECT used FROM quota_usage WHERE user_sub = 'ada'"), 10);
    assert!(!c.dirty());
}

#[test]
fn a_grant_written_to_d1_counts_at_the_next_shortfall() {
    let mut db = test_db();
    let mut c = import(&db, "bob");
    assert_eq!(c.reserve("d1", "t", 2, NOW), Reserve::Short, "no balance yet");
    fund(&db, "bob", 3);
    let reads = c.balance_reads("bob");
    c.rebalance(number(&read(&db, &reads[0])), &texts(&read(&db, &reads[1])));
    assert_eq!(c.reserve("d1", "t", 2, NOW), Reserve::Reserved, "the shortfall confirmed at D1 found the grant");
    assert_eq!(c.reserve("d2", "t", 2, NOW), Reserve::Short);
    c.refund("d1");
    assert_eq!(c.reserve("d2", "t", 2, NOW), Reserve::Reserved, "a refund gives it back");
    c.settle("d2");
    c.refund("d2");
    assert_eq!(c.available(), 1, "a settled debit is not refunded");
    flush(&mut db, &mut c, "bob");
    assert_eq!(one(&db, "SELECT balance FROM credit_balances WHERE user_sub = 'bob'"), 1);
    assert_eq!(c.available(), 1);
}

#[test]
fn a_flush_replayed_or_interleaved_counts_each_debit_and_usage_row_once() {
    let mut db = test_db();
    fund(&db, "cy", 10);
    let mut c = import(&db, "cy");
    for i in 0..3 {
        assert_eq!(c.reserve(&format!("d{i}"), "t", 2, NOW), Reserve::Reserved);
        c.settle(&format!("d{i}"));
    }
    assert!(c.record_usage("u1", "calls", 4, NOW));
    assert!(c.record_usage("u1", "calls", 4, NOW), "a replayed usage row is kept once");
    assert!(c.take("q", 0, 5));
    let planned = c.flush("cy");
    let (writes, _) = planned.statements.split_at(planned.statements.len() - 2);
    run_batch(&mut db, writes);
    run_batch(&mut db, writes);
    // A call reserves while the flush is out; then D1 answers.
    assert_eq!(c.reserve("d3", "t", 1, NOW), Reserve::Reserved);
    let reads = &planned.statements[planned.statements.len() - 2..];
    c.flushed(&planned, number(&read(&db, &reads[0])), &texts(&read(&db, &reads[1])));
    assert_eq!(one(&db, "SELECT balance FROM credit_balances WHERE user_sub = 'cy'"), 4, "6 charged once");
    assert_eq!(one(&db, "SELECT COUNT(*) FROM credit_debits WHERE state = 'settled' AND charged = 1"), 3);
    assert_eq!(one(&db, "SELECT SUM(value) FROM meter_outbox WHERE user_sub = 'cy'"), 4);
    assert_eq!(c.available(), 3, "D1's 4, less the debit reserved during the flush");
    assert!(!c.dirty(), "the open reservation waits for its run, not for D1");
    c.settle("d3");
    flush(&mut db, &mut c, "cy");
    assert_eq!((one(&db, "SELECT balance FROM credit_balances WHERE user_sub = 'cy'"), c.available()), (3, 3));
}

#[test]
fn a_reservation_left_open_settles_after_an_hour_and_ended_windows_go() {
    let mut db = test_db();
    fund(&db, "di", 4);
    let mut c = import(&db, "di");
    assert_eq!(c.reserve("d1", "t", 3, NOW), Reserve::Reserved);
    assert_eq!(c.next_alarm(NOW), Some(NOW + credits::STALE_SECS + 1));
    assert!(c.take("q", NOW - usage::KEEP_SECS - 10, 5));
    c.sweep(NOW);
    assert_eq!(c.usage(0).len(), 1, "a window D1 does not hold yet stays");
    c.sweep(NOW + credits::STALE_SECS + 1);
    assert_eq!(c.next_alarm(NOW), Some(NOW), "the settled debit waits for D1");
    flush(&mut db, &mut c, "di");
    c.sweep(NOW);
    assert!(c.usage(0).is_empty());
    assert_eq!(c.next_alarm(NOW), None);
    assert_eq!(one(&db, "SELECT balance FROM credit_balances WHERE user_sub = 'di'"), 1);
}

#[test]
fn the_object_is_bounded_and_survives_storage() {
    let mut c = CallerCounters { balance: i64::MAX / 2, imported: true, ..CallerCounters::default() };
    for i in 0..MAX_HELD {
        assert_eq!(c.reserve(&format!("d{i}"), "t", 1, NOW), Reserve::Reserved);
    }
    assert_eq!(c.reserve("one-more", "t", 1, NOW), Reserve::Full);
    let stored = serde_json::to_string(&c).expect("json");
    assert_eq!(serde_json::from_str::<CallerCounters>(&stored).expect("back"), c);
}
