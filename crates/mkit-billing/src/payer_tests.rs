//! A payer's held payments, flushed to the real `machine_payments` schema on SQLite.

use super::*;
use crate::test_db;
use crate::x402::network;
use mkit_kernel::sql::run_batch;
use rusqlite::Connection;

const NOW: i64 = 1_796_053_388;
const PAYER: &str = "0x857b06519E91e3A54538791bDbb0E22373e36b66";

fn offer() -> MachineOffer {
    MachineOffer {
        network: network("eip155:84532").expect("base sepolia"),
        pay_to: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C".into(),
        credit_price: 10_000,
        facilitator: "https://facilitator.example".into(),
        facilitator_auth: None,
        record_in_stripe: false,
    }
}

fn row(nonce: u8, top_up: bool) -> PaymentRow {
    let key = format!("eip155:84532:usdc:{}:{nonce:064x}", PAYER.to_ascii_lowercase());
    let payment = Payment { key: &key, sub: "user_1", tool: "search", payer: PAYER };
    payment.row(&offer(), 3, Some((NOW + 60) as u64), top_up)
}

fn flush(c: &mut Connection, p: &mut PayerPayments) {
    let f = p.flush();
    run_batch(c, &f.statements);
    p.flushed(&f);
}

fn state(c: &Connection, key: &str) -> Option<(String, Option<String>)> {
    c.query_row("SELECT state, tx FROM machine_payments WHERE id = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?))).ok()
}

fn balance(c: &Connection) -> i64 {
    c.query_row("SELECT balance FROM credit_balances WHERE user_sub = 'user_1'", [], |r| r.get(0)).unwrap_or(0)
}

#[test]
fn a_payment_is_claimed_once_and_a_released_one_may_pay_again() {
    let mut p = PayerPayments::default();
    assert_eq!(p.claim(row(1, false), NOW), Claim::Claimed);
    assert_eq!(p.claim(row(1, false), NOW), Claim::Used, "a replay or a concurrent copy");
    assert_eq!(p.claim(row(2, false), NOW), Claim::Claimed, "another nonce is another payment");
    p.release(&row(1, false).key);
    assert_eq!(p.claim(row(1, false), NOW), Claim::Claimed, "nothing settled: the authorization pays again");
    p.settle(&row(1, false).key, "0xabc", NOW);
    p.release(&row(1, false).key);
    assert_eq!(p.claim(row(1, false), NOW), Claim::Used, "a settled payment is never released");
}

#[test]
fn each_outcome_reaches_d1_once_and_moves_only_forward() {
    let mut c = test_db();
    let mut p = PayerPayments::default();
    let key = row(1, false).key;
    p.claim(row(1, false), NOW);
    flush(&mut c, &mut p);
    assert_eq!(state(&c, &key), Some(("verifying".into(), None)));
    assert!(!p.dirty(), "D1 has it");
    p.settle(&key, "0xabc", NOW + 5);
    assert!(p.dirty());
    let f = p.flush();
    run_batch(&mut c, &f.statements);
    run_batch(&mut c, &f.statements);
    p.flushed(&f);
    assert_eq!(state(&c, &key), Some(("settled".into(), Some("0xabc".into()))));
    let paid: Vec<String> = {
        let s = x402::paid("user_1");
        let mut q = c.prepare(s.sql).expect("prepare");
        q.query_map(["user_1"], |r| r.get(0)).expect("query").map(|r| r.expect("row")).collect()
    };
    assert_eq!(paid, vec!["30000".to_owned()], "the caller's paid total reads it");
    // A stale copy of an earlier flush cannot move it back.
    let mut back = PayerPayments::default();
    back.claim(row(1, false), NOW);
    run_batch(&mut c, &back.flush().statements);
    assert_eq!(state(&c, &key), Some(("settled".into(), Some("0xabc".into()))));
}

#[test]
fn a_release_after_a_flush_deletes_the_claimed_row() {
    let mut c = test_db();
    let mut p = PayerPayments::default();
    let key = row(1, false).key;
    p.claim(row(1, false), NOW);
    flush(&mut c, &mut p);
    p.release(&key);
    assert!(p.dirty());
    flush(&mut c, &mut p);
    assert_eq!(state(&c, &key), None);
    assert!(!p.dirty());
    // Released while a flush carries its claim (the object serves requests while it waits on
    // D1): the row that flush writes goes at the next one.
    let key = row(2, false).key;
    p.claim(row(2, false), NOW);
    let carrying = p.flush();
    p.release(&key);
    run_batch(&mut c, &carrying.statements);
    p.flushed(&carrying);
    assert_eq!(state(&c, &key).map(|s| s.0), Some("verifying".into()));
    assert!(p.dirty());
    flush(&mut c, &mut p);
    assert_eq!(state(&c, &key), None);
    assert!(!p.dirty());
}

#[test]
fn a_settled_top_up_grants_its_credits_once() {
    let mut c = test_db();
    let mut p = PayerPayments::default();
    let key = row(1, true).key;
    p.claim(row(1, true), NOW);
    p.settle(&key, "0xabc", NOW + 5);
    let f = p.flush();
    run_batch(&mut c, &f.statements);
    run_batch(&mut c, &f.statements);
    p.flushed(&f);
    assert_eq!(balance(&c), 3, "three credits, once");
    assert_eq!(state(&c, &key), Some(("settled".into(), Some("0xabc".into()))));
    // An unsettled top-up grants nothing.
    p.claim(row(2, true), NOW);
    p.close(&row(2, true).key, Unsettled::Failed, "insufficient_funds", NOW + 5);
    flush(&mut c, &mut p);
    assert_eq!(balance(&c), 3);
    assert_eq!(state(&c, &row(2, true).key).map(|s| s.0), Some("failed".into()));
}

#[test]
fn the_object_outcome_overrides_the_d1_sweeps_abandoned_mark() {
    let mut c = test_db();
    let mut p = PayerPayments::default();
    let key = row(1, false).key;
    p.claim(row(1, false), NOW);
    flush(&mut c, &mut p);
    run_batch(&mut c, &[x402::unconfirm_stale(NOW + STALE_SECS + 10)]);
    assert_eq!(state(&c, &key).map(|s| s.0), Some("unconfirmed".into()));
    p.settle(&key, "0xabc", NOW + STALE_SECS + 20);
    flush(&mut c, &mut p);
    assert_eq!(state(&c, &key), Some(("settled".into(), Some("0xabc".into()))));
}

#[test]
fn claims_are_kept_while_a_copy_could_run_then_forgotten() {
    let mut c = test_db();
    let mut p = PayerPayments::default();
    let (settled, failed, open) = (row(1, false).key, row(2, false).key, row(3, false).key);
    let mut long = row(2, false);
    long.valid_before = Some((NOW + 3_000) as u64);
    p.claim(row(1, false), NOW);
    p.claim(long.clone(), NOW);
    p.claim(row(3, false), NOW);
    p.settle(&settled, "0xabc", NOW);
    p.close(&failed, Unsettled::Failed, "insufficient_funds", NOW);
    p.sweep(NOW + SETTLED_HOLD_SECS + 1);
    assert_eq!(p.len(), 3, "nothing is forgotten before D1 has it");
    flush(&mut c, &mut p);
    p.sweep(NOW + SETTLED_HOLD_SECS + 1);
    assert_eq!(p.claim(row(1, false), NOW), Claim::Claimed, "settled and on chain: /verify refuses a copy now");
    p.release(&settled);
    assert_eq!(p.claim(long.clone(), NOW), Claim::Used, "failed: kept until validBefore has passed");
    // An hour on: the failed one's authorization expired; the open one turned stale, so it is
    // marked unconfirmed and kept until D1 has it.
    p.sweep(NOW + STALE_SECS + 1);
    assert_eq!(p.claim(long, NOW), Claim::Claimed);
    p.release(&failed);
    assert!(p.dirty());
    flush(&mut c, &mut p);
    assert_eq!(state(&c, &open).map(|s| s.0), Some("unconfirmed".into()));
    assert_eq!(p.claim(row(3, false), NOW), Claim::Used);
}

#[test]
fn a_claim_is_held_at_most_max_hold_secs_and_the_object_is_bounded() {
    let mut p = PayerPayments::default();
    let mut forever = row(1, false);
    forever.valid_before = Some(u64::MAX);
    p.claim(forever, NOW);
    p.close(&row(1, false).key, Unsettled::Failed, "x", NOW);
    p.flushed(&p.flush());
    assert_eq!(p.next_alarm(NOW), Some(NOW + MAX_HOLD_SECS + 1));
    p.sweep(NOW + MAX_HOLD_SECS + 1);
    assert!(p.is_empty());
    for n in 0..MAX_HELD {
        let mut r = row(0, false);
        r.key = format!("k{n}");
        assert_eq!(p.claim(r, NOW), Claim::Claimed);
    }
    assert_eq!(p.claim(row(1, false), NOW), Claim::Full, "fails closed");
}

#[test]
fn the_alarm_wakes_for_d1_then_for_a_stale_claim() {
    let mut p = PayerPayments::default();
    assert_eq!(p.next_alarm(NOW), None);
    p.claim(row(1, false), NOW);
    assert_eq!(p.next_alarm(NOW), Some(NOW));
    p.flushed(&p.flush());
    assert_eq!(p.next_alarm(NOW), Some(NOW + STALE_SECS + 1));
}

/// `import_read(key)` run on SQLite, its rows as D1 answers them (JSON objects).
fn d1_claims(c: &Connection, p: &PayerPayments, key: &str) -> Option<Vec<serde_json::Value>> {
    let read = p.import_read(key, NOW)?;
    let mut q = c.prepare(read.sql).expect("prepare");
    let rows = q.query_map(rusqlite::params_from_iter(mkit_kernel::sql::sqlite_values(&read.params)), |r| {
        Ok(serde_json::json!({ "id": r.get::<_, String>(0)?, "state": r.get::<_, String>(1)?,
            "created_at": r.get::<_, i64>(2)?, "updated_at": r.get::<_, i64>(3)? }))
    });
    Some(rows.expect("query").map(|r| r.expect("row")).collect())
}

/// Payment `nonce` claimed the D1 way (before the object existed), at `at`.
fn claimed_in_d1(c: &mut Connection, nonce: u8, payer: &str, at: i64) -> String {
    let key = format!("eip155:84532:usdc:{}:{nonce:064x}", payer.to_ascii_lowercase());
    let payment = Payment { key: &key, sub: "user_1", tool: "search", payer };
    run_batch(c, &[payment.claim(&offer(), 3, at)]);
    key
}

#[test]
fn claims_d1_held_before_the_object_are_read_in_once_and_refused() {
    let mut c = test_db();
    let open = claimed_in_d1(&mut c, 1, PAYER, NOW - 5);
    let settled = claimed_in_d1(&mut c, 2, PAYER, NOW - 100);
    run_batch(&mut c, &[x402::settled(&settled, "0xabc", NOW - 90)]);
    let old = claimed_in_d1(&mut c, 3, PAYER, NOW - 5_000);
    run_batch(&mut c, &[x402::settled(&old, "0xdef", NOW - 4_990)]);
    let failed = claimed_in_d1(&mut c, 4, PAYER, NOW - 86_400);
    run_batch(&mut c, &[x402::unsettled(&failed, Unsettled::Failed, "insufficient_funds", NOW - 86_390)]);
    let released = claimed_in_d1(&mut c, 5, PAYER, NOW - 5);
    run_batch(&mut c, &[x402::release(&released)]);
    let other = claimed_in_d1(&mut c, 6, "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", NOW - 5);
    // A payer whose keys sort after this one's: the range ends where the prefix does.
    let after = claimed_in_d1(&mut c, 7, "0xfFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF", NOW - 5);

    let mut p = PayerPayments::default();
    let rows = d1_claims(&c, &p, &row(9, false).key).expect("nothing read in yet");
    let mut ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [open.as_str(), settled.as_str(), failed.as_str()], "this payer's, while a copy could run");
    p.import(&row(9, false).key, &rows, NOW);
    assert!(d1_claims(&c, &p, &row(9, false).key).is_none(), "read in once");
    let claim = |p: &mut PayerPayments, key: &str| {
        let mut r = row(0, false);
        r.key = key.to_owned();
        p.claim(r, NOW)
    };
    assert_eq!(claim(&mut p, &open), Claim::Used, "claimed in D1 a moment ago, maybe still running");
    assert_eq!(claim(&mut p, &settled), Claim::Used, "settled within the hold");
    assert_eq!(claim(&mut p, &failed), Claim::Used, "failed: kept, its validBefore unknown");
    assert_eq!(claim(&mut p, &old), Claim::Claimed, "settled long ago: the chain refuses a copy");
    assert_eq!(claim(&mut p, &released), Claim::Claimed, "released: nothing was paid");
    assert_eq!(claim(&mut p, &other), Claim::Claimed, "another payer's object holds that one");
    assert_eq!(claim(&mut p, &after), Claim::Claimed);
    // What was read in is never written back, and is forgotten when its hold ends.
    assert!(p.flush().statements.iter().all(|s| !matches!(&s.params[0], SqlValue::Text(k) if *k == open)));
    assert_eq!(p.next_alarm(NOW), Some(NOW), "the object's own claims wait for D1");
    p.flushed(&p.flush());
    p.sweep(NOW + SETTLED_HOLD_SECS);
    assert_eq!(claim(&mut p, &settled), Claim::Claimed, "its settled hold has passed");
    p.sweep(NOW + MAX_HOLD_SECS);
    assert_eq!(claim(&mut p, &open), Claim::Claimed, "the longest hold has passed");
}
