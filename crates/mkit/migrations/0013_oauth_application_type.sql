-- The application_type a client stated at registration (SEP-837, MCP 2026-07-28): native or web,
-- NULL when it stated none. Shown on the consent page. Additive: apply it before deploying the
-- code that reads it; a row registered before it reads as unstated.
ALTER TABLE oauth_clients ADD COLUMN application_type TEXT;
