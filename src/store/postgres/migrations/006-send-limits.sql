-- SPEC §15: sending limits. Overrides of domains and accounts (NULL: the level above's, 0: no
-- limit), and each account's recipients in one-minute slots, kept for a day.
CREATE TABLE domain_send_limits (
  domain_id      BIGINT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
  per_hour       INTEGER CHECK (per_hour >= 0),
  per_day        INTEGER CHECK (per_day >= 0),
  max_recipients INTEGER CHECK (max_recipients >= 0)
);

CREATE TABLE account_send_limits (
  account_id     BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  per_hour       INTEGER CHECK (per_hour >= 0),
  per_day        INTEGER CHECK (per_day >= 0),
  max_recipients INTEGER CHECK (max_recipients >= 0)
);

CREATE TABLE send_counts (
  account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  minute     BIGINT NOT NULL,
  count      INTEGER NOT NULL,
  PRIMARY KEY (account_id, minute)
);
CREATE INDEX send_counts_minute ON send_counts (minute);

-- The last time each login reached each window's limit (period): the first time in a period is told.
CREATE TABLE send_limit_reached (
  account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  period     TEXT    NOT NULL CHECK (period IN ('hour', 'day')),
  at         BIGINT NOT NULL,
  PRIMARY KEY (account_id, period)
);
CREATE INDEX send_limit_reached_at ON send_limit_reached (at);
