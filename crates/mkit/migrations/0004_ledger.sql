-- The entitlement ledger, written only by verified Stripe events (src/billing/ledger.rs).
-- Every row keeps the `event.created` of the last event applied to it, so an older event that
-- arrives late changes nothing.

-- Stripe customer ↔ OAuth subject, from checkout.session.completed (client_reference_id) or
-- metadata.mkit_user on the customer, subscription or invoice.
CREATE TABLE IF NOT EXISTS customers (
  customer_id   TEXT    PRIMARY KEY,
  user_sub      TEXT    NOT NULL,
  bound_created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS customers_user_sub ON customers (user_sub);

-- One row per subscription. `status` is Stripe's, or 'unknown' while only an invoice for it has
-- been seen. `price_lookup_keys` is a JSON array of the items' price lookup keys.
CREATE TABLE IF NOT EXISTS subscriptions (
  id                    TEXT    PRIMARY KEY,
  customer_id           TEXT    NOT NULL,
  status                TEXT    NOT NULL,
  price_lookup_keys     TEXT    NOT NULL DEFAULT '[]',
  current_period_end    INTEGER,
  last_event_created    INTEGER NOT NULL,
  latest_invoice_status TEXT,
  invoice_event_created INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS subscriptions_customer ON subscriptions (customer_id, status);

-- The latest active entitlement summary of a customer: a JSON array of feature lookup keys.
CREATE TABLE IF NOT EXISTS entitlement_summaries (
  customer_id         TEXT    PRIMARY KEY,
  feature_lookup_keys TEXT    NOT NULL,
  last_event_created  INTEGER NOT NULL
);
