-- Machine payments (#32): x402 v2 payments an agent attaches to one tools/call, verified and
-- settled through a facilitator (crates/mkit-billing/src/x402.rs). Additive.
--
-- id: network:asset:payer:nonce, lowercased: the EIP-3009 authorization the chain itself lets pay
-- once. The row is claimed before the facilitator is asked, so a replayed or concurrent copy of a
-- payment runs nothing; it is deleted again only when nothing was settled (verification refused,
-- the facilitator unreachable, or the tool failed), so the payer may use that authorization again.
-- amount: the asset's atomic units as decimal text (wider than SQLite's integers for some assets).
-- state: verifying (claimed: the facilitator's verify, the tool's run and the settle happen under
-- it; one write per paid call fewer than a state per step) -> settled | failed (the facilitator
-- refused to settle: the result was withheld) | unconfirmed (no answer to settle, or the isolate
-- ended mid-call: check the payer's nonce on chain).
CREATE TABLE IF NOT EXISTS machine_payments (
  id         TEXT    PRIMARY KEY,
  user_sub   TEXT    NOT NULL,
  tool       TEXT    NOT NULL,
  network    TEXT    NOT NULL,
  asset      TEXT    NOT NULL,
  amount     TEXT    NOT NULL,
  pay_to     TEXT    NOT NULL,
  payer      TEXT,
  state      TEXT    NOT NULL CHECK (state IN ('verifying', 'settled', 'failed', 'unconfirmed')),
  reason     TEXT,
  tx         TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS machine_payments_user ON machine_payments (user_sub, state);
CREATE INDEX IF NOT EXISTS machine_payments_open ON machine_payments (state, created_at);
