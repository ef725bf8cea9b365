//! Recording settled machine payments in Stripe: the rows chosen, the answer read, the record
//! kept, on SQLite with the real migrations.

use super::*;
use crate::test_db;
use crate::x402::{network, settled, MachineOffer, Payment};
use mkit_kernel::sql::{run_batch, sqlite_values};
use rusqlite::Connection;

const DEPOSIT: &str = "0x5FF8d73e8bccd3701c9aef78389f3b9771172b5c";
const BASE: &str = "eip155:8453";

fn offer(pay_to: &str) -> MachineOffer {
    MachineOffer {
        network: network(BASE).expect("base"),
        pay_to: pay_to.into(),
        credit_price: 10_000,
        facilitator: "https://api.cdp.coinbase.com/platform/v2/x402".into(),
        facilitator_auth: None,
        record_in_stripe: false,
    }
}

fn pay(c: &mut Connection, key: &str, pay_to: &str, tx: Option<&str>, at: i64) {
    let p = Payment { key, sub: "agent", tool: "search", payer: "0x857b06519E91e3A54538791bDbb0E22373e36b66" };
    run_batch(c, &[p.claim(&offer(pay_to), 3, at)]);
    if let Some(tx) = tx {
        run_batch(c, &[settled(key, tx, at)]);
    }
}

fn due(c: &Connection) -> Vec<Unrecorded> {
    let s = unrecorded(BASE, &DEPOSIT.to_lowercase());
    let mut stmt = c.prepare(s.sql).expect("sql");
    let rows = stmt.query_map(rusqlite::params_from_iter(sqlite_values(&s.params)), |r| {
        Ok(Unrecorded { id: r.get(0)?, amount: r.get(1)?, tx: r.get(2)?, user_sub: r.get(3)?, tool: r.get(4)? })
    });
    rows.expect("query").flatten().collect()
}

#[test]
fn settled_payments_to_the_deposit_address_are_recorded_once() {
    let mut c = test_db();
    pay(&mut c, "p1", DEPOSIT, Some("0xtx1"), 100);
    pay(&mut c, "p2", DEPOSIT, Some("0xtx2"), 101);
    pay(&mut c, "open", DEPOSIT, None, 102);
    pay(&mut c, "elsewhere", "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Some("0xtx3"), 103);
    let rows = due(&c);
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["p1", "p2"],
        "settled, to Stripe's address, oldest first"
    );
    assert_eq!((rows[0].amount.as_str(), rows[0].tx.as_str(), rows[0].tool.as_str()), ("30000", "0xtx1", "search"));

    let ok = Outcome::of_answer(Some((200, br#"{"id":"pi_123","object":"payment_intent"}"#)));
    assert_eq!(ok, Outcome::Recorded("pi_123".into()));
    let record = ok.record("p1").expect("a record");
    assert_eq!(run_batch(&mut c, std::slice::from_ref(&record)), [1]);
    assert_eq!(run_batch(&mut c, &[record]), [0], "once");
    let no = Outcome::of_answer(Some((400, br#"{"error":{"code":"transaction_not_found","message":"x"}}"#)));
    assert_eq!(no, Outcome::Refused("transaction_not_found".into()));
    run_batch(&mut c, &[no.record("p2").expect("a record")]);
    assert!(due(&c).is_empty(), "recorded or refused: neither is sent again");
}

#[test]
fn stripe_answers_that_may_change_are_retried_and_others_kept() {
    for answer in
        [None, Some((429, &b"{}"[..])), Some((503, &b""[..])), Some((409, &b"{}"[..])), Some((200, &b"{}"[..]))]
    {
        assert_eq!(Outcome::of_answer(answer), Outcome::Retry, "{answer:?}");
    }
    assert_eq!(Outcome::Retry.record("p"), None);
    assert_eq!(Outcome::of_answer(Some((402, b"not json"))), Outcome::Refused("stripe_402".into()));
    let odd = br#"{"error":{"code":"a b\u0000<script>"}}"#;
    assert_eq!(Outcome::of_answer(Some((400, odd))), Outcome::Refused("abscript".into()), "letters, digits and _ only");
}

#[test]
fn amounts_are_whole_cents_and_the_network_is_base() {
    assert_eq!(cents("10000"), Some(1));
    assert_eq!(cents("1250000"), Some(125));
    for odd in ["0", "5000", "10001", "-10000", "x", ""] {
        assert_eq!(cents(odd), None, "{odd}");
    }
    assert_eq!((stripe_network("eip155:8453"), stripe_network("eip155:84532")), (Some("base"), Some("base")));
    assert_eq!(stripe_network("eip155:137"), None, "Stripe takes no Polygon deposits");
}
