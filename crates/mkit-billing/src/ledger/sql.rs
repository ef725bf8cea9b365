//! The ledger's SQL (tables in `migrations/0004_ledger.sql` and `0005_binding.sql`). Every write
//! is guarded by "this event id is not yet in `processed_events`" (`?1` is always the event id),
//! so a redelivery changes nothing, conflicts included.

use super::SqlValue;

/// The caller's entitlements in one indexed query: price lookup keys of active or trialing
/// subscriptions, and feature lookup keys of the latest entitlement summaries.
///
/// - A subscription's keys go to its own user (`subscriptions.user_sub`, from its
///   `metadata.mkit_user`) when it names one, else to the user bound to its customer; summaries
///   go to the user bound to their customer.
/// - **Lapse:** a subscription grants only while `now < current_period_end + grace`, so access
///   ends even if webhooks stop. A NULL `current_period_end` (events from before the field, or a
///   shape that lacks it) keeps granting on the status alone: refusing would revoke paying users
///   whenever Stripe omits the field, and the status still ends access when an event says so.
///
/// Parameters: [`entitlements_params`] (`?1` sub, `?2` now in seconds, `?3` grace in seconds).
/// Indexes: `subscriptions_user_sub`, `customers_user_sub`, `subscriptions_customer`, the
/// summaries' primary key.
pub const ENTITLEMENTS_SQL: &str = "\
SELECT j.value AS key FROM subscriptions s \
  JOIN json_each(s.price_lookup_keys) j \
 WHERE s.user_sub = ?1 AND s.status IN ('active', 'trialing') \
   AND (s.current_period_end IS NULL OR ?2 < s.current_period_end + ?3) AND j.type = 'text' \
UNION \
SELECT j.value AS key FROM customers c \
  JOIN subscriptions s ON s.customer_id = c.customer_id AND s.status IN ('active', 'trialing') \
  JOIN json_each(s.price_lookup_keys) j \
 WHERE c.user_sub = ?1 AND s.user_sub IS NULL \
   AND (s.current_period_end IS NULL OR ?2 < s.current_period_end + ?3) AND j.type = 'text' \
UNION \
SELECT j.value AS key FROM customers c \
  JOIN entitlement_summaries e ON e.customer_id = c.customer_id \
  JOIN json_each(e.feature_lookup_keys) j \
 WHERE c.user_sub = ?1 AND j.type = 'text' \
ORDER BY key";

/// The parameters of [`ENTITLEMENTS_SQL`], in order.
pub fn entitlements_params(sub: &str, now_secs: i64, grace_secs: i64) -> Vec<SqlValue> {
    vec![SqlValue::Text(sub.to_owned()), SqlValue::Int(now_secs), SqlValue::Int(grace_secs)]
}

/// First binding wins: a bound customer is never rebound (a different claim is a conflict).
pub(super) const BIND_CUSTOMER: &str = "\
INSERT INTO customers (customer_id, user_sub, bound_created) \
SELECT ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (customer_id) DO NOTHING";

/// A claim naming another user than the customer's: recorded, nothing else.
pub(super) const CUSTOMER_CONFLICT: &str = "\
INSERT INTO binding_conflicts (customer_id, bound_user, claimed_user, source, event_id, event_created, recorded_at) \
SELECT c.customer_id, c.user_sub, ?3, ?4, ?1, ?5, ?6 FROM customers c \
 WHERE c.customer_id = ?2 AND c.user_sub <> ?3 \
   AND NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1)";

/// A claim naming another user than the subscription's own: recorded, nothing else.
pub(super) const SUBSCRIPTION_CONFLICT: &str = "\
INSERT INTO binding_conflicts (customer_id, subscription_id, bound_user, claimed_user, source, event_id, event_created, recorded_at) \
SELECT s.customer_id, s.id, s.user_sub, ?3, ?4, ?1, ?5, ?6 FROM subscriptions s \
 WHERE s.id = ?2 AND s.user_sub <> ?3 \
   AND NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1)";

