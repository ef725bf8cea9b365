//! Debits on SQLite with the real migrations.

use super::*;
use crate::test_db;
use mkit_kernel::sql::run_batch;
use rusqlite::Connection;

fn fund(c: &Connection, sub: &str, balance: i64) {
    c.execute("INSERT INTO credit_balances (user_sub, balance) VALUES (?1, ?2)", rusqlite::params![sub, balance])
        .expect("fund");
}

fn balance_of(c: &Connection, sub: &str) -> i64 {
    c.query_row(BALANCE_SQL, [sub], |r| r.get(0)).unwrap_or(-1)
}

fn state_of(c: &Connection, id: &str) -> String {
    c.query_row("SELECT state FROM credit_debits WHERE id = ?1", [id], |r| r.get(0)).unwrap_or_default()
}

fn debit<'a>(id: &'a str, credits: u32) -> Debit<'a> {
    Debit { id, sub: "ada", tool: "search", credits }
}

#[test]
fn a_reservation_runs_only_while_the_balance_covers_it() {
    let mut c = test_db();
    fund(&c, "ada", 10);
    let ids: Vec<String> = (0..8).map(|i| format!("d{i}")).collect();
    let reserved: Vec<usize> = ids.iter().map(|id| run_batch(&mut c, &debit(id, 3).reserve(100))[0]).collect();
    assert_eq!(reserved, [1, 1, 1, 0, 0, 0, 0, 0], "3 + 3 + 3 fit in 10, a fourth does not");
    assert_eq!(balance_of(&c, "ada"), 1);
    assert_eq!(run_batch(&mut c, &debit("d9", 1).reserve(100))[0], 1, "the last credit still pays a cheaper call");
    assert_eq!(balance_of(&c, "ada"), 0);
    let unfunded = Debit { sub: "bob", ..debit("b1", 1) };
    assert_eq!(run_batch(&mut c, &unfunded.reserve(100)), [0, 0, 0], "no balance row, no call");
}

#[test]
fn a_replayed_reservation_charges_once() {
    let mut c = test_db();
    fund(&c, "ada", 10);
    assert_eq!(run_batch(&mut c, &debit("d1", 4).reserve(100)), [1, 1, 1]);
    assert_eq!(run_batch(&mut c, &debit("d1", 4).reserve(100)), [0, 0, 0]);
    assert_eq!(balance_of(&c, "ada"), 6);
}

#[test]
fn settle_keeps_the_charge_and_refund_returns_it_once() {
    let mut c = test_db();
    fund(&c, "ada", 10);
    run_batch(&mut c, &debit("ok", 2).reserve(100));
    run_batch(&mut c, &debit("failed", 3).reserve(100));
    assert_eq!(balance_of(&c, "ada"), 5);
    assert_eq!(run_batch(&mut c, &settle("ok", 101)), [1]);
    assert_eq!(run_batch(&mut c, &refund("failed", 101)), [1, 1]);
    assert_eq!(balance_of(&c, "ada"), 8);
    assert_eq!((state_of(&c, "ok"), state_of(&c, "failed")), ("settled".into(), "refunded".into()));
    // Replays, and a refund after a settle, move nothing.
    assert_eq!(run_batch(&mut c, &refund("failed", 102)), [0, 0]);
    assert_eq!(run_batch(&mut c, &refund("ok", 102)), [0, 0]);
    assert_eq!(run_batch(&mut c, &settle("failed", 102)), [0]);
    assert_eq!(run_batch(&mut c, &refund("never-reserved", 102)), [0, 0]);
    assert_eq!(balance_of(&c, "ada"), 8);
}

#[test]
fn a_refused_reservation_leaves_nothing_to_refund() {
    let mut c = test_db();
    fund(&c, "ada", 1);
    assert_eq!(run_batch(&mut c, &debit("big", 5).reserve(100))[0], 0);
    assert_eq!(run_batch(&mut c, &refund("big", 101)), [0, 0]);
    assert_eq!(balance_of(&c, "ada"), 1);
}

#[test]
fn the_sweep_settles_reservations_left_open() {
    let mut c = test_db();
    fund(&c, "ada", 10);
    run_batch(&mut c, &debit("old", 1).reserve(100));
    run_batch(&mut c, &debit("new", 1).reserve(100 + STALE_SECS));
    assert_eq!(run_batch(&mut c, &[settle_stale(101 + STALE_SECS)]), [1]);
    assert_eq!((state_of(&c, "old"), state_of(&c, "new")), ("settled".into(), "reserved".into()));
    assert_eq!(balance_of(&c, "ada"), 8, "the swept one stays charged");
}
