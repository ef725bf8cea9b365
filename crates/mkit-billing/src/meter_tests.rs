//! The outbox on SQLite with every migration: rows due, the customer each bills, and what each
//! answer does to a row.

use super::*;
use crate::test_db;
use mkit_kernel::sql::run_batch;
use rusqlite::Connection;

const NOW: i64 = 1_800_000_000;

fn due(c: &Connection, now: i64) -> Vec<Pending> {
    let s = pending(now);
    let mut q = c.prepare(s.sql).expect("prepare");
    let rows = q
        .query_map(rusqlite::params_from_iter(mkit_kernel::sql::sqlite_values(&s.params)), |r| {
            Ok(Pending {
                id: r.get(0)?,
                event_name: r.get(1)?,
                value: r.get(2)?,
                created_at: r.get(3)?,
                attempts: r.get(4)?,
                customer_id: r.get(5)?,
            })
        })
        .expect("query");
    rows.flatten().collect()
}

fn record(c: &mut Connection, id: &str, sub: &str, at: i64) {
    run_batch(c, &[Usage { id, sub, event_name: "units", value: 3 }.record(at)]);
}

#[test]
fn a_row_bills_the_live_subscription_customer_else_the_bound_one_else_waits() {
    let mut c = test_db();
    c.execute_batch(
        "INSERT INTO customers VALUES ('cus_old', 'ada', 1), ('cus_bob', 'bob', 1);
         INSERT INTO subscriptions (id, customer_id, status, last_event_created, user_sub)
           VALUES ('sub_1', 'cus_new', 'active', 5, 'ada'), ('sub_2', 'cus_gone', 'canceled', 9, 'ada');",
    )
    .expect("fixtures");
    record(&mut c, "r_ada", "ada", NOW - 10);
    record(&mut c, "r_bob", "bob", NOW - 5);
    record(&mut c, "r_eve", "eve", NOW);
    let rows = due(&c, NOW);
    let customers: Vec<_> = rows.iter().map(|r| (r.id.as_str(), r.customer_id.as_deref())).collect();
    assert_eq!(customers, [("r_ada", Some("cus_new")), ("r_bob", Some("cus_bob")), ("r_eve", None)], "oldest first");
    assert_eq!(rows[2].precheck(NOW), Some(Outcome::Retry), "no customer yet: wait");
    assert_eq!(rows[0].precheck(NOW), None);
}

#[test]
fn each_answer_moves_the_row_once() {
    let mut c = test_db();
    record(&mut c, "r1", "ada", NOW);
    let row = &due(&c, NOW)[0];
    assert_eq!(Outcome::of_answer(None), Outcome::Retry);
    assert_eq!(Outcome::of_answer(Some((500, b"{}"))), Outcome::Retry);
    assert_eq!(Outcome::of_answer(Some((429, b""))), Outcome::Retry);
    run_batch(&mut c, &[row.record(&Outcome::Retry, NOW)]);
    assert!(due(&c, NOW).is_empty(), "backing off");
    let again = &due(&c, NOW + 60)[0];
    assert_eq!(again.attempts, 1);
    run_batch(&mut c, &[again.record(&Outcome::Retry, NOW + 60)]);
    assert!(due(&c, NOW + 119).is_empty() && due(&c, NOW + 180).len() == 1, "then two minutes");
    let sent = Outcome::of_answer(Some((200, br#"{"object":"billing.meter_event"}"#)));
    assert_eq!(run_batch(&mut c, &[again.record(&sent, NOW + 200)]), [1]);
    assert_eq!(run_batch(&mut c, &[again.record(&sent, NOW + 201)]), [0], "sent once");
    assert!(due(&c, NOW + 10_000).is_empty());
}

#[test]
fn a_refused_or_too_old_row_is_flagged_and_the_backlog_shows_it() {
    let mut c = test_db();
    record(&mut c, "old", "ada", NOW - MAX_AGE_SECS - 1);
    record(&mut c, "bad", "ada", NOW - 100);
    record(&mut c, "ok", "ada", NOW - 50);
    let rows = due(&c, NOW);
    assert_eq!(rows[0].precheck(NOW), Some(Outcome::Flag("too_old".into())));
    let refused =
        Outcome::of_answer(Some((400, br#"{"error":{"code":"resource_missing","message":"No such customer"}}"#)));
    assert_eq!(refused, Outcome::Flag("rejected:resource_missing".into()));
    assert_eq!(Outcome::of_answer(Some((400, b"<html>"))), Outcome::Flag("rejected:status_400".into()));
    let evil = Outcome::of_answer(Some((400, br#"{"error":{"code":"x\"};DROP"}}"#)));
    assert_eq!(evil.as_str(), "rejected:xDROP");
    run_batch(&mut c, &[rows[0].record(&Outcome::Flag("too_old".into()), NOW), rows[1].record(&refused, NOW)]);
    let (pending, oldest, flagged): (i64, i64, i64) =
        c.query_row(BACKLOG_SQL, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).expect("backlog");
    assert_eq!((pending, oldest, flagged), (1, NOW - 50, 2));
    assert_eq!(due(&c, NOW).len(), 1, "flagged rows are not retried");
}

#[test]
fn backoff_is_capped_and_sent_rows_are_swept_after_forty_days() {
    let mut c = test_db();
    record(&mut c, "r1", "ada", NOW);
    let mut row = due(&c, NOW).remove(0);
    row.attempts = 50;
    assert_eq!(row.backoff(), 6 * 3_600);
    row.attempts = -3;
    assert_eq!(row.backoff(), 60);
    run_batch(&mut c, &[row.record(&Outcome::Sent, NOW)]);
    assert_eq!(run_batch(&mut c, &[sweep(NOW + 39 * 86_400)]), [0]);
    assert_eq!(run_batch(&mut c, &[sweep(NOW + 41 * 86_400)]), [1]);
}
