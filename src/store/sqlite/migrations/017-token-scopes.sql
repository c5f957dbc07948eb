-- SPEC §18: what an API token may do. Defaults are what every token could do before: all its
-- admin's domains, reads and writes, no expiry, from any address. The last use's address too.
ALTER TABLE api_tokens ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN domains TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN allow_ips TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_ip TEXT;
