-- Registrations are bounded (issue 28): a client registered through /oauth/register is marked
-- when it is first granted a code; one never granted within a day is swept, and at most
-- MAX_PENDING_REGISTRATIONS (src/oauth/store.rs) wait for a first grant at any time.
ALTER TABLE oauth_clients ADD COLUMN granted_at INTEGER;
CREATE INDEX IF NOT EXISTS oauth_clients_pending ON oauth_clients (created_at) WHERE granted_at IS NULL;
