-- SPEC §10: every login attempt on an account, one row per day and (protocol, mechanism, result,
-- client address), counted. Written in the login batches (one transaction a second at most),
-- kept LOGIN_HISTORY_DAYS, at most 10,000 failure rows an account.
CREATE TABLE login_history (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  day        INTEGER NOT NULL,
  protocol   TEXT    NOT NULL,
  mechanism  TEXT    NOT NULL,
  result     TEXT    NOT NULL,
  ip         TEXT    NOT NULL DEFAULT '',
  -- TLS (SMTP) or the browser (web), as last seen.
  client     TEXT    NOT NULL DEFAULT '',
  first_at   INTEGER NOT NULL,
  last_at    INTEGER NOT NULL,
  count      INTEGER NOT NULL,
  PRIMARY KEY (account_id, day, protocol, mechanism, result, ip)
) WITHOUT ROWID;
CREATE INDEX login_history_recent ON login_history (account_id, last_at);
CREATE INDEX login_history_age ON login_history (last_at);

-- AUDIT_RETENTION_DAYS prunes by time.
CREATE INDEX audit_log_at ON audit_log (at);
