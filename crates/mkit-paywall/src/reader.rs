//! The ledger as the paywall reads and writes it: the Workers binding answers it from D1 (and,
//! where one is bound, the caller's counters object), tests from SQLite or a stand-in.

use crate::counted::CounterObject;
use mkit_billing::StoreError;
use mkit_kernel::sql::Statement;

/// Reads a caller's entitlement keys (`ledger::ENTITLEMENTS_SQL`) and keeps the free-quota
/// counters (`billing::usage`).
#[allow(async_fn_in_trait)]
pub trait LedgerReader {
    /// The caller's keys, possibly from a read replica a little behind the primary
    /// (`reads_replicas`): enough to let a paid call run, never alone to refuse one.
    async fn entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError>;
    /// The caller's keys at the primary, where every webhook writes: what a refusal is confirmed
    /// against, so a payment counts at once and an outage still fails closed.
    async fn primary_entitlement_keys(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        self.entitlement_keys(sub).await
    }
    /// Whether `entitlement_keys` may be answered by a replica (then refusals are confirmed).
    fn reads_replicas(&self) -> bool {
        false
    }
    /// Runs `statements` as one batch (one transaction): the rows each changed.
    async fn batch(&self, _statements: Vec<Statement>) -> Result<Vec<usize>, StoreError> {
        Err(StoreError::Unbound)
    }
    /// Runs one statement: the rows it changed.
    async fn count(&self, statement: Statement) -> Result<usize, StoreError> {
        self.batch(vec![statement]).await.map(|changed| changed.first().copied().unwrap_or(0))
    }
    /// The integer in the first column of the first row `statement` selects, if any.
    async fn number(&self, _statement: Statement) -> Result<Option<i64>, StoreError> {
        Err(StoreError::Unbound)
    }
    /// The caller's keys as this isolate read them moments ago, if still fresh: enough to let a
    /// paid call run, never to refuse one.
    fn recent_keys(&self, _sub: &str) -> Option<Vec<String>> {
        None
    }
    /// A fresh unique id (a debit's, a meter event's); `None` when no randomness is at hand.
    fn new_id(&self) -> Option<String> {
        None
    }
    /// The counters `statement` (`usage::usage`) selects: (quota, window start, used).
    async fn counters(&self, _statement: Statement) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Err(StoreError::Unbound)
    }
    /// The caller's keys and the rows each of `reads` selects, in one round trip a replica may
    /// answer (what `whoami` shows); `Unbound` where the ledger cannot batch reads.
    async fn read_together(&self, _sub: &str, _reads: Vec<Statement>) -> Result<Together, StoreError> {
        Err(StoreError::Unbound)
    }
    /// The caller's own counters object, where one is bound: then free calls, credits and
    /// metered usage are counted there, and reach D1 after the response.
    fn counter_object(&self) -> Option<&dyn CounterObject> {
        None
    }
}

/// What `LedgerReader::read_together` read: the keys, and each statement's rows.
pub type Together = (Vec<String>, Vec<Vec<serde_json::Value>>);
