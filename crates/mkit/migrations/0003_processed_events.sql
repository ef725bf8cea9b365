-- Every verified Stripe event mKit has processed, once: retries and duplicates are answered from
-- here. `outcome` is 'applied' or 'ignored' (an event type the ledger does not use).
CREATE TABLE IF NOT EXISTS processed_events (
  id           TEXT    PRIMARY KEY,
  type         TEXT    NOT NULL,
  created      INTEGER NOT NULL,
  outcome      TEXT    NOT NULL,
  processed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_events_processed_at ON processed_events (processed_at);
