-- mKit D1 schema, version 1: the bookkeeping table that later migrations build on.
-- Applied with `wrangler d1 migrations apply DB` (local: --local; remote: --remote).
CREATE TABLE IF NOT EXISTS mkit_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT OR IGNORE INTO mkit_meta (key, value) VALUES ('schema', '1');
