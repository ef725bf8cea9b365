-- Each sign-in (refresh family) records which installation it belongs to and when it began
-- (#28 items 9 and 12; src/oauth/store.rs).
--
-- redirect_uri: the redirect URI its code was issued to. A Client ID Metadata Document's client_id
-- is shared by every installation of that client, so a grant is told apart by (client_id,
-- redirect_uri), never by client_id alone. Families started before this migration have NULL,
-- which matches no installation.
--
-- signed_in_at: when the user signed in at the upstream provider and consented. A refresh is
-- refused once the family is older than MKIT_AUTH_SIGNIN_DAYS. Families started before this
-- migration lived 90 days from their start, so their start is expires_at less 90 days.
ALTER TABLE oauth_families ADD COLUMN redirect_uri TEXT;
ALTER TABLE oauth_families ADD COLUMN signed_in_at INTEGER NOT NULL DEFAULT 0;
UPDATE oauth_families SET signed_in_at = expires_at - 7776000 WHERE signed_in_at = 0;
