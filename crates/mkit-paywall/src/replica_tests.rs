//! The paywall against a ledger with a read replica (issue #30).

use super::*;

/// A ledger with a read replica behind its primary, counting the reads at each.
struct Replicated<'c> {
    replica: Result<&'static [&'static str], StoreError>,
    primary: Result<&'static [&'static str], StoreError>,
    reads: &'c Cell<(usize, usize)>,
}

impl LedgerReader for Replicated<'_> {
    async fn entitlement_keys(&self, _sub: &str) -> Result<Vec<String>, StoreError> {
        let (r, p) = self.reads.get();
        self.reads.set((r + 1, p));
        self.replica.map(|k| k.iter().map(|s| (*s).to_owned()).collect())
    }

    async fn primary_entitlement_keys(&self, _sub: &str) -> Result<Vec<String>, StoreError> {
        let (r, p) = self.reads.get();
        self.reads.set((r, p + 1));
        self.primary.map(|k| k.iter().map(|s| (*s).to_owned()).collect())
    }

    fn reads_replicas(&self) -> bool {
        true
    }
}

/// Issue #30: a replica's "yes" lets the call run with no read at the primary; its "no" (or its
/// failure) is confirmed at the primary, so a payment a replica has not seen yet counts at once,
/// and only the primary's "no" refuses; with both down the call fails closed.
#[test]
fn a_replicas_yes_runs_and_its_no_is_confirmed_at_the_primary() {
    let run = |replica, primary| {
        let reads = Cell::new((0, 0));
        let p = Paywall::new(Replicated { replica, primary, reads: &reads }, "u1", Offer::default());
        let first = block_on(p.require("text_stats", "pro"));
        let again = block_on(p.require("text_stats", "pro"));
        assert_eq!(first.is_ok(), again.is_ok());
        (first, reads.get())
    };
    let (r, reads) = run(Ok(&["pro"]), Ok(&["pro"]));
    assert_eq!((r.is_ok(), reads), (true, (1, 0)), "the replica's yes is enough");
    let (r, reads) = run(Ok(&[]), Ok(&["pro"]));
    assert_eq!((r.is_ok(), reads), (true, (1, 1)), "just paid: the replica is behind, the primary grants");
    let (r, reads) = run(Ok(&[]), Ok(&[]));
    assert!(matches!(r, Err(Denial::PaymentRequired { .. })), "refused only once the primary says no");
    assert_eq!(reads, (1, 1), "each read once per request");
    let (r, reads) = run(Err(StoreError::Query), Ok(&["pro"]));
    assert_eq!((r.is_ok(), reads), (true, (1, 1)), "a replica down: the primary answers");
    let (r, _) = run(Err(StoreError::Query), Err(StoreError::Query));
    assert!(matches!(r, Err(Denial::Unavailable(_))), "both down: fail closed");
}
