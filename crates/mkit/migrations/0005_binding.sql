-- Binding only what the merchant signed (src/billing/ledger/planner.rs). Additive.

-- Why an event was recorded as ignored without being applied: 'livemode_mismatch' (the other
-- Stripe mode) or 'unexpected_account' (a Connect account other than MKIT_STRIPE_ACCOUNT). NULL
-- for applied events and for types the ledger does not use.
ALTER TABLE processed_events ADD COLUMN reason TEXT;

-- The user a subscription's own metadata.mkit_user names: its price lookup keys go to this user,
-- else to the user bound to its customer. The first user named keeps it.
ALTER TABLE subscriptions ADD COLUMN user_sub TEXT;
CREATE INDEX IF NOT EXISTS subscriptions_user_sub ON subscriptions (user_sub) WHERE user_sub IS NOT NULL;

-- Claims the ledger refused: an event named `claimed_user` for a customer (subscription_id NULL)
-- or a subscription already bound to `bound_user`. Nothing else changed. `source` is where the
-- claim came from: checkout_metadata, checkout_reference, customer_metadata,
-- subscription_metadata or invoice_metadata. `event_created` is Stripe's (s), `recorded_at` mKit's (ms).
CREATE TABLE IF NOT EXISTS binding_conflicts (
  id              INTEGER PRIMARY KEY,
  customer_id     TEXT    NOT NULL,
  subscription_id TEXT,
  bound_user      TEXT    NOT NULL,
  claimed_user    TEXT    NOT NULL,
  source          TEXT    NOT NULL,
  event_id        TEXT    NOT NULL,
  event_created   INTEGER NOT NULL,
  recorded_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS binding_conflicts_customer ON binding_conflicts (customer_id, id);
