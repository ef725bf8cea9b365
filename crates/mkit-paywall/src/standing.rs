//! Everything `whoami` and the usage resource show, read in one round trip where the ledger
//! batches reads (`LedgerReader::read_together`), else one read each.

use serde_json::Value;

use super::access::Standing;
use super::{standing, unavailable, CounterObject, Entitlements, LedgerReader, Paywall};
use futures_util::future::join;
use mkit_billing::usage::{counter_row as counter, first_number};
use mkit_billing::{credits, usage, StoreError};
use mkit_kernel::sql::Statement;
use mkit_mcp::ToolError;

impl<R: LedgerReader> Paywall<'_, R> {
    /// The caller's keys, quota standing, balance and the rows `extra` selects, together.
    pub(crate) async fn read_standing(&self, extra: Option<Statement>) -> Result<Standing, ToolError> {
        if let Some(object) = self.reader.counter_object() {
            return self.read_standing_with(object, extra).await;
        }
        let since = self.quotas.iter().map(|(_, q)| q.window.start(self.now_secs)).min();
        let (counted, has_extra) = (since.is_some(), extra.is_some());
        let reads: Vec<Statement> = since
            .map(|since| usage::usage(self.sub, since))
            .into_iter()
            .chain(self.credits.then(|| credits::balance(self.sub)))
            .chain(extra)
            .collect();
        match self.reader.read_together(self.sub, reads).await {
            Ok((keys, rows)) => Ok(self.standing_of(keys, rows, counted, has_extra)),
            Err(StoreError::Unbound) => {
                let (keys, quotas, credits) =
                    (self.keys().await?, self.quota_usage().await?, self.credit_balance().await?);
                Ok(Standing { keys, quotas, credits, extra: None })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The keys (and `extra`) from D1, the counters and balance from the caller's object, asked
    /// at once: two round trips, both near the caller.
    async fn read_standing_with(
        &self,
        object: &dyn CounterObject,
        extra: Option<Statement>,
    ) -> Result<Standing, ToolError> {
        let since = self.quotas.iter().map(|(_, q)| q.window.start(self.now_secs)).min();
        let has_extra = extra.is_some();
        let counted = async {
            match since.is_some() || self.credits {
                true => object.standing(since.unwrap_or(self.now_secs), self.credits).await.map(Some),
                false => Ok(None),
            }
        };
        let (together, counted) = join(self.reader.read_together(self.sub, extra.into_iter().collect()), counted).await;
        let (counters, balance) = counted.map_err(unavailable)?.unwrap_or_default();
        let (keys, rows, has_extra) = match together {
            Ok((keys, rows)) => (keys, rows, has_extra),
            Err(StoreError::Unbound) => (self.keys().await?, Vec::new(), false),
            Err(e) => return Err(unavailable(e)),
        };
        let _ = self.loaded.set(Ok(keys.clone()));
        Ok(Standing {
            keys,
            quotas: self.quotas.iter().map(|(key, q)| standing(key, q, &counters, self.now_secs)).collect(),
            credits: self.credits.then_some(balance),
            extra: has_extra.then(|| rows.into_iter().next().unwrap_or_default()),
        })
    }

    /// The standing from the rows read together, in the order `read_standing` asked for them.
    fn standing_of(&self, keys: Vec<String>, rows: Vec<Vec<Value>>, counted: bool, has_extra: bool) -> Standing {
        let mut rows = rows.into_iter();
        let counters: Vec<(String, i64, i64)> =
            if counted { rows.next().unwrap_or_default().iter().filter_map(counter).collect() } else { Vec::new() };
        let quotas = self.quotas.iter().map(|(key, q)| standing(key, q, &counters, self.now_secs)).collect();
        let credits = self.credits.then(|| rows.next().unwrap_or_default().first().and_then(first_number).unwrap_or(0));
        let extra = has_extra.then(|| rows.next().unwrap_or_default());
        let _ = self.loaded.set(Ok(keys.clone()));
        Standing { keys, quotas, credits, extra }
    }
}
