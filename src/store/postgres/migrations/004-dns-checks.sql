-- SPEC §14 (SQLite's 012): the last `Check DNS` of each domain; the domain list shows its problem count.
CREATE TABLE dns_checks (
  domain_id  BIGINT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
  checked_at BIGINT  NOT NULL,
  problems   INTEGER NOT NULL,
  results    TEXT    NOT NULL
);