/// The subscription's state follows its latest event, except `user_sub`: the first user named
/// keeps it.
pub(super) const UPSERT_SUBSCRIPTION: &str = "\
INSERT INTO subscriptions (id, customer_id, status, price_lookup_keys, current_period_end, last_event_created, user_sub) \
SELECT ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status, \
  price_lookup_keys = excluded.price_lookup_keys, current_period_end = excluded.current_period_end, \
  last_event_created = excluded.last_event_created, user_sub = COALESCE(subscriptions.user_sub, excluded.user_sub) \
WHERE excluded.last_event_created >= subscriptions.last_event_created \
  AND subscriptions.status NOT IN ('canceled', 'incomplete_expired')";

/// An invoice records its outcome on the subscription; a subscription first seen through an
/// invoice is kept as 'unknown' (grants nothing) until its own event arrives.
pub(super) const RECORD_INVOICE: &str = "\
INSERT INTO subscriptions (id, customer_id, status, last_event_created, latest_invoice_status, invoice_event_created, user_sub) \
SELECT ?2, ?3, 'unknown', 0, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (id) DO UPDATE SET latest_invoice_status = excluded.latest_invoice_status, \
  invoice_event_created = excluded.invoice_event_created, user_sub = COALESCE(subscriptions.user_sub, excluded.user_sub) \
WHERE excluded.invoice_event_created >= subscriptions.invoice_event_created";

pub(super) const UPSERT_SUMMARY: &str = "\
INSERT INTO entitlement_summaries (customer_id, feature_lookup_keys, last_event_created) \
SELECT ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (customer_id) DO UPDATE SET feature_lookup_keys = excluded.feature_lookup_keys, \
  last_event_created = excluded.last_event_created \
WHERE excluded.last_event_created >= entitlement_summaries.last_event_created";

/// Always last: its `changes` is 0 exactly when the event was already processed.
pub(super) const RECORD_EVENT: &str = "\
INSERT OR IGNORE INTO processed_events (id, type, created, outcome, processed_at, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// A credit grant, once per paying object (`?2`, a cs_ or in_ id). `?4` is the user the paying
/// object names, else NULL: the customer's user then takes it when it is bound.
pub(super) const RECORD_GRANT: &str = "\
INSERT INTO credit_grants (id, customer_id, user_sub, credits, event_id, event_created) \
SELECT ?2, ?3, ?4, ?5, ?1, ?6 WHERE NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
ON CONFLICT (id) DO NOTHING";

/// Adds the unapplied grants of customer `?2` (or the grant `?3`) to their users' balances:
/// the grant's own user, else the customer's. A grant with neither waits.
pub(super) const APPLY_GRANTS: &str = "\
INSERT INTO credit_balances (user_sub, balance) \
SELECT COALESCE(g.user_sub, c.user_sub), SUM(g.credits) FROM credit_grants g \
  LEFT JOIN customers c ON c.customer_id = g.customer_id \
 WHERE (g.customer_id = ?2 OR g.id = ?3) AND g.applied = 0 AND COALESCE(g.user_sub, c.user_sub) IS NOT NULL \
   AND NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1) \
 GROUP BY COALESCE(g.user_sub, c.user_sub) \
ON CONFLICT (user_sub) DO UPDATE SET balance = balance + excluded.balance";

/// Marks what [`APPLY_GRANTS`] just added, naming the user it went to.
pub(super) const MARK_GRANTS: &str = "\
UPDATE credit_grants SET applied = 1, \
  user_sub = COALESCE(user_sub, (SELECT c.user_sub FROM customers c WHERE c.customer_id = credit_grants.customer_id)) \
 WHERE (customer_id = ?2 OR id = ?3) AND applied = 0 \
   AND COALESCE(user_sub, (SELECT c.user_sub FROM customers c WHERE c.customer_id = credit_grants.customer_id)) IS NOT NULL \
   AND NOT EXISTS (SELECT 1 FROM processed_events WHERE id = ?1)";
