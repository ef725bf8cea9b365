-- Prepaid credits (src/billing/credits.rs) and the metered-usage outbox. Additive: apply it before
-- deploying the code that uses it.
--
-- A balance moves only with a row: a grant (a paid Checkout Session or invoice, once per paying
-- object) adds, a debit reserves before a tool runs and is settled or refunded after. Every
-- statement that moves a balance is guarded by the row's own state, so no replay moves it twice.

-- One row per paying object (cs_…, in_…). `user_sub` is NULL until its customer is bound;
-- `applied` is 1 once the credits are in the user's balance.
CREATE TABLE IF NOT EXISTS credit_grants (
  id            TEXT    PRIMARY KEY,
  customer_id   TEXT,
  user_sub      TEXT,
  credits       INTEGER NOT NULL CHECK (credits > 0),
  event_id      TEXT    NOT NULL,
  event_created INTEGER NOT NULL,
  applied       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS credit_grants_pending ON credit_grants (customer_id, applied);

CREATE TABLE IF NOT EXISTS credit_balances (
  user_sub TEXT    PRIMARY KEY,
  balance  INTEGER NOT NULL CHECK (balance >= 0)
);

-- One row per paid call: reserved before the run, then settled (charged) or refunded.
-- `charged` is 1 once the balance was debited, so a replayed reservation debits nothing.
CREATE TABLE IF NOT EXISTS credit_debits (
  id         TEXT    PRIMARY KEY,
  user_sub   TEXT    NOT NULL,
  tool       TEXT    NOT NULL,
  credits    INTEGER NOT NULL CHECK (credits > 0),
  state      TEXT    NOT NULL CHECK (state IN ('reserved', 'settled', 'refunded')),
  charged    INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS credit_debits_user ON credit_debits (user_sub, created_at);
CREATE INDEX IF NOT EXISTS credit_debits_reserved ON credit_debits (state, created_at);

-- Metered calls waiting for Stripe's meter events API: one row per call, `id` is the meter
-- event's `identifier` (Stripe dedupes on it). `sent_at` NULL means pending.
CREATE TABLE IF NOT EXISTS meter_outbox (
  id          TEXT    PRIMARY KEY,
  user_sub    TEXT    NOT NULL,
  event_name  TEXT    NOT NULL,
  value       INTEGER NOT NULL CHECK (value > 0),
  created_at  INTEGER NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_try_at INTEGER NOT NULL,
  sent_at     INTEGER,
  failure     TEXT
);
CREATE INDEX IF NOT EXISTS meter_outbox_pending ON meter_outbox (sent_at, next_try_at);
