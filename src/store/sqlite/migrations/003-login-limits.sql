-- The login throttle's counters (rate-limiter-flexible's RateLimiterSQLite layout): failures per
-- login name and client address, wrong-password fingerprints, trusted clients and known browsers.
-- Kept in the database so that every process on it shares them and a restart forgets nothing.
-- `expire` is in milliseconds; expired rows are pruned once a minute.
CREATE TABLE login_limits (
  key    TEXT    PRIMARY KEY,
  points INTEGER NOT NULL DEFAULT 0,
  expire INTEGER
);
CREATE INDEX login_limits_expire ON login_limits (expire);
