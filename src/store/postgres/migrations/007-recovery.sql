-- SPEC §16: a mailbox's confirmed recovery address, and the links mailed for it: `confirm` (a new
-- address reads its mail), `reset` (a forgotten password). Links are kept as the SHA-256 of their
-- random token, bound to the password version they were made under, and deleted when used.
CREATE TABLE recovery_addresses (
  account_id   BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  address      TEXT    NOT NULL,
  confirmed_at BIGINT  NOT NULL
);

CREATE TABLE recovery_links (
  token_hash       TEXT    PRIMARY KEY,
  account_id       BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  purpose          TEXT    NOT NULL CHECK (purpose IN ('confirm', 'reset')),
  address          TEXT    NOT NULL,
  password_version INTEGER NOT NULL,
  created_at       BIGINT  NOT NULL,
  expires_at       BIGINT  NOT NULL
);
CREATE INDEX recovery_links_account ON recovery_links (account_id, purpose);
CREATE INDEX recovery_links_expiry ON recovery_links (expires_at);
