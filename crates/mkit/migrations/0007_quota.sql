-- Free quotas (src/quota.rs, src/billing/usage.rs): how many calls each caller has used of each
-- quota in each calendar window. Additive: apply it before deploying the code that uses it.
-- A call takes one with a conditional upsert (never past the quota, however many run at once)
-- and a failed run gives it back. The hourly sweep deletes windows over 40 days old.
CREATE TABLE IF NOT EXISTS quota_usage (
  user_sub TEXT NOT NULL,
  quota_key TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  used INTEGER NOT NULL CHECK (used >= 0),
  PRIMARY KEY (user_sub, quota_key, window_start)
);
CREATE INDEX IF NOT EXISTS quota_usage_window ON quota_usage (window_start);
