-- Machine clients (#31): the client credentials grant of the MCP extension
-- io.modelcontextprotocol/oauth-client-credentials, for clients the operator registers out of band
-- (`make client-create`, scripts/clients.mjs); never written by a request. Read by
-- crates/mkit-oauth/src/machine_store.rs.
--
-- client_id: mkit_m_ + 24 random base64url characters; it is also the `sub` of the client's tokens,
-- so the ledger grants a machine what it grants a person with that sub.
-- scopes: the scopes it may be granted, space-separated.
-- Exactly one credential: secret_hash (hex SHA-256 of a client secret; the secret itself is shown
-- once and never stored), jwks_uri (a JWK Set URL the client publishes) or jwks (a JWK Set document).
-- revoked_at: set by `make client-revoke`; a revoked client is refused at once.
CREATE TABLE machine_clients (
  client_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL DEFAULT '',
  secret_hash TEXT,
  jwks_uri TEXT,
  jwks TEXT,
  created_at INTEGER NOT NULL,
  rotated_at INTEGER,
  revoked_at INTEGER,
  CHECK ((secret_hash IS NOT NULL) + (jwks_uri IS NOT NULL) + (jwks IS NOT NULL) = 1)
);

-- Client assertions accepted (RFC 7523 §3 `jti`), kept until they expire (at most 5 minutes and
-- 30 seconds ahead), so a replayed assertion finds its jti here and is refused. Only assertions
-- whose signature verified are written; the scheduled sweep removes expired rows.
CREATE TABLE assertion_jtis (
  client_id TEXT NOT NULL,
  jti TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_expiry ON assertion_jtis (expires_at);
