-- The authorization server's state (MKIT_AUTH_SERVER=on; src/oauth/store.rs). Codes and refresh
-- tokens are stored only as SHA-256 digests. Rows past their expiry are swept by the scheduled
-- handler; nothing else deletes.
CREATE TABLE IF NOT EXISTS oauth_clients (
  client_id     TEXT    PRIMARY KEY,
  client_name   TEXT,
  redirect_uris TEXT    NOT NULL,   -- JSON array of strings
  refresh       INTEGER NOT NULL,   -- 1 when the client may use refresh tokens
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_codes (
  code_hash      TEXT    PRIMARY KEY,
  grant_json     TEXT    NOT NULL,
  redirect_uri   TEXT    NOT NULL,
  code_challenge TEXT    NOT NULL,
  family         TEXT    NOT NULL,  -- the refresh family its redemption starts (revoked on a replay)
  expires_at     INTEGER NOT NULL,
  used           INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth_families (
  family     TEXT    PRIMARY KEY,
  client_id  TEXT    NOT NULL,
  sub        TEXT    NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth_refresh (
  token_hash TEXT    PRIMARY KEY,
  family     TEXT    NOT NULL,
  grant_json TEXT    NOT NULL,
  expires_at INTEGER NOT NULL,
  rotated    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oauth_codes_expires ON oauth_codes (expires_at);
CREATE INDEX IF NOT EXISTS oauth_families_expires ON oauth_families (expires_at);
CREATE INDEX IF NOT EXISTS oauth_refresh_family ON oauth_refresh (family);
